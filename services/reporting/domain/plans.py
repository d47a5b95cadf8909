"""The locality plans against what was done: officials planned and seconded per locality and
for the province, year by year within the phase, the pace the plan asks for by a day, and
who is behind it (definitions: docs/reporting.md, "Plans"). Pure arithmetic, no I/O."""

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from shared.phases import Phase


@dataclass(frozen=True)
class PlanDecision:
    """One row of `rm_plan_versions`: a plan's adoption (with its locality and phase) or an
    amendment (without)."""

    plan_id: str
    version: int
    home_unit: str | None
    phase_id: str | None
    decided_on: dt.date
    decision_no: str
    targets: str


class PlanYear(BaseModel):
    """One year of the phase."""

    year: int
    planned: int = Field(description="officials the plans in force set for the year")
    seconded: int = Field(description="secondments started in the year by as_of")


class PlanProgressRow(BaseModel):
    """Plan against actual for a locality, or the province."""

    planned: int = Field(description="officials planned over the phase")
    seconded: int = Field(description="secondments started in the phase by as_of")
    expected_to_date: int = Field(
        description="the plan's pace by as_of: the years before as_of's year in full, its "
        "year pro rata by days (as_of inclusive), rounded down"
    )
    behind_plan: bool = Field(description="seconded < expected_to_date")
    progress: float | None = Field(description="seconded / planned; null when none planned")
    years: list[PlanYear]


class LocalityPlanProgress(PlanProgressRow):
    """A locality's plans in force (one, or several rolled up to one successor)."""

    plan_ids: list[str]
    decisions: list[str] = Field(description="the decision in force of each plan (its number)")


class PlanProgress(BaseModel):
    """Every locality with a plan in force by as_of, and the province (their sum)."""

    localities: dict[str, LocalityPlanProgress]
    province: PlanProgressRow


def in_force(
    rows: Iterable[PlanDecision], phase_id: str, as_of: dt.date
) -> list[tuple[PlanDecision, PlanDecision]]:
    """(adoption, decision in force) of each plan of the phase adopted by `as_of`: the
    latest decision dated by then (by date, then version)."""
    by_plan: dict[str, list[PlanDecision]] = {}
    for row in rows:
        by_plan.setdefault(row.plan_id, []).append(row)
    out = []
    for decisions in by_plan.values():
        adoption = next((d for d in decisions if d.version == 1), None)
        if adoption is None or adoption.phase_id != phase_id:
            continue  # an amendment projected before its adoption: not yet a plan
        dated = [d for d in decisions if d.decided_on <= as_of]
        if adoption.decided_on > as_of or not dated:
            continue
        out.append((adoption, max(dated, key=lambda d: (d.decided_on, d.version))))
    return sorted(out, key=lambda pair: pair[0].plan_id)


def planned_per_year(targets: str, sector: str | None) -> dict[int, int]:
    """A decision's officials per year; with a sector, that sector's share."""
    out: dict[int, int] = {}
    for t in json.loads(targets):
        if sector is None:
            out[t["year"]] = t["officials"]
        else:
            out[t["year"]] = sum(s["officials"] for s in t["by_sector"] if s["sector"] == sector)
    return out


def expected_by(planned: Mapping[int, int], as_of: dt.date) -> int:
    """The plan's pace by the end of `as_of`: every year before as_of's year in full, as_of's
    year in proportion to its days elapsed (as_of inclusive), rounded down."""
    whole = sum(n for year, n in planned.items() if year < as_of.year)
    first = dt.date(as_of.year, 1, 1)
    elapsed, length = (as_of - first).days + 1, (dt.date(as_of.year + 1, 1, 1) - first).days
    return whole + planned.get(as_of.year, 0) * elapsed // length  # exact integer floor


@dataclass
class _Group:
    """The plans in force under one locality (or roll-up unit)."""

    planned: dict[int, int] = field(default_factory=dict)
    plan_ids: list[str] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)


def _row(
    years: range, planned: Mapping[int, int], seconded: Mapping[int, int], as_of: dt.date
) -> PlanProgressRow:
    total_planned = sum(planned.values())
    done = sum(seconded.values())
    expected = expected_by(planned, as_of)
    return PlanProgressRow(
        planned=total_planned,
        seconded=done,
        expected_to_date=expected,
        behind_plan=done < expected,
        progress=round(done / total_planned, 4) if total_planned else None,
        years=[
            PlanYear(year=y, planned=planned.get(y, 0), seconded=seconded.get(y, 0)) for y in years
        ],
    )


def plan_progress(
    phase: Phase,
    as_of: dt.date,
    decisions: Iterable[PlanDecision],
    seconded: Mapping[tuple[str, int], int],
    *,
    key: Callable[[str], str],
    home_units: Iterable[str] | None = None,
    sector: str | None = None,
) -> PlanProgress:
    """Plan against actual: each plan in force by `as_of` under its locality's group (`key`:
    the locality itself, or its roll-up unit), restricted to `home_units` when given;
    `seconded` counts secondments per (group, year) of the same selection."""
    years = range(phase.starts_on.year, phase.ends_on.year + 1)
    wanted = None if home_units is None else set(home_units)
    groups: dict[str, _Group] = {}
    for adoption, decision in in_force(decisions, phase.phase_id, as_of):
        assert adoption.home_unit is not None
        if wanted is not None and adoption.home_unit not in wanted:
            continue
        group = groups.setdefault(key(adoption.home_unit), _Group())
        for year, officials in planned_per_year(decision.targets, sector).items():
            group.planned[year] = group.planned.get(year, 0) + officials
        group.plan_ids.append(adoption.plan_id)
        group.decisions.append(decision.decision_no)
    localities: dict[str, LocalityPlanProgress] = {}
    province_planned: dict[int, int] = {}
    province_seconded: dict[int, int] = {}
    for unit in sorted(groups):
        group = groups[unit]
        done = {y: seconded.get((unit, y), 0) for y in years}
        localities[unit] = LocalityPlanProgress(
            **_row(years, group.planned, done, as_of).model_dump(),
            plan_ids=group.plan_ids,
            decisions=group.decisions,
        )
        for y in years:
            province_planned[y] = province_planned.get(y, 0) + group.planned.get(y, 0)
            province_seconded[y] = province_seconded.get(y, 0) + done[y]
    return PlanProgress(
        localities=localities, province=_row(years, province_planned, province_seconded, as_of)
    )
