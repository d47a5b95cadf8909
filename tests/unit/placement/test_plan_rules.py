"""The locality secondment plan's rules, on the aggregate alone (issue 13 item 2)."""

import datetime as dt
from typing import Any

import pytest

from services.placement.domain.plan import AdoptPlan, AmendPlan, SecondmentPlan
from shared.authz import Action, Forbidden, Principal, authorize
from shared.contract.events import SecondmentPlanAdopted, SecondmentPlanAmended
from shared.contract.rules import RuleCode
from shared.seedwork.errors import DomainError


def adopt(**over: Any) -> AdoptPlan:
    body: dict[str, Any] = {
        "home_unit": "NAM_GIANG",
        "phase_id": "2024-2025",
        "targets": [
            {"year": 2024, "officials": 3, "by_sector": [{"sector": "HEALTH", "officials": 1}]},
            {"year": 2025, "officials": 4},
        ],
        "decision": {"number": "112/KH-UBND", "date": "2024-07-25"},
    }
    return AdoptPlan.model_validate(body | over)


def amend(date: str = "2025-01-15", **over: Any) -> AmendPlan:
    body: dict[str, Any] = {
        "targets": [{"year": 2024, "officials": 3}, {"year": 2025, "officials": 6}],
        "decision": {"number": "20/KH-UBND", "date": date},
    }
    return AmendPlan.model_validate(body | over)


def refused(rule: RuleCode, cmd: AdoptPlan) -> DomainError:
    with pytest.raises(DomainError) as caught:
        SecondmentPlan.adopt(cmd)
    assert caught.value.rule is rule, caught.value.detail
    return caught.value


def test_a_plan_is_adopted_with_its_targets_sorted_by_year_and_the_unit_as_named() -> None:
    cmd = adopt(targets=[{"year": 2025, "officials": 4}, {"year": 2024, "officials": 0}])
    plan = SecondmentPlan.adopt(cmd)
    (event,) = plan.collect()
    assert isinstance(event, SecondmentPlanAdopted)
    assert event.home_unit.code == "NAM_GIANG"
    assert event.home_unit.name.endswith("Nam Giang")
    assert [t.year for t in event.targets] == [2024, 2025]
    assert plan.decision.date == dt.date(2024, 7, 25)


def test_a_year_outside_the_phase_is_refused() -> None:
    error = refused(
        RuleCode.PLAN_YEAR_OUTSIDE_PHASE, adopt(targets=[{"year": 2026, "officials": 1}])
    )
    assert "2026" in error.detail


@pytest.mark.parametrize(
    "targets",
    [
        [{"year": 2024, "officials": -1}],
        [{"year": 2024, "officials": 20_000}],
        [{"year": 2024, "officials": 2, "by_sector": [{"sector": "HEALTH", "officials": -1}]}],
        [{"year": 2024, "officials": 1}, {"year": 2024, "officials": 2}],
        [{"year": 2024, "officials": 1, "by_sector": [{"sector": "HEALTH", "officials": 2}]}],
        [
            {
                "year": 2024,
                "officials": 4,
                "by_sector": [
                    {"sector": "HEALTH", "officials": 1},
                    {"sector": "HEALTH", "officials": 1},
                ],
            }
        ],
    ],
    ids=[
        "negative",
        "above the bound",
        "negative sector",
        "year twice",
        "sectors over the year",
        "sector twice",
    ],
)
def test_invalid_targets_are_refused(targets: list[dict[str, Any]]) -> None:
    refused(RuleCode.PLAN_TARGET_INVALID, adopt(targets=targets))


def test_unknown_or_non_mountainous_localities_and_unknown_sectors_are_refused() -> None:
    refused(RuleCode.UNKNOWN_CODE, adopt(home_unit="NO_SUCH_DISTRICT"))
    refused(RuleCode.HOME_UNIT_NOT_MOUNTAINOUS, adopt(home_unit="TAM_KY"))
    refused(RuleCode.HOME_UNIT_NOT_MOUNTAINOUS, adopt(home_unit="SO_Y_TE"))
    refused(RuleCode.UNKNOWN_CODE, adopt(phase_id="2031-2035"))
    unknown_sector = [
        {"year": 2024, "officials": 2, "by_sector": [{"sector": "NOPE", "officials": 1}]}
    ]
    refused(RuleCode.UNKNOWN_CODE, adopt(targets=unknown_sector))


def test_a_district_abolished_before_the_phase_plans_nothing_in_it() -> None:
    cmd = adopt(
        phase_id="2026-2030",
        targets=[{"year": 2026, "officials": 1}],
        decision={"number": "1/KH", "date": "2025-03-01"},
    )
    refused(RuleCode.HOME_UNIT_NOT_MOUNTAINOUS, cmd)


def test_amendments_keep_history_and_must_not_be_dated_before_the_previous_decision() -> None:
    plan = SecondmentPlan.adopt(adopt())
    plan.amend(amend("2025-01-15"))
    plan.amend(amend("2025-01-15", reason="same day, a correction"))
    events = plan.collect()
    assert [type(e) for e in events] == [
        SecondmentPlanAdopted,
        SecondmentPlanAmended,
        SecondmentPlanAmended,
    ]
    assert plan.version == 3
    with pytest.raises(DomainError) as caught:
        plan.amend(amend("2025-01-14"))
    assert caught.value.rule is RuleCode.PLAN_DECISION_OUT_OF_ORDER
    again = SecondmentPlan.rehydrate(events)
    assert again.targets[1].officials == 6
    assert again.adopted.decision.number == "112/KH-UBND"
    with pytest.raises(DomainError) as outside:
        again.amend(amend(targets=[{"year": 2023, "officials": 1}]))
    assert outside.value.rule is RuleCode.PLAN_YEAR_OUTSIDE_PHASE


def test_the_locality_or_home_affairs_may_plan_no_one_else() -> None:
    plans = frozenset({"plans:write"})
    authorize(Principal("NAM_GIANG", plans), Action.ADOPT_SECONDMENT_PLAN, home="NAM_GIANG")
    authorize(Principal("SO_NOI_VU", plans), Action.ADOPT_SECONDMENT_PLAN, home="NAM_GIANG")
    authorize(Principal("DN_SO_NOI_VU", plans), Action.AMEND_SECONDMENT_PLAN, home="NAM_GIANG")
    for agency, scopes in (
        ("NAM_TRA_MY", plans),
        ("SO_Y_TE", plans),
        ("NAM_GIANG", frozenset({"secondments:write"})),
    ):
        with pytest.raises(Forbidden):
            authorize(Principal(agency, scopes), Action.ADOPT_SECONDMENT_PLAN, home="NAM_GIANG")
