"""The plan's rules as the Secondment aggregate applies them: one refusal, one rule code.

Every test starts from an eligible official (Cơ Tu, deputy head of division, from Nam Giang)
seconded to an open need of Sở Y tế for exactly six months, 2024-09-01 → 2025-02-28, decided
on 2024-08-20, and changes one thing.
"""

import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import Sequence
from importlib import resources
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from services.placement.domain import rules
from services.placement.domain import secondment as secondment_module
from services.placement.domain.commands import (
    EndSecondment,
    ExtendSecondment,
    OfficialIn,
    SecondOfficial,
)
from services.placement.domain.secondment import Secondment, SecondmentStatus
from services.placement.domain.views import NeedSnapshot, OfficialSpell
from shared.contract.events import OfficerSeconded, Official, SecondmentEnded
from shared.contract.rules import RuleCode
from shared.contract.types import Decision, UnitRef
from shared.phases import DEFAULT_PHASES, Phase, add_months, last_allowed_day, phase_of
from shared.reference import ReferenceData
from shared.reference.models import Ethnicity, Rank, Sector, Unit
from shared.seedwork.errors import DomainError

D = dt.date
DECIDED_ON = D(2024, 8, 20)
START = D(2024, 9, 1)
SIX_MONTHS_END = D(2025, 2, 28)
ENDING_DECIDED_ON = D(2025, 2, 20)
REFORM = D(2025, 7, 1)
"""Districts were abolished on this day; Nam Giang's officials then belong to communes."""
NEED_ID = uuid.UUID("0b0e5a52-0000-4000-8000-000000000001")
HEALTH_DEPARTMENT = UnitRef(code="SO_Y_TE", name="Sở Y tế")


# ----- inputs ------------------------------------------------------------------------------------


def official(**changes: Any) -> OfficialIn:
    """An eligible official; keyword arguments replace fields."""
    fields: dict[str, Any] = {
        "official_id": "NG-0001",
        "full_name": "Alăng Thị Hoa",
        "gender": "F",
        "birth_date": D(1985, 3, 2),
        "ethnicity": "CO_TU",
        "service_category": "CIVIL_SERVANT",
        "position_rank": "PHO_TRUONG_PHONG",
        "home_unit": "NAM_GIANG",
    }
    return OfficialIn.model_validate(fields | changes)


def need(**changes: Any) -> NeedSnapshot:
    """An open need of Sở Y tế for two deputy heads of division, none taken yet."""
    base = NeedSnapshot(
        need_id=str(NEED_ID),
        host_unit=HEALTH_DEPARTMENT,
        sector="HEALTH",
        positions=2,
        min_rank="PHO_TRUONG_PHONG",
        status="OPEN",
        taken=0,
    )
    return dataclasses.replace(base, **changes)


def spell(start: dt.date, end: dt.date, *, active: bool = True) -> OfficialSpell:
    """Another secondment of the same official."""
    return OfficialSpell(secondment_id="other", start_date=start, end_date=end, active=active)


def decision(on: dt.date = DECIDED_ON, number: str = "123/QĐ-UBND") -> Decision:
    return Decision(number=number, date=on, signed_by="Chủ tịch UBND")


def second_cmd(
    who: OfficialIn | None = None,
    *,
    start: dt.date = START,
    end: dt.date = SIX_MONTHS_END,
    decided_on: dt.date = DECIDED_ON,
) -> SecondOfficial:
    return SecondOfficial(
        need_id=NEED_ID,
        official=who or official(),
        start_date=start,
        planned_end_date=end,
        decision=decision(decided_on),
    )


def ending(
    ended_on: dt.date = SIX_MONTHS_END, *, decided_on: dt.date = ENDING_DECIDED_ON
) -> EndSecondment:
    return EndSecondment(
        ended_on=ended_on,
        reason="COMPLETED",
        rating="GOOD",
        remarks="Hoàn thành tốt nhiệm vụ được giao",
        decision=decision(decided_on, number="45/QĐ-UBND"),
    )


def second(
    cmd: SecondOfficial | None = None,
    *,
    to: NeedSnapshot | None = None,
    spells: Sequence[OfficialSpell] = (),
) -> Secondment:
    return Secondment.second(cmd or second_cmd(), to or need(), spells, DEFAULT_PHASES)


def refusal(
    cmd: SecondOfficial | None = None,
    *,
    to: NeedSnapshot | None = None,
    spells: Sequence[OfficialSpell] = (),
) -> DomainError:
    with pytest.raises(DomainError) as caught:
        second(cmd, to=to, spells=spells)
    return caught.value


def seconded_event(secondment: Secondment) -> OfficerSeconded:
    [event] = secondment.collect()
    assert isinstance(event, OfficerSeconded)
    return event


def ending_refusal(secondment: Secondment, cmd: EndSecondment) -> RuleCode:
    with pytest.raises(DomainError) as caught:
        secondment.end(cmd)
    return caught.value.rule


# ----- an accepted secondment --------------------------------------------------------------------


def test_an_eligible_official_is_seconded_with_exactly_one_officer_seconded() -> None:
    secondment = second()
    event = seconded_event(secondment)
    assert event.secondment_id == secondment.secondment_id
    assert event.need_id == NEED_ID
    assert (event.start_date, event.planned_end_date) == (START, SIX_MONTHS_END)
    assert event.decision == decision()
    assert secondment.status is SecondmentStatus.ACTIVE
    assert secondment.version == 1


def test_the_event_describes_the_official_with_the_home_unit_by_code_and_name() -> None:
    event = seconded_event(second())
    assert event.official == Official(
        official_id="NG-0001",
        full_name="Alăng Thị Hoa",
        gender="F",
        birth_date=D(1985, 3, 2),
        ethnicity="CO_TU",
        service_category="CIVIL_SERVANT",
        position_rank="PHO_TRUONG_PHONG",
        home_unit=UnitRef(code="NAM_GIANG", name="Huyện Nam Giang"),
    )


def test_the_secondment_goes_to_the_needs_host_unit_and_sector() -> None:
    agriculture = UnitRef(code="SO_NONG_NGHIEP_PTNT", name="Sở Nông nghiệp và Phát triển nông thôn")
    event = seconded_event(second(to=need(host_unit=agriculture, sector="AGRICULTURE")))
    assert (event.host_unit, event.sector) == (agriculture, "AGRICULTURE")


RENAMED_ON = D(2024, 8, 15)
NEW_NAME = "Huyện Nam Giang (tên mới)"


@pytest.fixture
def nam_giang_renamed() -> ReferenceData:
    """The packaged catalog, but Nam Giang changed its name on RENAMED_ON."""
    docs = {
        name: json.loads(
            resources.files("shared.reference").joinpath("data", f"{name}.json").read_text("utf-8")
        )
        for name in ("units", "ranks", "sectors", "ethnicities")
    }
    for item in docs["units"]["items"]:
        if item["code"] == "NAM_GIANG":
            item["changes"] = [{"on": RENAMED_ON.isoformat(), "name": NEW_NAME}]
    return ReferenceData(
        units=TypeAdapter(list[Unit]).validate_python(docs["units"]["items"]),
        ranks=TypeAdapter(list[Rank]).validate_python(docs["ranks"]["items"]),
        sectors=TypeAdapter(list[Sector]).validate_python(docs["sectors"]["items"]),
        ethnicities=TypeAdapter(list[Ethnicity]).validate_python(docs["ethnicities"]["items"]),
    )


@pytest.mark.parametrize(
    ("decided_on", "name"),
    [(RENAMED_ON - dt.timedelta(days=1), "Huyện Nam Giang"), (RENAMED_ON, NEW_NAME)],
    ids=["decided before the renaming", "decided on the renaming"],
)
def test_the_home_unit_is_named_as_on_the_decision_date(
    monkeypatch: pytest.MonkeyPatch,
    nam_giang_renamed: ReferenceData,
    decided_on: dt.date,
    name: str,
) -> None:
    monkeypatch.setattr(rules, "reference_data", lambda: nam_giang_renamed)
    monkeypatch.setattr(secondment_module, "reference_data", lambda: nam_giang_renamed)
    # The start (2024-09-01) is after the renaming either way: the decision date decides.
    event = seconded_event(second(second_cmd(decided_on=decided_on)))
    assert event.official.home_unit == UnitRef(code="NAM_GIANG", name=name)


# ----- OFFICIAL_NOT_ETHNIC_MINORITY --------------------------------------------------------------


def test_an_official_of_the_kinh_majority_is_refused() -> None:
    cmd = second_cmd(official(ethnicity="KINH"))
    assert refusal(cmd).rule is RuleCode.OFFICIAL_NOT_ETHNIC_MINORITY


@pytest.mark.parametrize("ethnicity", ["CO_TU", "XO_DANG", "GIE_TRIENG", "CO", "TAY"])
def test_an_official_of_an_ethnic_minority_is_accepted(ethnicity: str) -> None:
    event = seconded_event(second(second_cmd(official(ethnicity=ethnicity))))
    assert event.official.ethnicity == ethnicity


# ----- RANK_BELOW_MINIMUM ------------------------------------------------------------------------


def test_an_official_without_a_leadership_post_is_refused() -> None:
    refused = refusal(second_cmd(official(position_rank="CHUYEN_VIEN")))
    assert refused.rule is RuleCode.RANK_BELOW_MINIMUM
    assert refused.params["minimum"] == "PHO_TRUONG_PHONG"


def test_an_official_below_the_needs_minimum_rank_is_refused() -> None:
    refused = refusal(to=need(min_rank="TRUONG_PHONG"))
    assert refused.rule is RuleCode.RANK_BELOW_MINIMUM
    assert refused.params["minimum"] == "TRUONG_PHONG"


def test_a_need_whose_minimum_rank_this_rank_table_lacks_is_refused_not_a_crash() -> None:
    refused = refusal(to=need(min_rank="HANG_KHONG_CO"))
    assert refused.rule is RuleCode.UNKNOWN_CODE
    assert refused.params["code"] == "HANG_KHONG_CO"


@pytest.mark.parametrize("rank", ["TRUONG_PHONG", "PHO_CHU_TICH_UBND_HUYEN", "CHU_TICH_UBND_HUYEN"])
def test_an_official_at_or_above_the_needs_minimum_rank_is_accepted(rank: str) -> None:
    event = seconded_event(second(second_cmd(official(position_rank=rank)), to=need(min_rank=rank)))
    assert event.official.position_rank == rank


# ----- HOME_UNIT_NOT_MOUNTAINOUS -----------------------------------------------------------------


@pytest.mark.parametrize("home_unit", ["TAM_KY", "HOI_AN", "THANG_BINH", "SO_Y_TE"])
def test_an_official_from_a_lowland_unit_is_refused(home_unit: str) -> None:
    cmd = second_cmd(official(home_unit=home_unit))
    assert refusal(cmd).rule is RuleCode.HOME_UNIT_NOT_MOUNTAINOUS


def test_an_official_of_a_district_abolished_before_the_decision_is_refused() -> None:
    cmd = second_cmd(
        official(home_unit="NAM_GIANG"),
        decided_on=D(2026, 2, 1),
        start=D(2026, 3, 1),
        end=D(2026, 8, 31),
    )
    assert refusal(cmd).rule is RuleCode.HOME_UNIT_NOT_MOUNTAINOUS


def test_an_official_of_a_mountainous_commune_after_the_reform_is_accepted() -> None:
    cmd = second_cmd(
        official(home_unit="XA_NAM_GIANG"),
        decided_on=D(2026, 2, 1),
        start=D(2026, 3, 1),
        end=D(2026, 8, 31),
    )
    assert seconded_event(second(cmd)).official.home_unit.code == "XA_NAM_GIANG"


def test_an_official_of_a_commune_decided_before_the_commune_existed_is_refused() -> None:
    cmd = second_cmd(
        official(home_unit="XA_NAM_GIANG"),
        decided_on=REFORM - dt.timedelta(days=1),
        start=REFORM,
        end=D(2025, 12, 31),
    )
    assert refusal(cmd).rule is RuleCode.HOME_UNIT_NOT_MOUNTAINOUS


def test_an_official_of_nong_son_decided_after_its_merger_into_que_son_is_refused() -> None:
    cmd = second_cmd(official(home_unit="NONG_SON"), decided_on=D(2025, 1, 2), start=D(2025, 1, 2))
    assert refusal(cmd).rule is RuleCode.HOME_UNIT_NOT_MOUNTAINOUS


@pytest.mark.parametrize(
    ("decided_on", "accepted"),
    [(D(2024, 12, 31), False), (D(2025, 1, 1), True)],
    ids=["before Nông Sơn merged in", "from the merger"],
)
def test_que_son_counts_as_mountainous_from_the_day_nong_son_merged_in(
    decided_on: dt.date, accepted: bool
) -> None:
    cmd = second_cmd(
        official(home_unit="QUE_SON"), decided_on=decided_on, start=D(2025, 1, 2), end=D(2025, 7, 1)
    )
    if accepted:
        assert seconded_event(second(cmd)).official.home_unit.code == "QUE_SON"
    else:
        assert refusal(cmd).rule is RuleCode.HOME_UNIT_NOT_MOUNTAINOUS


@pytest.mark.parametrize(
    ("decided_on", "start", "end"),
    [(DECIDED_ON, START, SIX_MONTHS_END), (D(2026, 2, 1), D(2026, 3, 1), D(2026, 8, 31))],
    ids=["in phase 2024-2025", "after the reform"],
)
def test_an_official_of_a_reporting_only_area_is_refused(
    decided_on: dt.date, start: dt.date, end: dt.date
) -> None:
    cmd = second_cmd(
        official(home_unit="KV_NAM_GIANG"), decided_on=decided_on, start=start, end=end
    )
    assert refusal(cmd).rule in {RuleCode.HOME_UNIT_NOT_MOUNTAINOUS, RuleCode.UNKNOWN_CODE}


# ----- DURATION_OVER_CAP -------------------------------------------------------------------------


def test_six_months_to_the_day_are_accepted() -> None:
    assert seconded_event(second(second_cmd(end=D(2025, 2, 28)))).planned_end_date == D(2025, 2, 28)


def test_one_day_more_than_six_months_is_refused() -> None:
    refused = refusal(second_cmd(end=D(2025, 3, 1)))
    assert refused.rule is RuleCode.DURATION_OVER_CAP
    assert refused.params == {"cap_months": 6, "latest_end_date": "2025-02-28"}


@pytest.mark.parametrize(
    ("start", "last_day"),
    [
        (D(2024, 8, 31), D(2025, 2, 28)),
        (D(2024, 8, 30), D(2025, 2, 28)),
        (D(2024, 8, 29), D(2025, 2, 28)),
        (D(2024, 8, 28), D(2025, 2, 27)),
        (D(2024, 10, 31), D(2025, 4, 30)),
        (D(2025, 3, 31), D(2025, 9, 30)),
    ],
)
def test_a_secondment_from_a_months_end_may_end_on_the_short_months_last_day(
    start: dt.date, last_day: dt.date
) -> None:
    decided_on = start - dt.timedelta(days=10)
    accepted = second(second_cmd(start=start, end=last_day, decided_on=decided_on))
    assert seconded_event(accepted).planned_end_date == last_day
    too_long = second_cmd(start=start, end=last_day + dt.timedelta(days=1), decided_on=decided_on)
    assert refusal(too_long).rule is RuleCode.DURATION_OVER_CAP


def test_the_cap_of_phase_2026_2030_is_also_six_months() -> None:
    def cmd(end: dt.date) -> SecondOfficial:
        home = official(home_unit="XA_NAM_GIANG")
        return second_cmd(home, decided_on=D(2026, 2, 1), start=D(2026, 3, 1), end=end)

    assert seconded_event(second(cmd(D(2026, 8, 31)))).planned_end_date == D(2026, 8, 31)
    assert refusal(cmd(D(2026, 9, 1))).rule is RuleCode.DURATION_OVER_CAP


def test_a_secondment_may_run_into_the_next_phase_within_the_cap_of_its_start() -> None:
    def cmd(end: dt.date) -> SecondOfficial:
        return second_cmd(start=D(2025, 10, 1), end=end, decided_on=D(2025, 6, 20))

    assert seconded_event(second(cmd(D(2026, 3, 31)))).planned_end_date == D(2026, 3, 31)
    assert refusal(cmd(D(2026, 4, 1))).rule is RuleCode.DURATION_OVER_CAP


def test_outside_any_phase_the_plans_cap_still_applies() -> None:
    def cmd(end: dt.date) -> SecondOfficial:
        home = official(home_unit="XA_NAM_GIANG")
        return second_cmd(home, decided_on=D(2030, 12, 20), start=D(2031, 1, 1), end=end)

    assert seconded_event(second(cmd(D(2031, 6, 30)))).planned_end_date == D(2031, 6, 30)
    refused = refusal(cmd(D(2031, 7, 1)))
    assert refused.rule is RuleCode.DURATION_OVER_CAP
    assert refused.params["cap_months"] == 6


def test_no_phase_configuration_takes_a_secondment_beyond_the_legal_three_years() -> None:
    # Phase validation refuses more than 36 months; build one anyway, as a bad config would.
    generous = Phase.model_construct(
        phase_id="bad", starts_on=D(2024, 1, 1), ends_on=D(2030, 12, 31), cap_months=48
    )
    rules.check_duration_within_cap(START, D(2027, 8, 31), [generous])
    with pytest.raises(DomainError) as caught:
        rules.check_duration_within_cap(START, D(2027, 9, 1), [generous])
    assert caught.value.rule is RuleCode.DURATION_OVER_CAP
    assert caught.value.params["cap_months"] == 36


def test_an_extension_may_take_the_secondment_up_to_the_cap_and_no_further() -> None:
    secondment = second(second_cmd(end=D(2024, 11, 30)))

    def extension(end: dt.date) -> ExtendSecondment:
        return ExtendSecondment(new_planned_end_date=end, decision=decision(D(2024, 11, 20)))

    with pytest.raises(DomainError) as caught:
        secondment.extend(extension(SIX_MONTHS_END + dt.timedelta(days=1)), [], DEFAULT_PHASES)
    assert caught.value.rule is RuleCode.DURATION_OVER_CAP
    secondment.extend(extension(SIX_MONTHS_END), [], DEFAULT_PHASES)
    assert secondment.planned_end_date == SIX_MONTHS_END


def test_a_one_day_secondment_is_accepted() -> None:
    assert seconded_event(second(second_cmd(end=START))).planned_end_date == START


def test_a_planned_end_before_the_start_is_out_of_order() -> None:
    cmd = second_cmd(end=START - dt.timedelta(days=1))
    assert refusal(cmd).rule is RuleCode.LIFECYCLE_ORDER


@st.composite
def start_and_planned_end(draw: st.DrawFn) -> tuple[dt.date, dt.date]:
    """A start in 2024–2030 and a planned end anywhere around it, often near six months."""
    start = draw(st.dates(min_value=D(2024, 1, 1), max_value=D(2030, 12, 31)))
    near_the_cap = add_months(start, 6) + dt.timedelta(days=draw(st.integers(-3, 2)))
    anywhere = start + dt.timedelta(days=draw(st.integers(-60, 400)))
    return start, draw(st.sampled_from([near_the_cap, anywhere]))


@settings(max_examples=200, deadline=None)
@given(start_and_planned_end())
def test_an_accepted_secondment_never_outlasts_its_phases_cap(
    dates: tuple[dt.date, dt.date],
) -> None:
    start, planned_end = dates
    phase = phase_of(start)
    assert phase is not None
    latest = last_allowed_day(start, phase.cap_months)
    home = official(home_unit="NAM_GIANG" if start < REFORM else "XA_NAM_GIANG")
    cmd = second_cmd(home, start=start, end=planned_end, decided_on=start)
    outcome: Secondment | DomainError
    try:
        outcome = second(cmd)
    except DomainError as refused:
        outcome = refused
    if isinstance(outcome, DomainError):
        assert outcome.rule in {RuleCode.DURATION_OVER_CAP, RuleCode.LIFECYCLE_ORDER}
        if outcome.rule is RuleCode.LIFECYCLE_ORDER:
            assert planned_end < start
        else:
            assert planned_end > latest
    else:
        assert start <= outcome.planned_end_date <= latest
        assert seconded_event(outcome).planned_end_date == planned_end


# ----- OVERLAPPING_SECONDMENT --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("other_start", "other_end"),
    [
        (D(2024, 3, 1), START),
        (SIX_MONTHS_END, D(2025, 8, 27)),
        (D(2024, 10, 1), D(2024, 12, 31)),
        (D(2024, 1, 1), D(2025, 12, 31)),
    ],
    ids=["ends on our first day", "starts on our last day", "inside ours", "around ours"],
)
def test_an_official_with_an_overlapping_active_secondment_is_refused(
    other_start: dt.date, other_end: dt.date
) -> None:
    refused = refusal(spells=[spell(other_start, other_end)])
    assert refused.rule is RuleCode.OVERLAPPING_SECONDMENT
    assert refused.params["secondment_id"] == "other"


@pytest.mark.parametrize(
    ("other_start", "other_end"),
    [(D(2024, 3, 1), START - dt.timedelta(days=1)), (D(2025, 3, 1), D(2025, 8, 31))],
    ids=["ends the day before", "starts the day after"],
)
def test_an_official_with_an_adjacent_secondment_is_accepted(
    other_start: dt.date, other_end: dt.date
) -> None:
    assert seconded_event(second(spells=[spell(other_start, other_end)])).start_date == START


def test_an_ended_secondment_does_not_count_as_overlapping() -> None:
    ended = spell(D(2024, 3, 1), D(2024, 12, 31), active=False)
    assert seconded_event(second(spells=[ended])).start_date == START


def test_any_one_overlapping_active_secondment_among_several_is_enough_to_refuse() -> None:
    spells = [
        spell(D(2023, 1, 1), D(2023, 6, 30)),
        spell(D(2024, 10, 1), D(2024, 12, 31), active=False),
        OfficialSpell("live", D(2025, 2, 1), D(2025, 7, 31), active=True),
    ]
    refused = refusal(spells=spells)
    assert refused.rule is RuleCode.OVERLAPPING_SECONDMENT
    assert refused.params["secondment_id"] == "live"


# ----- OFFICIAL_EXCLUDED -------------------------------------------------------------------------


@pytest.mark.parametrize("exclusion", ["UNDER_DISCIPLINE", "UNDER_INVESTIGATION"])
@pytest.mark.parametrize("consents", [False, True], ids=["without consent", "with consent"])
def test_an_official_under_discipline_or_investigation_is_refused(
    exclusion: str, consents: bool
) -> None:
    who = official(exclusions=[exclusion], consents_despite_exclusion=consents)
    refused = refusal(second_cmd(who))
    assert refused.rule is RuleCode.OFFICIAL_EXCLUDED
    assert refused.params["exclusions"] == [exclusion]


def test_a_pregnant_official_or_one_with_a_young_child_is_refused_without_consent() -> None:
    who = official(exclusions=["PREGNANT_OR_CHILD_UNDER_36_MONTHS"])
    assert refusal(second_cmd(who)).rule is RuleCode.OFFICIAL_EXCLUDED


def test_a_pregnant_official_or_one_with_a_young_child_is_accepted_with_consent() -> None:
    who = official(
        exclusions=["PREGNANT_OR_CHILD_UNDER_36_MONTHS"], consents_despite_exclusion=True
    )
    assert seconded_event(second(second_cmd(who))).official.official_id == "NG-0001"


def test_consent_waives_only_the_young_child_exclusion() -> None:
    who = official(
        exclusions=["PREGNANT_OR_CHILD_UNDER_36_MONTHS", "UNDER_DISCIPLINE"],
        consents_despite_exclusion=True,
    )
    refused = refusal(second_cmd(who))
    assert refused.rule is RuleCode.OFFICIAL_EXCLUDED
    assert refused.params["exclusions"] == ["UNDER_DISCIPLINE"]


# ----- NEED_NOT_OPEN and NEED_FULL ---------------------------------------------------------------


@pytest.mark.parametrize("taken", [0, 1, 2])
def test_a_withdrawn_need_takes_no_official(taken: int) -> None:
    assert refusal(to=need(status="WITHDRAWN", taken=taken)).rule is RuleCode.NEED_NOT_OPEN


def test_a_filled_need_takes_no_official() -> None:
    refused = refusal(to=need(status="FILLED", positions=2, taken=2))
    assert refused.rule is RuleCode.NEED_NOT_OPEN


def test_a_filled_need_whose_position_a_cancellation_freed_takes_the_official() -> None:
    # The placement service frees the position at once; the needs service reopens it later.
    assert seconded_event(second(to=need(status="FILLED", positions=2, taken=1))).need_id == NEED_ID


@pytest.mark.parametrize("taken", [2, 3])
def test_an_open_need_without_a_free_position_takes_no_official(taken: int) -> None:
    assert refusal(to=need(positions=2, taken=taken)).rule is RuleCode.NEED_FULL


def test_a_need_with_its_last_position_free_takes_the_official() -> None:
    assert seconded_event(second(to=need(positions=2, taken=1))).need_id == NEED_ID


# ----- LIFECYCLE_ORDER ---------------------------------------------------------------------------


def test_a_secondment_starting_before_its_decision_is_out_of_order() -> None:
    cmd = second_cmd(decided_on=START + dt.timedelta(days=1))
    assert refusal(cmd).rule is RuleCode.LIFECYCLE_ORDER


def test_a_secondment_starting_on_its_decision_date_is_accepted() -> None:
    assert seconded_event(second(second_cmd(decided_on=START))).start_date == START


def test_ending_a_secondment_records_one_secondment_ended() -> None:
    secondment = second()
    secondment.collect()
    secondment.end(ending())
    assert secondment.collect() == [
        SecondmentEnded(
            secondment_id=secondment.secondment_id,
            official_id="NG-0001",
            ended_on=SIX_MONTHS_END,
            reason="COMPLETED",
            rating="GOOD",
            remarks="Hoàn thành tốt nhiệm vụ được giao",
            decision=decision(ENDING_DECIDED_ON, number="45/QĐ-UBND"),
        )
    ]
    assert secondment.status is SecondmentStatus.ENDED
    assert secondment.version == 2


def test_a_secondment_may_end_on_its_first_day() -> None:
    secondment = second()
    secondment.end(ending(START, decided_on=START))
    assert secondment.status is SecondmentStatus.ENDED


def test_ending_a_secondment_twice_is_out_of_order() -> None:
    secondment = second()
    secondment.end(ending())
    assert ending_refusal(secondment, ending()) is RuleCode.LIFECYCLE_ORDER
    assert secondment.version == 2


def test_ending_a_secondment_before_its_start_is_out_of_order() -> None:
    before_start = START - dt.timedelta(days=1)
    cmd = ending(before_start, decided_on=DECIDED_ON)
    assert ending_refusal(second(), cmd) is RuleCode.LIFECYCLE_ORDER


def test_ending_a_secondment_after_its_planned_end_is_out_of_order() -> None:
    cmd = ending(SIX_MONTHS_END + dt.timedelta(days=1), decided_on=ENDING_DECIDED_ON)
    assert ending_refusal(second(), cmd) is RuleCode.LIFECYCLE_ORDER


def test_an_end_date_before_the_ending_decision_is_out_of_order() -> None:
    cmd = ending(ENDING_DECIDED_ON - dt.timedelta(days=1), decided_on=ENDING_DECIDED_ON)
    assert ending_refusal(second(), cmd) is RuleCode.LIFECYCLE_ORDER


def test_a_refused_ending_changes_nothing() -> None:
    secondment = second()
    secondment.collect()
    ending_refusal(secondment, ending(START - dt.timedelta(days=1)))
    assert secondment.collect() == []
    assert (secondment.status, secondment.version) == (SecondmentStatus.ACTIVE, 1)


def test_a_secondment_rehydrated_from_its_events_ends_like_the_original() -> None:
    seconded = seconded_event(second())
    again = Secondment.rehydrate([seconded])
    assert (again.secondment_id, again.status, again.version) == (
        seconded.secondment_id,
        SecondmentStatus.ACTIVE,
        1,
    )
    again.end(ending())
    [ended_event] = again.collect()
    assert isinstance(ended_event, SecondmentEnded)
    ended = Secondment.rehydrate([seconded, ended_event])
    assert (ended.status, ended.version, ended.ended) == (SecondmentStatus.ENDED, 2, ended_event)
    assert ending_refusal(ended, ending()) is RuleCode.LIFECYCLE_ORDER


# ----- UNKNOWN_CODE ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"ethnicity": "KLINGON"},
        {"ethnicity": "CO_TU", "ethnic_subgroup": "CA_DONG"},
        {"ethnicity": "XO_DANG", "ethnic_subgroup": "NO_SUCH_SUBGROUP"},
        {"position_rank": "TONG_GIAM_DOC"},
        {"home_unit": "ATLANTIS"},
    ],
    ids=[
        "unknown ethnic group",
        "subgroup of another group",
        "unknown subgroup",
        "unknown rank",
        "unknown home unit",
    ],
)
def test_an_official_described_with_an_unknown_code_is_refused(changes: dict[str, str]) -> None:
    assert refusal(second_cmd(official(**changes))).rule is RuleCode.UNKNOWN_CODE


def test_a_rank_not_yet_in_use_on_the_decision_date_is_an_unknown_code() -> None:
    cmd = second_cmd(official(position_rank="PHO_CHU_TICH_UBND_XA"))
    assert refusal(cmd).rule is RuleCode.UNKNOWN_CODE


def test_a_rank_no_longer_in_use_on_the_decision_date_is_an_unknown_code() -> None:
    cmd = second_cmd(
        official(position_rank="PHO_CHU_TICH_UBND_HUYEN", home_unit="XA_NAM_GIANG"),
        decided_on=D(2026, 2, 1),
        start=D(2026, 3, 1),
        end=D(2026, 8, 31),
    )
    assert refusal(cmd).rule is RuleCode.UNKNOWN_CODE


def test_a_subgroup_of_the_officials_own_group_is_accepted_and_kept() -> None:
    who = official(ethnicity="XO_DANG", ethnic_subgroup="CA_DONG")
    event = seconded_event(second(second_cmd(who)))
    assert (event.official.ethnicity, event.official.ethnic_subgroup) == ("XO_DANG", "CA_DONG")
