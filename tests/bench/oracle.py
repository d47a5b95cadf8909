"""An independent evaluation, straight from the generated events, in plain Python.

It shares nothing with the service's projections or queries: it replays the events per
aggregate (deduplicated by id, in version order) into dictionaries and applies the
definitions of docs/reporting.md row by row. Only the small-cell rule is taken from the
domain (`suppress`), since it is a published algorithm rather than a figure; its own
properties are tested in tests/unit/reporting.

Longer than 400 lines: one computation meant to be read top to bottom against
docs/reporting.md; split, it would grow the shared structure it must not have.
"""

import datetime as dt
import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from services.reporting.domain.suppression import suppress
from shared.phases import Phase
from shared.reference import reference_data
from tests.bench.plan_oracle import plan_progress

D = dt.date.fromisoformat


def _latest(items: Iterable[tuple[dt.date, int, Any]], day: dt.date) -> Any:
    """The value of the latest (date, version) item dated on or before `day`, else None."""
    best: tuple[dt.date, int, Any] | None = None
    for item in items:
        if item[0] <= day and (best is None or item[:2] > best[:2]):
            best = item
    return None if best is None else best[2]


class World:
    """Needs and secondments as dictionaries of their facts."""

    def __init__(self, messages: Iterable[bytes]) -> None:
        seen: set[str] = set()
        events: list[dict[str, Any]] = []
        for raw in messages:
            e = json.loads(raw)
            if e["id"] not in seen:
                seen.add(e["id"])
                events.append(e)
        events.sort(key=lambda e: (e["subject"], e["aggregateversion"]))
        self.needs: dict[str, dict[str, Any]] = defaultdict(
            lambda: {"amendments": [], "fills": [], "withdrawn_on": None}
        )
        self.secondments: dict[str, dict[str, Any]] = defaultdict(
            lambda: {
                "extensions": [],
                "arrangements": [],
                "destinations": [],
                "promotions": [],
                "ended": None,
                "cancelled": False,
                "received_on": None,
            }
        )
        self.plans: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
        for e in events:
            d, v, kind = e["data"], e["aggregateversion"], e["type"]
            if kind.startswith("SecondmentPlan"):
                self.plans[d["plan_id"]].append((v, d))
            if kind == "NeedRaised":
                self.needs[d["need_id"]]["base"] = {
                    "host_unit": d["host_unit"]["code"],
                    "sector": d["sector"],
                    "positions": d["positions"],
                    "raised_on": D(d["raised_on"]),
                }
            elif kind == "NeedAmended":
                changes = {
                    "host_unit": d.get("host_unit") and d["host_unit"]["code"],
                    "sector": d.get("sector"),
                    "positions": d.get("positions"),
                    "raised_on": d.get("raised_on") and D(d["raised_on"]),
                }
                self.needs[d["need_id"]]["amendments"].append((D(d["amended_on"]), v, changes))
            elif kind == "NeedWithdrawn":
                self.needs[d["need_id"]]["withdrawn_on"] = D(d["withdrawn_on"])
            elif kind == "NeedFilled":
                self.needs[d["need_id"]]["fills"].append((D(d["filled_on"]), v, True))
            elif kind == "NeedReopened":
                self.needs[d["need_id"]]["fills"].append((D(d["reopened_on"]), v, False))
            elif kind == "OfficerSeconded":
                o = d["official"]
                self.secondments[d["secondment_id"]]["base"] = {
                    "need_id": d["need_id"],
                    "official_id": o["official_id"],
                    "home_unit": o["home_unit"]["code"],
                    "host_unit": d["host_unit"]["code"],
                    "sector": d["sector"],
                    "ethnicity": o["ethnicity"],
                    "gender": o["gender"],
                    "start_date": D(d["start_date"]),
                    "planned_end_date": D(d["planned_end_date"]),
                }
            elif kind == "SecondmentExtended":
                self.secondments[d["secondment_id"]]["extensions"].append(
                    (D(d["decision"]["date"]), v, D(d["new_planned_end_date"]))
                )
            elif kind == "SecondmentEnded":
                self.secondments[d["secondment_id"]]["ended"] = (
                    D(d["ended_on"]),
                    d["reason"],
                    d["rating"],
                )
            elif kind == "PostSecondmentArranged":
                self.secondments[d["secondment_id"]]["arrangements"].append(
                    (D(d["effective_date"]), v, d["arrangement"])
                )
                where = d.get("destination_unit")
                self.secondments[d["secondment_id"]]["destinations"].append(
                    (D(d["effective_date"]), v, where["code"] if where else None)
                )
            elif kind == "SecondmentCancelled":
                self.secondments[d["secondment_id"]]["cancelled"] = True
            elif kind == "OfficialReceived":
                self.secondments[d["secondment_id"]]["received_on"] = D(d["received_on"])
            elif kind == "OfficialPromotedAfterReturn":
                self.secondments[d["secondment_id"]]["promotions"].append(D(d["promoted_on"]))

    # ----- facts as of a day
    @staticmethod
    def need_field(need: dict[str, Any], name: str, day: dt.date) -> Any:
        items = [(a, v, c[name]) for a, v, c in need["amendments"] if c[name] is not None]
        value = _latest(items, day)
        return need["base"][name] if value is None else value

    def evaluate(
        self,
        phase: Phase,
        as_of: dt.date,
        *,
        home_unit: str | None = None,
        host_unit: str | None = None,
        sector: str | None = None,
        rollup: str = "none",
        threshold: int = 5,
    ) -> dict[str, Any]:
        """The evaluation as the API answers it (JSON-shaped)."""
        ref = reference_data()
        group_of: Callable[[str], str] = (
            (lambda c: ref.rollup(c)) if rollup == "successor" else (lambda c: c)
        )
        last = min(phase.ends_on, as_of)

        def in_window(day: dt.date) -> bool:
            return phase.starts_on <= day <= last

        def unit_matches(code: str, wanted: str | None) -> bool:
            return wanted is None or group_of(code) == wanted or code == wanted

        started_per_need: Counter[str] = Counter()
        for s in self.secondments.values():
            if "base" in s and not s["cancelled"] and s["base"]["start_date"] <= as_of:
                started_per_need[s["base"]["need_id"]] += 1

        need_groups: dict[str, dict[str, Counter[str]]] = {
            "host_unit": defaultdict(Counter),
            "sector": defaultdict(Counter),
        }
        need_total: Counter[str] = Counter()
        fill_days: list[int] = []
        for need_id, n in self.needs.items():
            if "base" not in n:
                continue
            raised_on = self.need_field(n, "raised_on", as_of)
            host = self.need_field(n, "host_unit", as_of)
            sec = self.need_field(n, "sector", as_of)
            positions = self.need_field(n, "positions", as_of)
            if not in_window(raised_on) or not unit_matches(host, host_unit):
                continue
            if sector is not None and sec != sector:
                continue
            withdrawn = n["withdrawn_on"] is not None and n["withdrawn_on"] <= as_of
            filled = bool(_latest(n["fills"], as_of)) and not withdrawn
            if filled:
                fill_on = _latest([(a, v, a) for a, v, _ in n["fills"]], as_of)
                fill_days.append((fill_on - raised_on).days)
            c = Counter(
                raised=1,
                withdrawn=int(withdrawn),
                filled=int(filled),
                positions_requested=positions,
                positions_filled=min(positions, started_per_need[need_id]),
            )
            need_total.update(c)
            need_groups["host_unit"][group_of(host)].update(c)
            need_groups["sector"][sec].update(c)

        dims = ("home_unit", "host_unit", "sector", "ethnicity", "gender")
        groups: dict[str, dict[str, Counter[str]]] = {d: defaultdict(Counter) for d in dims}
        officials: dict[str, dict[str, set[str]]] = {d: defaultdict(set) for d in dims}
        total: Counter[str] = Counter()
        all_officials: set[str] = set()
        durations: list[int] = []
        ratings: Counter[str] = Counter()
        arrangements: Counter[str] = Counter()
        destinations: dict[str, Counter[str]] = defaultdict(Counter)
        delays: list[int] = []
        codes: dict[str, dict[str, dict[str, Counter[str]]]] = {
            d: defaultdict(lambda: {"ratings": Counter(), "post_arrangements": Counter()})
            for d in ("home_unit", "host_unit", "sector")
        }
        for s in self.secondments.values():
            if "base" not in s or s["cancelled"]:
                continue
            b = s["base"]
            if not in_window(b["start_date"]):
                continue
            if not unit_matches(b["home_unit"], home_unit):
                continue
            if not unit_matches(b["host_unit"], host_unit):
                continue
            if sector is not None and b["sector"] != sector:
                continue
            ended = s["ended"] is not None and s["ended"][0] <= as_of
            planned = _latest(s["extensions"], as_of) or b["planned_end_date"]
            arrangement = _latest(s["arrangements"], as_of)
            arranged_on = _latest([(a, v, a) for a, v, _ in s["arrangements"]], as_of)
            later = [p for p in s["promotions"] if p <= as_of]
            promoted_on = (
                arranged_on if arrangement == "PROMOTED" else min(later) if later else None
            )
            promoted = ended and promoted_on is not None
            received = s["received_on"] is not None and s["received_on"] <= as_of
            c = Counter(
                started=1,
                received=int(received),
                active=int(not ended),
                ended=int(ended),
                completed=int(ended and s["ended"][1] == "COMPLETED"),
                terminated_early=int(ended and s["ended"][1] == "TERMINATED_EARLY"),
                overdue=int(not ended and planned < as_of),
                promoted=int(promoted),
                promoted_after_return=int(promoted and arrangement != "PROMOTED"),
            )
            total.update(c)
            all_officials.add(b["official_id"])
            keys = {d: b[d] for d in dims}
            keys["home_unit"] = group_of(b["home_unit"])
            keys["host_unit"] = group_of(b["host_unit"])
            for d in dims:
                groups[d][keys[d]].update(c)
                officials[d][keys[d]].add(b["official_id"])
            if ended:
                durations.append((s["ended"][0] - b["start_date"]).days)
                ratings[s["ended"][2]] += 1
                for d in ("home_unit", "host_unit", "sector"):
                    codes[d][keys[d]]["ratings"][s["ended"][2]] += 1
                    if arrangement is not None:
                        codes[d][keys[d]]["post_arrangements"][arrangement] += 1
                if arrangement is not None:
                    arrangements[arrangement] += 1
                    went = _latest(s["destinations"], as_of)
                    if went is not None:
                        destinations[group_of(went)][arrangement] += 1
                if promoted:
                    delays.append((promoted_on - s["ended"][0]).days)

        names = (
            "started",
            "received",
            "active",
            "ended",
            "completed",
            "terminated_early",
            "overdue",
        )
        rating_codes = ("EXCELLENT", "GOOD", "COMPLETED", "NOT_COMPLETED")
        arrangement_codes = ("RETURNED_TO_FORMER_POST", "PROMOTED", "TRANSFERRED", "OTHER")

        def outcomes(d: str, k: str, c: Counter[str]) -> dict[str, Any]:
            got = codes[d].get(k, {"ratings": Counter(), "post_arrangements": Counter()})
            return {
                "ratings": {r: got["ratings"][r] for r in rating_codes},
                "end_reasons": {
                    "COMPLETED": c["completed"],
                    "TERMINATED_EARLY": c["terminated_early"],
                },
                "post_arrangements": {a: got["post_arrangements"][a] for a in arrangement_codes},
                "promoted_after_return": c["promoted_after_return"],
                "promotion_rate": round(c["promoted"] / c["ended"], 4) if c["ended"] else None,
            }

        def stats(values: list[int]) -> dict[str, Any]:
            return {
                "mean": round(statistics.fmean(values), 2) if values else None,
                "median": float(statistics.median(values)) if values else None,
                "max": max(values) if values else None,
            }

        def sec_block(c: Counter[str], people: set[str]) -> dict[str, int]:
            return {k: c[k] for k in names} | {"officials": len(people)}

        def needs_block(c: Counter[str]) -> dict[str, Any]:
            req, got = c["positions_requested"], c["positions_filled"]
            return {
                "raised": c["raised"],
                "withdrawn": c["withdrawn"],
                "filled": c["filled"],
                "open": c["raised"] - c["withdrawn"] - c["filled"],
                "positions_requested": req,
                "positions_filled": got,
                "fill_rate": round(got / req, 4) if req else None,
            }

        def simple(d: str) -> dict[str, Any]:
            return {
                k: {"secondments": sec_block(c, officials[d][k]), "promoted": c["promoted"]}
                for k, c in sorted(groups[d].items())
            }

        def with_needs(d: str) -> dict[str, Any]:
            return {
                k: {
                    "needs": needs_block(need_groups[d].get(k, Counter())),
                    "secondments": sec_block(
                        groups[d].get(k, Counter()), officials[d].get(k, set())
                    ),
                    "promoted": groups[d].get(k, Counter())["promoted"],
                    "outcomes": outcomes(d, k, groups[d].get(k, Counter())),
                }
                for k in sorted(set(groups[d]) | set(need_groups[d]))
            }

        by_home = {
            k: g | {"outcomes": outcomes("home_unit", k, groups["home_unit"][k])}
            for k, g in simple("home_unit").items()
        }
        ethnic = simple("ethnicity")
        cells = {k: g["secondments"] | {"promoted": g["promoted"]} for k, g in ethnic.items()}
        hidden = suppress(cells, threshold)
        by_ethnicity = {
            k: {
                "secondments": {
                    m: None if m in hidden[k] else v for m, v in g["secondments"].items()
                },
                "promoted": None if "promoted" in hidden[k] else g["promoted"],
                "suppressed": sorted(
                    m if m == "promoted" else f"secondments.{m}" for m in hidden[k]
                ),
            }
            for k, g in ethnic.items()
        }
        ended_count = total["ended"]
        return {
            "phase_id": phase.phase_id,
            "as_of": as_of.isoformat(),
            "filters": {"home_unit": home_unit, "host_unit": host_unit, "sector": sector},
            "rollup": rollup,
            "needs": needs_block(need_total),
            "secondments": sec_block(total, all_officials),
            "duration_days": stats(durations),
            "ratings": {r: ratings[r] for r in rating_codes},
            "post_arrangements": {a: arrangements[a] for a in arrangement_codes},
            "post_arrangements_by_destination": {
                unit: dict(codes_) for unit, codes_ in sorted(destinations.items())
            },
            "promoted": total["promoted"],
            "promoted_after_return": total["promoted_after_return"],
            "promotion_rate": round(total["promoted"] / ended_count, 4) if ended_count else None,
            "promotion_delay_days": stats(delays),
            "time_to_fill_days": stats(fill_days),
            "by_home_unit": by_home,
            "by_host_unit": with_needs("host_unit"),
            "by_sector": with_needs("sector"),
            "by_ethnicity": by_ethnicity,
            "by_gender": {k: g | {"outcomes": None} for k, g in simple("gender").items()},
            "small_cell_threshold": threshold,
            "plans": plan_progress(self, phase, as_of, home_unit, sector, group_of),
        }

    # ----- alerts and timeline, the same way
    def alerts(
        self,
        as_of: dt.date,
        *,
        ending_within: int = 30,
        open_longer_than: int = 60,
        arrangement_within: int = 30,
    ) -> dict[str, Any]:
        """Every alert (no limit), ordered as the API orders them, and their counts."""
        soon, late, unarranged = [], [], []
        for sid, s in self.secondments.items():
            if "base" not in s or s["cancelled"]:
                continue
            if (
                s["ended"] is not None
                and (as_of - s["ended"][0]).days >= arrangement_within
                and _latest(s["arrangements"], as_of) is None
            ):
                unarranged.append((s["ended"][0], sid))
            b = s["base"]
            if b["start_date"] > as_of or (s["ended"] is not None and s["ended"][0] <= as_of):
                continue
            planned = _latest(s["extensions"], as_of) or b["planned_end_date"]
            if planned < as_of:
                late.append((planned, sid))
            elif (planned - as_of).days <= ending_within:
                soon.append((planned, sid))
        needs = []
        for need_id, n in self.needs.items():
            if "base" not in n:
                continue
            raised_on = self.need_field(n, "raised_on", as_of)
            withdrawn = n["withdrawn_on"] is not None and n["withdrawn_on"] <= as_of
            filled = bool(_latest(n["fills"], as_of))
            if (as_of - raised_on).days >= open_longer_than and not withdrawn and not filled:
                needs.append((raised_on, need_id))
        return {
            "ending_soon": [sid for _, sid in sorted(soon)],
            "overdue": [sid for _, sid in sorted(late)],
            "needs_open_long": [nid for _, nid in sorted(needs)],
            "ended_without_arrangement": [sid for _, sid in sorted(unarranged)],
        }

    def timeline(self, phase: Phase, as_of: dt.date) -> list[tuple[str, int, int]]:
        """(YYYY-MM, started, ended by as_of) per month of the phase up to as_of."""
        last = min(phase.ends_on, as_of)
        started: Counter[str] = Counter()
        ended: Counter[str] = Counter()
        for s in self.secondments.values():
            if "base" not in s or s["cancelled"]:
                continue
            start = s["base"]["start_date"]
            if not phase.starts_on <= start <= last:
                continue
            started[start.strftime("%Y-%m")] += 1
            if s["ended"] is not None and s["ended"][0] <= as_of:
                ended[s["ended"][0].strftime("%Y-%m")] += 1
        out = []
        year, month = phase.starts_on.year, phase.starts_on.month
        while (year, month) <= (last.year, last.month):
            key = f"{year:04d}-{month:02d}"
            out.append((key, started[key], ended[key]))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return out
