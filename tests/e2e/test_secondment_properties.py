"""Property: whatever sequence of commands agencies send (including two requests racing for
the last position), no accepted sequence yields a secondment longer than the cap, an
ineligible official, overlapping secondments, or a need with more officials than positions.

Runs the whole embedded system; each example is a fresh system, bounded for suite time.
"""

import asyncio
import datetime as dt
import itertools
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.embedded.app import create_embedded_app, settled
from shared.phases import cap_for, last_allowed_day
from shared.reference import reference_data
from tests import auth
from tests.samples import need_body

pytestmark = pytest.mark.e2e

BASE = dt.date(2024, 3, 1)
# id, ethnicity, rank, home unit: eligible ones and each kind of ineligible one.
OFFICIALS = [
    ("P1", "CO_TU", "PHO_TRUONG_PHONG", "NAM_GIANG"),
    ("P2", "XO_DANG", "TRUONG_PHONG", "NAM_TRA_MY"),
    ("P3", "KINH", "TRUONG_PHONG", "TAY_GIANG"),
    ("P4", "CO", "CHUYEN_VIEN", "PHUOC_SON"),
    ("P5", "GIE_TRIENG", "TRUONG_PHONG", "TAM_KY"),
]


@dataclass(frozen=True)
class Second:
    official: int
    need: int
    start: int
    days: int


@dataclass(frozen=True)
class Race:
    """The two eligible officials ask for one need at the same moment."""

    need: int
    start: int
    days: int


@dataclass(frozen=True)
class Extend:
    secondment: int
    days: int


@dataclass(frozen=True)
class End:
    secondment: int
    early: int


@dataclass(frozen=True)
class Cancel:
    secondment: int


@dataclass(frozen=True)
class Amend:
    need: int
    positions: int


officials = st.integers(0, len(OFFICIALS) - 1)
commands = st.one_of(
    st.builds(Second, officials, st.integers(0, 1), st.integers(0, 500), st.integers(1, 240)),
    st.builds(Race, st.integers(0, 1), st.integers(0, 500), st.integers(1, 180)),
    st.builds(Extend, st.integers(0, 9), st.integers(1, 120)),
    st.builds(End, st.integers(0, 9), st.integers(0, 90)),
    st.builds(Cancel, st.integers(0, 9)),
    st.builds(Amend, st.integers(0, 1), st.integers(1, 3)),
)


def _official(index: int) -> dict[str, Any]:
    ident, ethnicity, rank, home = OFFICIALS[index]
    return {
        "official_id": ident,
        "full_name": "Hồ Văn Thử",
        "gender": "M",
        "birth_date": "1980-01-01",
        "ethnicity": ethnicity,
        "service_category": "CIVIL_SERVANT",
        "position_rank": rank,
        "home_unit": home,
    }


def _second_body(need_id: str, official: int, start: int, days: int) -> dict[str, Any]:
    first = BASE + dt.timedelta(days=start)
    return {
        "need_id": need_id,
        "official": _official(official),
        "start_date": first.isoformat(),
        "planned_end_date": (first + dt.timedelta(days=days)).isoformat(),
        "decision": {"number": "1/QĐ", "date": (first - dt.timedelta(days=3)).isoformat()},
    }


async def _run(client: httpx.AsyncClient, app: Any, steps: list[Any], positions: list[int]) -> None:
    issuer = app.state.dev_issuer
    host = auth.host(issuer=issuer)
    # One token per home authority of the pool (each seconds only its own officials).
    homes = {o[3]: auth.home(o[3], issuer=issuer) for o in OFFICIALS}
    by_official = {o[0]: homes[o[3]] for o in OFFICIALS}
    need_ids = []
    for count in positions:
        raised = await client.post("/api/needs", json=need_body(positions=count), headers=host)
        assert raised.status_code == 201
        need_ids.append(raised.json()["need_id"])
    await settled(app)
    made: list[dict[str, Any]] = []
    for step in steps:
        if isinstance(step, Second):
            body = _second_body(need_ids[step.need], step.official, step.start, step.days)
            responses = [await client.post("/api/secondments", json=body, headers=homes[
                OFFICIALS[step.official][3]])]  # fmt: skip
        elif isinstance(step, Race):
            bodies = [
                _second_body(need_ids[step.need], who, step.start, step.days) for who in (0, 1)
            ]
            responses = list(
                await asyncio.gather(
                    *(
                        client.post(
                            "/api/secondments", json=b, headers=homes[b["official"]["home_unit"]]
                        )
                        for b in bodies
                    )
                )
            )
        elif not made and not isinstance(step, Amend):
            continue
        elif isinstance(step, Amend):
            responses = [
                await client.patch(
                    f"/api/needs/{need_ids[step.need]}",
                    json={"positions": step.positions},
                    headers=host,
                )
            ]
        else:
            target = made[step.secondment % len(made)]
            sid, start = target["secondment_id"], dt.date.fromisoformat(target["start_date"])
            mine = by_official[target["official"]["official_id"]]
            end = dt.date.fromisoformat(target["planned_end_date"])
            if isinstance(step, Extend):
                new_end = end + dt.timedelta(days=step.days)
                body = {"new_planned_end_date": new_end.isoformat(),
                        "decision": {"number": "2/QĐ", "date": start.isoformat()}}  # fmt: skip
                responses = [
                    await client.post(f"/api/secondments/{sid}/extension", json=body, headers=mine)
                ]
            elif isinstance(step, End):
                ended = max(start, end - dt.timedelta(days=step.early))
                body = {
                    "ended_on": ended.isoformat(),
                    "reason": "TERMINATED_EARLY" if ended < end else "COMPLETED",
                    "rating": "GOOD",
                    "decision": {"number": "3/QĐ", "date": start.isoformat()},
                }
                responses = [
                    await client.post(f"/api/secondments/{sid}/ending", json=body, headers=mine)
                ]
            else:
                responses = [
                    await client.post(
                        f"/api/secondments/{sid}/cancellation", json={"reason": "x"}, headers=mine
                    )
                ]
        for response in responses:
            assert response.status_code < 500, response.text
            if response.status_code == 201:
                made.append(response.json())
        # Agencies act one after another; each step sees the effects of the previous one.
        await settled(app)
    await _check_invariants(client, need_ids, auth.reader(issuer), list(homes.values()))


async def _check_invariants(
    client: httpx.AsyncClient,
    need_ids: list[str],
    read: dict[str, str],
    parties: list[dict[str, str]],
) -> None:
    """`read`: a report reader (needs); `parties`: the home authorities, who alone list
    their officials' secondments."""
    ref = reference_data()
    listed = [
        s
        for party in parties
        for s in (
            await client.get("/api/secondments", params={"limit": 500}, headers=party)
        ).json()["items"]
    ]
    live = [s for s in listed if s["status"] != "CANCELLED"]
    spans: dict[str, list[tuple[dt.date, dt.date]]] = {}
    for s in live:
        start = dt.date.fromisoformat(s["start_date"])
        planned_end = dt.date.fromisoformat(s["planned_end_date"])
        decided = dt.date.fromisoformat(s["decision"]["date"])
        official = s["official"]
        assert planned_end <= last_allowed_day(start, cap_for(start)), s
        assert official["ethnicity"] != "KINH", s
        assert ref.rank_at_least(official["position_rank"], "PHO_TRUONG_PHONG"), s
        assert ref.is_mountainous(official["home_unit"]["code"], decided), s
        end = dt.date.fromisoformat(s["ending"]["ended_on"]) if s["ending"] else planned_end
        spans.setdefault(official["official_id"], []).append((start, end))
    for official_id, periods in spans.items():
        periods.sort()
        for (_, first_end), (second_start, _) in itertools.pairwise(periods):
            assert first_end < second_start, f"{official_id} overlaps: {periods}"
    for need_id in need_ids:
        need = (await client.get(f"/api/needs/{need_id}", headers=read)).json()
        taken = sum(1 for s in live if s["need_id"] == need_id)
        assert taken <= need["positions"], (need, taken)
        assert need["positions_filled"] == taken


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    steps=st.lists(commands, min_size=1, max_size=12),
    positions=st.lists(st.sampled_from([1, 1, 2, 3]), min_size=2, max_size=2),
)
def test_no_accepted_command_sequence_breaks_the_plans_rules(
    steps: list[Any], positions: list[int]
) -> None:
    async def example() -> None:
        with tempfile.TemporaryDirectory() as folder:
            app = create_embedded_app(Path(folder))
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://e") as client:
                    await _run(client, app, steps, positions)

    asyncio.run(example())
