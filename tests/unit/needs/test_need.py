"""The Need aggregate: raising a need under the plan's rules, and filling its positions."""

import datetime as dt
from typing import Any

import pytest

from services.needs.domain.commands import AmendNeed, RaiseNeed
from services.needs.domain.need import Need, NeedStatus
from shared.contract.events import NeedFilled, NeedRaised, NeedReopened
from shared.contract.rules import RuleCode
from shared.contract.types import UnitRef
from shared.seedwork.errors import DomainError
from tests.samples import need_body

TODAY = dt.date(2024, 8, 5)
FILLED_ON = dt.date(2024, 8, 20)
REOPENED_ON = dt.date(2024, 9, 10)


def raise_need_cmd(**changes: Any) -> RaiseNeed:
    """Sở Y tế, 2 positions, 6 months from 2024-09-01, raised 2024-08-01; change one thing."""
    return RaiseNeed.model_validate(need_body(**changes))


def raised(**changes: Any) -> Need:
    return Need.raise_need(raise_need_cmd(**changes), TODAY)


def refusal(cmd: RaiseNeed, today: dt.date = TODAY) -> RuleCode:
    with pytest.raises(DomainError) as caught:
        Need.raise_need(cmd, today)
    return caught.value.rule


def only_event(need: Need) -> NeedRaised:
    [event] = need.collect()
    assert isinstance(event, NeedRaised)
    return event


# ----- raising -----------------------------------------------------------------------------------


def test_a_raised_need_records_one_need_raised_and_stands_open() -> None:
    need = raised()
    event = only_event(need)
    assert event.need_id == need.need_id
    assert (event.sector, event.positions, event.min_rank) == ("HEALTH", 2, "PHO_TRUONG_PHONG")
    assert (event.desired_start, event.duration_months) == (dt.date(2024, 9, 1), 6)
    assert need.status is NeedStatus.OPEN
    assert need.positions_filled == 0
    assert need.version == 1


def test_a_raised_need_names_its_host_unit_as_on_the_raising_date() -> None:
    event = only_event(raised())
    assert event.host_unit == UnitRef(code="SO_Y_TE", name="Sở Y tế")


def test_a_need_raised_without_a_date_is_raised_on_the_given_today() -> None:
    event = only_event(Need.raise_need(raise_need_cmd(raised_on=None), TODAY))
    assert event.raised_on == TODAY


def test_a_need_raised_with_a_date_keeps_that_date() -> None:
    event = only_event(Need.raise_need(raise_need_cmd(raised_on="2024-07-15"), TODAY))
    assert event.raised_on == dt.date(2024, 7, 15)


def test_each_raised_need_gets_its_own_id() -> None:
    assert raised().need_id != raised().need_id


@pytest.mark.parametrize(
    "changes",
    [
        {"host_unit": "SO_KHONG_TON_TAI"},
        {"sector": "SPACE_EXPLORATION"},
        {"min_rank": "TONG_BI_THU"},
    ],
    ids=["unknown unit", "unknown sector", "unknown rank"],
)
def test_a_need_naming_an_unknown_code_is_refused(changes: dict[str, str]) -> None:
    assert refusal(raise_need_cmd(**changes)) is RuleCode.UNKNOWN_CODE


def test_a_need_for_a_department_merged_away_before_the_raising_date_is_refused() -> None:
    # Sở Kế hoạch và Đầu tư merged into Sở Tài chính; its last day was 2025-02-28.
    cmd = raise_need_cmd(host_unit="SO_KE_HOACH_DAU_TU", raised_on="2025-03-01")
    assert refusal(cmd) is RuleCode.UNKNOWN_CODE


def test_a_need_for_a_department_on_its_last_day_is_accepted() -> None:
    event = only_event(
        Need.raise_need(
            raise_need_cmd(
                host_unit="SO_KE_HOACH_DAU_TU", sector="PLANNING_INVESTMENT", raised_on="2025-02-28"
            ),
            TODAY,
        )
    )
    assert event.host_unit.code == "SO_KE_HOACH_DAU_TU"


def test_a_need_is_checked_against_the_units_valid_today_when_no_date_is_given() -> None:
    # Sở Y tế of Quảng Nam ended with the province on 2025-06-30.
    assert refusal(raise_need_cmd(raised_on=None), today=dt.date(2025, 7, 1)) is (
        RuleCode.UNKNOWN_CODE
    )


def test_a_need_asking_for_a_rank_not_yet_in_use_on_the_raising_date_is_refused() -> None:
    # Commune vice-chairs exist from 2025-07-01 (two-tier local government).
    assert refusal(raise_need_cmd(min_rank="PHO_CHU_TICH_UBND_XA")) is RuleCode.UNKNOWN_CODE


def test_a_need_for_seven_months_in_phase_2024_2025_is_refused() -> None:
    assert refusal(raise_need_cmd(duration_months=7)) is RuleCode.DURATION_OVER_CAP


def test_a_need_for_six_months_in_phase_2024_2025_is_accepted() -> None:
    assert only_event(raised(duration_months=6)).duration_months == 6


def test_a_need_for_seven_months_in_phase_2026_2030_is_refused() -> None:
    cmd = raise_need_cmd(
        host_unit="DN_SO_Y_TE",
        desired_start="2026-03-01",
        raised_on="2026-01-15",
        duration_months=7,
    )
    assert refusal(cmd) is RuleCode.DURATION_OVER_CAP


def test_a_need_over_the_cap_is_refused_naming_the_cap_in_months() -> None:
    with pytest.raises(DomainError) as caught:
        Need.raise_need(raise_need_cmd(duration_months=7), TODAY)
    assert caught.value.params == {"cap_months": 6}


def test_a_need_hosted_by_a_reporting_only_area_is_refused() -> None:
    assert refusal(raise_need_cmd(host_unit="KV_NAM_GIANG")) is RuleCode.UNKNOWN_CODE


def test_moving_the_raising_date_past_the_host_units_last_day_is_refused() -> None:
    need = Need.raise_need(
        raise_need_cmd(
            host_unit="SO_KE_HOACH_DAU_TU",
            sector="PLANNING_INVESTMENT",
            raised_on="2025-02-01",
            desired_start="2025-03-01",
        ),
        TODAY,
    )
    with pytest.raises(DomainError) as caught:
        need.amend(AmendNeed(raised_on=dt.date(2025, 4, 1)), TODAY)
    assert caught.value.rule is RuleCode.UNKNOWN_CODE


@pytest.mark.parametrize(
    ("host", "kind"),
    [("NAM_GIANG", "a district"), ("UBND_TINH", "the leadership"), ("QUANG_NAM", "the province")],
)
def test_only_a_provincial_department_raises_a_need(host: str, kind: str) -> None:
    with pytest.raises(DomainError) as caught:
        Need.raise_need(raise_need_cmd(host_unit=host), TODAY)
    assert caught.value.rule is RuleCode.HOST_NOT_ELIGIBLE, kind
    assert "department" in caught.value.detail


def test_a_need_in_a_sector_its_department_does_not_cover_is_refused_saying_which_it_does() -> None:
    with pytest.raises(DomainError) as caught:
        Need.raise_need(raise_need_cmd(sector="EDUCATION"), TODAY)  # Sở Y tế
    assert caught.value.rule is RuleCode.SECTOR_NOT_COVERED
    assert "HEALTH" in caught.value.detail


def test_the_2025_reform_moved_sectors_between_departments_on_its_date() -> None:
    """Labour and social affairs went to Health (and others) on 2025-03-01."""
    before = raise_need_cmd(sector="LABOUR_SOCIAL", raised_on="2025-02-28")
    after = raise_need_cmd(
        sector="LABOUR_SOCIAL", raised_on="2025-03-01", desired_start="2025-04-01"
    )
    assert refusal(before) is RuleCode.SECTOR_NOT_COVERED
    assert only_event(Need.raise_need(after, TODAY)).sector == "LABOUR_SOCIAL"


def test_amending_a_need_into_a_sector_its_host_does_not_cover_is_refused() -> None:
    need = raised()
    with pytest.raises(DomainError) as caught:
        need.amend(AmendNeed(sector="FINANCE"), TODAY)
    assert caught.value.rule is RuleCode.SECTOR_NOT_COVERED
    need.amend(AmendNeed(host_unit="SO_TAI_CHINH", sector="FINANCE"), TODAY)  # both: accepted


# ----- filling -----------------------------------------------------------------------------------


def test_a_need_is_not_filled_while_a_position_is_free() -> None:
    need = raised(positions=2)
    need.collect()
    need.record_filled_positions(1, FILLED_ON)
    assert need.collect() == []
    assert need.status is NeedStatus.OPEN
    assert need.positions_filled == 1
    assert need.version == 1


def test_a_need_is_filled_when_its_last_position_is_taken() -> None:
    need = raised(positions=2)
    need.collect()
    need.record_filled_positions(1, FILLED_ON)
    need.record_filled_positions(2, FILLED_ON)
    assert need.collect() == [NeedFilled(need_id=need.need_id, filled_on=FILLED_ON, positions=2)]
    assert need.status is NeedStatus.FILLED
    assert need.positions_filled == 2
    assert need.version == 2


def test_a_need_of_one_position_is_filled_by_its_first_secondment() -> None:
    need = raised(positions=1)
    need.record_filled_positions(1, FILLED_ON)
    assert [type(e) for e in need.collect()] == [NeedRaised, NeedFilled]


def test_a_need_is_filled_only_once() -> None:
    need = raised(positions=2)
    need.record_filled_positions(2, FILLED_ON)
    need.record_filled_positions(2, FILLED_ON + dt.timedelta(days=1))
    need.record_filled_positions(3, FILLED_ON + dt.timedelta(days=2))
    events = need.collect()
    assert [type(e) for e in events] == [NeedRaised, NeedFilled]
    assert need.version == 2


def test_collected_events_are_handed_over_once() -> None:
    need = raised()
    assert len(need.collect()) == 1
    assert need.collect() == []


def test_a_filled_need_reopens_when_a_cancellation_gives_a_position_back() -> None:
    need = raised(positions=2)
    need.record_filled_positions(2, FILLED_ON)
    need.collect()
    need.record_filled_positions(1, REOPENED_ON)
    assert need.collect() == [
        NeedReopened(need_id=need.need_id, reopened_on=REOPENED_ON, positions_filled=1)
    ]
    assert need.status is NeedStatus.OPEN
    need.record_filled_positions(2, REOPENED_ON)
    assert [type(e) for e in need.collect()] == [NeedFilled]
    assert (need.status, need.version) == (NeedStatus.FILLED, 4)


@pytest.mark.parametrize(
    "counts",
    [(), (1,), (1, 2), (2, 1), (2, 1, 2)],
    ids=["untouched", "partly filled", "filled", "reopened", "filled again"],
)
def test_a_need_rehydrated_from_its_events_is_the_need_that_recorded_them(
    counts: tuple[int, ...],
) -> None:
    need = raised(positions=2)
    for count in counts:
        need.record_filled_positions(count, FILLED_ON)
    history = list(need.pending)

    again = Need.rehydrate(history)

    assert again.need_id == need.need_id
    assert again.raised == need.raised
    assert again.status is need.status
    assert again.version == need.version == len(history)
    assert again.pending == []


def test_a_rehydrated_open_need_is_filled_by_its_last_position() -> None:
    need = raised(positions=2)
    need.record_filled_positions(1, FILLED_ON)
    again = Need.rehydrate(need.collect())
    again.record_filled_positions(2, FILLED_ON)
    assert again.collect() == [NeedFilled(need_id=need.need_id, filled_on=FILLED_ON, positions=2)]
    assert again.version == 2
