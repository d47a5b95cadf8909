"""The locality plans against the secondments started, recomputed from the events in plain
Python for the oracle (`oracle.World`), from the definitions of docs/reporting.md ("Plans")."""

import datetime as dt
from collections.abc import Callable
from typing import Any, Protocol

from shared.phases import Phase


class Facts(Protocol):
    plans: dict[str, list[tuple[int, dict[str, Any]]]]
    secondments: dict[str, dict[str, Any]]


def _pace(planned: dict[int, int], as_of: dt.date) -> int:
    whole = sum(n for y, n in planned.items() if y < as_of.year)
    this = planned.get(as_of.year, 0)
    start = dt.date(as_of.year, 1, 1)
    length = (dt.date(as_of.year + 1, 1, 1) - start).days
    return whole + (this * ((as_of - start).days + 1)) // length  # integer floor, exact


def _row(years: range, planned: dict[int, int], done: dict[int, int], as_of: dt.date) -> Any:
    total, seconded = sum(planned.get(y, 0) for y in years), sum(done.get(y, 0) for y in years)
    expected = _pace(planned, as_of)
    return {
        "planned": total,
        "seconded": seconded,
        "expected_to_date": expected,
        "behind_plan": seconded < expected,
        "progress": round(seconded / total, 4) if total else None,
        "years": [
            {"year": y, "planned": planned.get(y, 0), "seconded": done.get(y, 0)} for y in years
        ],
    }


def plan_progress(
    world: Facts,
    phase: Phase,
    as_of: dt.date,
    home_unit: str | None,
    sector: str | None,
    group_of: Callable[[str], str],
) -> dict[str, Any]:
    """The evaluation's `plans` block, JSON-shaped."""
    years = range(phase.starts_on.year, phase.ends_on.year + 1)
    last = min(phase.ends_on, as_of)
    groups: dict[str, dict[str, Any]] = {}
    for plan_id in sorted(world.plans):
        decisions = sorted(world.plans[plan_id], key=lambda vd: vd[0])
        version, adopted = decisions[0]
        if version != 1 or adopted["phase_id"] != phase.phase_id:
            continue
        home = adopted["home_unit"]["code"]
        if home_unit is not None and home != home_unit and group_of(home) != home_unit:
            continue
        dated = [(dt.date.fromisoformat(d["decision"]["date"]), v, d) for v, d in decisions]
        dated = [x for x in dated if x[0] <= as_of]
        if not dated or dated[0][1] != 1:
            continue
        in_force = max(dated, key=lambda x: (x[0], x[1]))[2]
        g = groups.setdefault(group_of(home), {"planned": {}, "plan_ids": [], "decisions": []})
        for t in in_force["targets"]:
            n = t["officials"]
            if sector is not None:
                n = sum(s["officials"] for s in t["by_sector"] if s["sector"] == sector)
            g["planned"][t["year"]] = g["planned"].get(t["year"], 0) + n
        g["plan_ids"].append(plan_id)
        g["decisions"].append(in_force["decision"]["number"])
    done: dict[str, dict[int, int]] = {}
    for s in world.secondments.values():
        base = s.get("base")
        if base is None or s["cancelled"] or not phase.starts_on <= base["start_date"] <= last:
            continue
        if sector is not None and base["sector"] != sector:
            continue
        per_year = done.setdefault(group_of(base["home_unit"]), {})
        per_year[base["start_date"].year] = per_year.get(base["start_date"].year, 0) + 1
    localities = {}
    province_planned: dict[int, int] = {}
    province_done: dict[int, int] = {}
    for unit in sorted(groups):
        g, seconded = groups[unit], done.get(unit, {})
        localities[unit] = _row(years, g["planned"], seconded, as_of) | {
            "plan_ids": g["plan_ids"],
            "decisions": g["decisions"],
        }
        for y in years:
            province_planned[y] = province_planned.get(y, 0) + g["planned"].get(y, 0)
            province_done[y] = province_done.get(y, 0) + seconded.get(y, 0)
    return {
        "localities": localities,
        "province": _row(years, province_planned, province_done, as_of),
    }
