"""The workload driver: rule-abiding commands over HTTP, each with an `Idempotency-Key`,
retried with the same key on timeout, connection error, 5xx or a transient 409/503 until it is
answered, and a ledger of what was accepted (the suite's independent record of the truth).

Every need is raised in phase 2024–2025 and every secondment starts and ends in it, so the
figures reporting must show as of 2025-12-31 follow from the ledger alone (`expected`)."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

HOSTS = (("SO_Y_TE", "HEALTH"), ("SO_GIAO_DUC_DAO_TAO", "EDUCATION"), ("SO_TAI_CHINH", "FINANCE"))
HOMES = ("NAM_GIANG", "DONG_GIANG", "TAY_GIANG", "PHUOC_SON", "BAC_TRA_MY")
RATINGS = ("EXCELLENT", "GOOD", "COMPLETED", "NOT_COMPLETED")
ARRANGEMENTS = ("RETURNED_TO_FORMER_POST", "PROMOTED", "TRANSFERRED", "OTHER")
RETRIED_RULES = frozenset({"CONCURRENT_UPDATE", "NEED_NOT_YET_KNOWN"})
"""Refusals that say "not now", not "no": the same request is sent again."""
AS_OF = "2025-12-31"


@dataclass
class NeedRecord:
    need_id: str
    host: str
    positions: int
    withdrawn: bool = False


@dataclass
class SecondmentRecord:
    secondment_id: str
    need_id: str
    home: str
    official_id: str
    cancelled: bool = False
    received: bool = False
    extended: bool = False
    ended: tuple[str, str] | None = None
    """(reason, rating) once ended."""
    arrangement: str | None = None


@dataclass
class Ledger:
    """What the services accepted, as the driver saw it."""

    needs: dict[str, NeedRecord] = field(default_factory=dict)
    secondments: dict[str, SecondmentRecord] = field(default_factory=dict)
    accepted: Counter[str] = field(default_factory=Counter)
    """Accepted commands by kind."""
    refused: list[tuple[str, int, str]] = field(default_factory=list)
    """(kind, status, rule) of refusals a rule-abiding workload should never get."""
    unanswered: list[str] = field(default_factory=list)
    server_errors: list[tuple[float, str, int]] = field(default_factory=list)
    """(time, kind, status) of every 5xx answer seen (each was retried)."""
    retries: int = 0

    @property
    def total(self) -> int:
        return sum(self.accepted.values())


def expected(ledger: Ledger) -> dict[str, Any]:
    """The figures of phase 2024-2025 as of 2025-12-31 implied by the ledger (docs/reporting.md)."""
    live = [s for s in ledger.secondments.values() if not s.cancelled]
    per_need = Counter(s.need_id for s in live)
    needs = ledger.needs.values()
    filled = sum(1 for n in needs if not n.withdrawn and per_need[n.need_id] >= n.positions)
    withdrawn = sum(1 for n in needs if n.withdrawn)
    ended = [s for s in live if s.ended]
    active = len(live) - len(ended)
    return {
        "needs": {
            "raised": len(ledger.needs),
            "withdrawn": withdrawn,
            "filled": filled,
            "open": len(ledger.needs) - withdrawn - filled,
            "positions_requested": sum(n.positions for n in needs),
            "positions_filled": sum(min(per_need[n.need_id], n.positions) for n in needs),
        },
        "secondments": {
            "started": len(live),
            "active": active,
            "ended": len(ended),
            "completed": sum(1 for s in ended if s.ended and s.ended[0] == "COMPLETED"),
            "terminated_early": sum(1 for s in ended if s.ended and s.ended[0] != "COMPLETED"),
            # Every planned end (2025) is before the as-of date: what is still active is late.
            "overdue": active,
            "officials": len({s.official_id for s in live}),
        },
        "ratings": dict(Counter(s.ended[1] for s in ended if s.ended)),
        "post_arrangements": dict(Counter(s.arrangement for s in ended if s.arrangement)),
    }


def compare(expected_figures: dict[str, Any], evaluation: dict[str, Any]) -> list[str]:
    """Every figure that differs, as `path: expected → got`."""
    out = []
    for block in ("needs", "secondments"):
        for name, want in expected_figures[block].items():
            got = evaluation.get(block, {}).get(name)
            if got != want:
                out.append(f"{block}.{name}: {want} → {got}")
    for block in ("ratings", "post_arrangements"):
        want_map: dict[str, int] = expected_figures[block]
        got_map = {k: v for k, v in (evaluation.get(block) or {}).items() if v}
        if want_map != got_map:
            out.append(f"{block}: {want_map} → {got_map}")
    return out


class Answered(Exception):
    """A command refused for good (a 4xx the workload did not expect)."""


@dataclass
class Endpoints:
    """The replicas' base URLs of each service (the driver spreads requests over them)."""

    needs: Sequence[str]
    placement: Sequence[str]


class Driver:
    """Runs lifecycles in `workers` concurrent loops until `stop_at`, retrying every command
    until it is answered (or `give_up` seconds passed)."""

    def __init__(
        self,
        endpoints: Endpoints,
        tokens: Callable[[str, tuple[str, ...]], str],
        seed: int,
        *,
        workers: int = 4,
        give_up: float = 240.0,
    ) -> None:
        self.endpoints = endpoints
        self.ledger = Ledger()
        self._seed = seed
        self._workers = workers
        self._give_up = give_up
        self._token = tokens
        self._headers: dict[str, dict[str, str]] = {}
        self._rr = itertools.count()
        self._officials = itertools.count(1)

    def _auth(self, agency: str, scopes: tuple[str, ...]) -> dict[str, str]:
        key = f"{agency}:{scopes}"
        if key not in self._headers:
            self._headers[key] = {"Authorization": f"Bearer {self._token(agency, scopes)}"}
        return self._headers[key]

    async def run(self, stop_at: float) -> Ledger:
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=2.0)) as client:
            await asyncio.gather(*(self._worker(client, w, stop_at) for w in range(self._workers)))
        return self.ledger

    async def _worker(self, client: httpx.AsyncClient, worker: int, stop_at: float) -> None:
        rng = random.Random(self._seed * 1000 + worker)
        while time.monotonic() < stop_at:
            try:
                await self._lifecycle(client, rng)
            except Answered:
                continue  # noted in the ledger; the next lifecycle starts

    async def send(
        self,
        client: httpx.AsyncClient,
        kind: str,
        urls: Sequence[str],
        path: str,
        body: dict[str, Any],
        headers: dict[str, str],
    ) -> dict[str, Any]:
        """POST until answered; the same key every time, the replicas in turn."""
        key = str(uuid.uuid4())
        started = time.monotonic()
        delay = 0.2
        while True:
            url = urls[next(self._rr) % len(urls)]
            try:
                response = await client.post(
                    url + path, json=body, headers=headers | {"Idempotency-Key": key}
                )
            except httpx.HTTPError:
                response = None
            if response is not None:
                if response.status_code < 300:
                    self.ledger.accepted[kind] += 1
                    answer: dict[str, Any] = response.json()
                    return answer
                rule = ""
                if response.headers.get("content-type", "").endswith("json"):
                    rule = str(response.json().get("rule", ""))
                if response.status_code >= 500:
                    self.ledger.server_errors.append((time.time(), kind, response.status_code))
                elif rule not in RETRIED_RULES:
                    self.ledger.refused.append((kind, response.status_code, rule))
                    raise Answered(kind)
            if time.monotonic() - started > self._give_up:
                self.ledger.unanswered.append(kind)
                raise Answered(kind)
            self.ledger.retries += 1
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 2.0)

    async def _lifecycle(self, client: httpx.AsyncClient, rng: random.Random) -> None:
        host, sector = rng.choice(HOSTS)
        host_h = self._auth(host, ("needs:write", "reception:write"))
        positions = rng.choice((1, 2, 2, 3))
        need = await self.send(
            client,
            "RaiseNeed",
            self.endpoints.needs,
            "/api/needs",
            {
                "host_unit": host,
                "sector": sector,
                "position_title": "Phó Trưởng phòng",
                "positions": positions,
                "min_rank": "PHO_TRUONG_PHONG",
                "desired_start": "2024-09-01",
                "duration_months": 6,
                "description": "Tăng cường cán bộ người dân tộc thiểu số",
                "raised_on": "2024-08-01",
            },
            host_h,
        )
        need_id = str(need["need_id"])
        self.ledger.needs[need_id] = NeedRecord(need_id, host, positions)
        if rng.random() < 0.1:
            await self.send(
                client,
                "WithdrawNeed",
                self.endpoints.needs,
                f"/api/needs/{need_id}/withdrawal",
                {"reason": "Không còn nhu cầu", "withdrawn_on": "2024-08-15"},
                host_h,
            )
            self.ledger.needs[need_id].withdrawn = True
            return
        for _ in range(rng.randint(1, positions)):
            await self._secondment(client, rng, need_id, host_h)

    async def _secondment(
        self, client: httpx.AsyncClient, rng: random.Random, need_id: str, host_h: dict[str, str]
    ) -> None:
        home = rng.choice(HOMES)
        home_h = self._auth(home, ("secondments:write",))
        official_id = f"{home[:2]}-{self._seed}-{next(self._officials):06d}"
        urls = self.endpoints.placement
        extend = rng.random() < 0.3
        seconded = await self.send(
            client,
            "SecondOfficial",
            urls,
            "/api/secondments",
            {
                "need_id": need_id,
                "official": {
                    "official_id": official_id,
                    "full_name": "Alăng Thị Hoa",
                    "gender": rng.choice("FM"),
                    "birth_date": "1985-03-02",
                    "ethnicity": "CO_TU",
                    "service_category": "CIVIL_SERVANT",
                    "position_rank": "PHO_TRUONG_PHONG",
                    "home_unit": home,
                },
                "start_date": "2024-09-01",
                "planned_end_date": "2024-12-31" if extend else "2025-02-28",
                "decision": {"number": "123/QĐ-UBND", "date": "2024-08-20"},
            },
            home_h,
        )
        sid = str(seconded["secondment_id"])
        record = SecondmentRecord(sid, need_id, home, official_id)
        self.ledger.secondments[sid] = record
        base = f"/api/secondments/{sid}"
        if rng.random() < 0.12:
            await self.send(
                client,
                "CancelSecondment",
                urls,
                f"{base}/cancellation",
                {"reason": "Nhập nhầm", "cancelled_on": "2024-08-25"},
                home_h,
            )
            record.cancelled = True
            return
        await self.send(
            client,
            "RecordReception",
            urls,
            f"{base}/reception",
            {"received_on": "2024-09-03", "assigned_role": "Chuyên viên"},
            host_h,
        )
        record.received = True
        if extend:
            await self.send(
                client,
                "ExtendSecondment",
                urls,
                f"{base}/extension",
                {
                    "new_planned_end_date": "2025-02-28",
                    "decision": {"number": "200/QĐ-UBND", "date": "2024-12-01"},
                },
                home_h,
            )
            record.extended = True
        if rng.random() < 0.15:
            return  # left active (overdue as of the end of the phase)
        early = rng.random() < 0.2
        reason = "TERMINATED_EARLY" if early else "COMPLETED"
        rating = rng.choice(RATINGS)
        await self.send(
            client,
            "EndSecondment",
            urls,
            f"{base}/ending",
            {
                "ended_on": "2024-12-15" if early else "2025-02-28",
                "reason": reason,
                "rating": rating,
                "decision": {"number": "45/QĐ-UBND", "date": "2024-12-10"},
            },
            home_h,
        )
        record.ended = (reason, rating)
        if rng.random() < 0.7:
            arrangement = rng.choice(ARRANGEMENTS)
            body: dict[str, Any] = {"arrangement": arrangement, "effective_date": "2025-03-15"}
            if arrangement == "PROMOTED":
                body["new_position_rank"] = "TRUONG_PHONG"
            await self.send(
                client, "ArrangePostSecondment", urls, f"{base}/post-arrangement", body, home_h
            )
            record.arrangement = arrangement
