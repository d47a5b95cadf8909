"""The plan's rules, one named check each; every refusal names its rule code.

Read with ../shared/docs/domain.md: who may be seconded, for how long, and in what order.
"""

import datetime as dt
from collections.abc import Iterable, Sequence

from services.placement.domain.commands import OfficialIn
from services.placement.domain.views import NeedSnapshot, OfficialSpell
from shared.contract.rules import RuleCode
from shared.contract.types import UnitRef
from shared.phases import LEGAL_CAP_MONTHS, Phase, cap_for, last_allowed_day
from shared.reference import reference_data
from shared.seedwork.errors import DomainError

EXCLUSIONS_WAIVABLE_BY_CONSENT = frozenset({"PREGNANT_OR_CHILD_UNDER_36_MONTHS"})


def check_codes_known(official: OfficialIn, on: dt.date) -> None:
    """Ethnic group, subgroup and rank must be reference-data codes valid on the date."""
    ref = reference_data()
    if ref.ethnicity(official.ethnicity) is None:
        raise DomainError(
            RuleCode.UNKNOWN_CODE,
            f"ethnic group {official.ethnicity} is unknown",
            code=official.ethnicity,
        )
    if (
        official.ethnic_subgroup
        and ref.subgroup(official.ethnicity, official.ethnic_subgroup) is None
    ):
        raise DomainError(
            RuleCode.UNKNOWN_CODE,
            f"subgroup {official.ethnic_subgroup} is not a subgroup of {official.ethnicity}",
            code=official.ethnic_subgroup,
        )
    if ref.rank(official.position_rank, on) is None:
        raise DomainError(
            RuleCode.UNKNOWN_CODE,
            f"rank {official.position_rank} is not valid on {on}",
            code=official.position_rank,
        )
    if ref.unit(official.home_unit) is None:
        raise DomainError(
            RuleCode.UNKNOWN_CODE, f"unit {official.home_unit} is unknown", code=official.home_unit
        )


def check_official_is_ethnic_minority(official: OfficialIn) -> None:
    """Only officials of an ethnic minority may be seconded under the plan."""
    if not reference_data().is_minority(official.ethnicity):
        raise DomainError(
            RuleCode.OFFICIAL_NOT_ETHNIC_MINORITY, f"{official.ethnicity} is not an ethnic minority"
        )


def check_rank_at_least(official: OfficialIn, need: NeedSnapshot) -> None:
    """Deputy head of division or higher, and at least the need's minimum rank."""
    ref = reference_data()
    lowest = ref.lowest_eligible_rank().code
    if ref.rank(need.min_rank) is None:
        # The need was raised under a rank table this deployment does not have (an override
        # of SECONDMENT_RANKS_FILE that lacks it): refuse clearly rather than fail.
        raise DomainError(
            RuleCode.UNKNOWN_CODE,
            f"the need's minimum rank {need.min_rank} is not in this rank table",
            code=need.min_rank,
        )
    for minimum in (lowest, need.min_rank):
        if not ref.rank_at_least(official.position_rank, minimum):
            raise DomainError(
                RuleCode.RANK_BELOW_MINIMUM,
                f"rank {official.position_rank} is below {minimum}",
                minimum=minimum,
            )


def check_home_unit_mountainous(official: OfficialIn, decided_on: dt.date) -> None:
    """The home unit must be a mountainous locality valid on the decision date (a
    reporting-only area groups localities for statistics and seconds no one)."""
    ref = reference_data()
    unit = ref.unit(official.home_unit, decided_on)
    if (
        unit is None
        or unit.reporting_only
        or not ref.is_mountainous(official.home_unit, decided_on)
    ):
        raise DomainError(
            RuleCode.HOME_UNIT_NOT_MOUNTAINOUS,
            f"{official.home_unit} is not a mountainous locality on {decided_on}",
        )


def check_not_excluded(official: OfficialIn) -> None:
    """Discipline or investigation bar a secondment; pregnancy or a young child only
    without the official's own consent."""
    barred = set(official.exclusions)
    if official.consents_despite_exclusion:
        barred -= EXCLUSIONS_WAIVABLE_BY_CONSENT
    if barred:
        raise DomainError(
            RuleCode.OFFICIAL_EXCLUDED,
            f"excluded: {', '.join(sorted(barred))}",
            exclusions=sorted(barred),
        )


def check_duration_within_cap(
    start: dt.date, planned_end: dt.date, phases: Sequence[Phase]
) -> None:
    """The inclusive end may not pass start + cap months − 1 day, nor the legal 3 years."""
    if planned_end < start:
        raise DomainError(RuleCode.LIFECYCLE_ORDER, "the planned end is before the start")
    cap = min(cap_for(start, phases), LEGAL_CAP_MONTHS)
    latest = last_allowed_day(start, cap)
    if planned_end > latest:
        raise DomainError(
            RuleCode.DURATION_OVER_CAP,
            f"planned end {planned_end} is after {latest}, the last day of {cap} months",
            cap_months=cap,
            latest_end_date=latest.isoformat(),
        )


def check_no_overlap(start: dt.date, end: dt.date, spells: Iterable[OfficialSpell]) -> None:
    """An official is seconded once at a time: no two secondments share a day (inclusive).

    An ended secondment counts up to its actual end; a cancelled one never counted.
    """
    for spell in spells:
        if spell.active and spell.start_date <= end and start <= spell.end_date:
            raise DomainError(
                RuleCode.OVERLAPPING_SECONDMENT,
                f"overlaps secondment {spell.secondment_id}"
                f" ({spell.start_date} – {spell.end_date})",
                secondment_id=spell.secondment_id,
            )


def check_need_open(need: NeedSnapshot) -> None:
    """Only an open need with a free position takes officials.

    A need the needs service reported filled is not open; a need whose last position was
    just taken here (its `NeedFilled` not yet seen) is full. A cancellation frees a
    position at once, before the needs service reopens the need.
    """
    if need.status == "WITHDRAWN" or (need.status == "FILLED" and need.taken >= need.positions):
        raise DomainError(
            RuleCode.NEED_NOT_OPEN, f"need {need.need_id} is {need.status}", need_id=need.need_id
        )
    if need.taken >= need.positions:
        raise DomainError(
            RuleCode.NEED_FULL, f"need {need.need_id} has no free position", need_id=need.need_id
        )


def check_not_before_decision(effective: dt.date, decision_date: dt.date, what: str) -> None:
    """Nothing takes effect before the decision that orders it."""
    if effective < decision_date:
        raise DomainError(
            RuleCode.LIFECYCLE_ORDER,
            f"{what} {effective} is before its decision date {decision_date}",
        )


def check_rank_known(rank: str, on: dt.date) -> None:
    """A rank named in a post must be in the rank table on its date."""
    if reference_data().rank(rank, on) is None:
        raise DomainError(RuleCode.UNKNOWN_CODE, f"rank {rank} is not valid on {on}", code=rank)


def check_promotion_above(rank: str, at_secondment: str, earlier: Sequence[str]) -> None:
    """A promotion is to a rank strictly above the rank held when seconded (equivalent ranks
    are no promotion) and above every earlier promotion after the secondment."""
    ref = reference_data()
    new = ref.rank(rank)
    assert new is not None  # check_rank_known first
    held = ref.rank(at_secondment)
    if held is not None and new.order <= held.order:
        raise DomainError(
            RuleCode.PROMOTION_NOT_HIGHER,
            f"a promotion to {rank} is not above {held.code}, the rank held when seconded",
            new_position_rank=rank,
            rank_at_secondment=held.code,
        )
    for code in earlier:
        before = ref.rank(code)
        if before is not None and new.order <= before.order:
            raise DomainError(
                RuleCode.PROMOTION_NOT_ABOVE_EARLIER,
                f"a promotion to {rank} is not above {before.code}, an earlier promotion",
                new_position_rank=rank,
                earlier_rank=before.code,
            )


def unit_ref(code: str | None, on: dt.date) -> UnitRef | None:
    """The unit a post is in, as named on the date; a code not valid then is refused, as is
    a reporting area (a former district's area for the reports holds no posts)."""
    if code is None:
        return None
    unit = reference_data().unit(code, on)
    if unit is None or unit.reporting_only:
        raise DomainError(RuleCode.UNKNOWN_CODE, f"unit {code} is not valid on {on}", code=code)
    return UnitRef(code=unit.code, name=unit.name)
