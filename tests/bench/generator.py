"""Random but plausible lifecycle event streams, as CloudEvents JSON, for the randomized
correctness test and the benchmark.

Each need and secondment is an aggregate whose events come in version order (one Kafka key,
one partition); dates follow the lifecycle loosely, and every kind of event appears:
amendments (sometimes several, sometimes moving `raised_on`), withdrawals, fills and
reopenings after cancellations, receptions, extensions (sometimes two), early and on-time ends,
post arrangements, cancellations, later promotions, and the localities' secondment plans
with their amendments. Built as plain dicts and `json.dumps` (fast enough for a
million events); the projection validates them with the contract models.
"""

import datetime as dt
import json
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from services.placement.domain.plan import MAX_OFFICIALS
from shared.contract.topics import NEEDS_SOURCE, NEEDS_TOPIC, PLACEMENT_SOURCE, PLACEMENTS_TOPIC

HOSTS_BEFORE = [  # (code, name, sector) valid up to 2025-02-28 at least
    ("SO_Y_TE", "Sở Y tế", "HEALTH"),
    ("SO_NOI_VU", "Sở Nội vụ", "HOME_AFFAIRS"),
    ("SO_GIAO_DUC_DAO_TAO", "Sở Giáo dục và Đào tạo", "EDUCATION"),
    ("SO_TAI_CHINH", "Sở Tài chính", "FINANCE"),
    ("SO_KE_HOACH_DAU_TU", "Sở Kế hoạch và Đầu tư", "PLANNING_INVESTMENT"),
    ("BAN_DAN_TOC", "Ban Dân tộc", "ETHNIC_AFFAIRS"),
]
HOSTS_AFTER = [
    ("DN_SO_Y_TE", "Sở Y tế", "HEALTH"),
    ("DN_SO_NOI_VU", "Sở Nội vụ", "HOME_AFFAIRS"),
    ("DN_SO_GIAO_DUC_DAO_TAO", "Sở Giáo dục và Đào tạo", "EDUCATION"),
    ("DN_SO_TAI_CHINH", "Sở Tài chính", "FINANCE"),
    ("DN_SO_DAN_TOC_TON_GIAO", "Sở Dân tộc và Tôn giáo", "ETHNIC_AFFAIRS"),
]
HOMES_BEFORE = [
    ("NAM_GIANG", "Huyện Nam Giang"),
    ("DONG_GIANG", "Huyện Đông Giang"),
    ("TAY_GIANG", "Huyện Tây Giang"),
    ("PHUOC_SON", "Huyện Phước Sơn"),
    ("BAC_TRA_MY", "Huyện Bắc Trà My"),
    ("NAM_TRA_MY", "Huyện Nam Trà My"),
]
HOMES_AFTER = [
    ("XA_THANH_MY", "Xã Thạnh Mỹ"),
    ("XA_SONG_KON", "Xã Sông Kôn"),
    ("XA_AVUONG", "Xã Avương"),
    ("XA_KHAM_DUC", "Xã Khâm Đức"),
    ("XA_TRA_MY", "Xã Trà My"),
    ("XA_NAM_TRA_MY", "Xã Nam Trà My"),
]
# Weighted so that some groups are small (small-cell protection has work to do).
ETHNICITIES = ["CO_TU"] * 12 + ["XO_DANG"] * 8 + ["GIE_TRIENG"] * 4 + ["CO"] * 2 + ["TA_OI", "HRE"]
RATINGS = ["EXCELLENT", "GOOD", "GOOD", "COMPLETED", "NOT_COMPLETED"]
ARRANGEMENTS = ["RETURNED_TO_FORMER_POST"] * 5 + ["PROMOTED"] * 3 + ["TRANSFERRED", "OTHER"]
REFORM = dt.date(2025, 7, 1)
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@dataclass
class Generated:
    """Events as they would be published: (topic without prefix, key, JSON bytes)."""

    messages: list[tuple[str, str, bytes]] = field(default_factory=list)
    secondments: int = 0
    needs: int = 0

    def __len__(self) -> int:
        return len(self.messages)


def _d(day: dt.date) -> str:
    return day.isoformat()


class _Stream:
    def __init__(self, out: Generated, rng: random.Random) -> None:
        self.out = out
        self.rng = rng
        self.serial = 0

    def emit(
        self, topic: str, source: str, kind: str, subject: str, version: int, data: dict[str, Any]
    ) -> None:
        self.serial += 1
        envelope = {
            "specversion": "1.0",
            "id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "source": source,
            "type": kind,
            "subject": subject,
            "time": (T0 + dt.timedelta(seconds=self.serial)).isoformat(),
            "datacontenttype": "application/json",
            "data": data,
            "aggregateversion": version,
            "correlationid": subject,
            "causationid": subject,
            "actor": "generator",
        }
        self.out.messages.append((topic, subject, json.dumps(envelope).encode()))


def _decision(number: int, day: dt.date) -> dict[str, Any]:
    return {"number": f"{number}/QĐ-UBND", "date": _d(day), "signed_by": None}


def generate(
    seed: int,
    *,
    needs: int,
    first_day: dt.date = dt.date(2024, 1, 1),
    last_day: dt.date = dt.date(2027, 6, 30),
    officials: int | None = None,
    plans: bool = True,
) -> Generated:
    """`needs` needs with their secondments and every lifecycle event, deterministic by seed."""
    rng = random.Random(seed)
    out = Generated()
    stream = _Stream(out, rng)
    span = (last_day - first_day).days
    pool = officials or max(3, int(needs * 0.9))
    people: dict[int, tuple[str, str, str]] = {}
    for _ in range(needs):
        _need(stream, rng, first_day + dt.timedelta(days=rng.randrange(span)), pool, people)
    if plans:
        # Last, and from a random stream of their own, so every other event of a seed stays
        # as it was before plans existed.
        _plans(stream, random.Random(f"plans-{seed}"), needs)
    return out


PLAN_HOMES = {  # phase → (localities, adoption window); HIEP_DUC sends no one here
    "2024-2025": ([code for code, _ in HOMES_BEFORE] + ["HIEP_DUC"], dt.date(2024, 1, 10)),
    "2026-2030": ([code for code, _ in HOMES_AFTER], dt.date(2026, 1, 10)),
}
PLAN_SECTORS = ["HEALTH", "EDUCATION", "FINANCE"]


def _plan_targets(rng: random.Random, years: range, per_year: int) -> list[dict[str, Any]]:
    """Officials per year around `per_year` (some localities ahead, some behind), part of
    some years split by sector."""
    targets = []
    for year in years:
        # At most what a plan may record (the events' bound): the bench's million events
        # make each locality send thousands a year.
        officials = min(MAX_OFFICIALS, max(0, round(per_year * rng.uniform(0.4, 1.7))))
        by_sector: list[dict[str, Any]] = []
        if officials and rng.random() < 0.5:
            left = officials
            for sector in rng.sample(PLAN_SECTORS, rng.randint(1, 2)):
                share = rng.randint(0, left)
                left -= share
                by_sector.append({"sector": sector, "officials": share})
        targets.append({"year": year, "officials": officials, "by_sector": by_sector})
    return targets


def _plans(s: _Stream, rng: random.Random, needs: int) -> None:
    """Each locality's plan per phase, adopted on a day of the phase's first months and
    amended 0–2 times (sometimes twice on one day: the later version is in force)."""
    per_year = max(1, round(needs * 0.065))  # about what one locality sends in a year
    for phase_id, (homes, first) in PLAN_HOMES.items():
        start_year = int(phase_id[:4])
        years = range(start_year, int(phase_id[5:]) + 1)
        for home in homes:
            plan_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            decided = first + dt.timedelta(days=rng.randrange(240))
            version = 1
            s.emit(
                PLACEMENTS_TOPIC,
                PLACEMENT_SOURCE,
                "SecondmentPlanAdopted",
                plan_id,
                version,
                {
                    "plan_id": plan_id,
                    "home_unit": {"code": home, "name": home},
                    "phase_id": phase_id,
                    "targets": _plan_targets(rng, years, per_year),
                    "decision": _decision(10 + version, decided),
                },
            )
            for _ in range(rng.choice([0, 1, 1, 2])):
                version += 1
                decided += dt.timedelta(days=rng.choice([0, rng.randint(30, 400)]))
                s.emit(
                    PLACEMENTS_TOPIC,
                    PLACEMENT_SOURCE,
                    "SecondmentPlanAmended",
                    plan_id,
                    version,
                    {
                        "plan_id": plan_id,
                        "targets": _plan_targets(rng, years, per_year),
                        "decision": _decision(10 + version, decided),
                        "reason": "Điều chỉnh chỉ tiêu",
                    },
                )


def _need(
    s: _Stream,
    rng: random.Random,
    raised_on: dt.date,
    pool: int,
    people: dict[int, tuple[str, str, str]],
) -> None:
    need_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    before = raised_on < REFORM
    host, host_name, sector = rng.choice(HOSTS_BEFORE if before else HOSTS_AFTER)
    if host == "SO_KE_HOACH_DAU_TU" and raised_on > dt.date(2025, 2, 28):
        host, host_name, sector = HOSTS_BEFORE[0]
    positions = rng.choice([1, 1, 1, 2, 2, 3, 4])
    version = 1
    s.out.needs += 1
    s.emit(
        NEEDS_TOPIC,
        NEEDS_SOURCE,
        "NeedRaised",
        need_id,
        version,
        {
            "need_id": need_id,
            "host_unit": {"code": host, "name": host_name},
            "sector": sector,
            "position_title": "Phó Trưởng phòng",
            "positions": positions,
            "min_rank": "PHO_TRUONG_PHONG",
            "desired_start": _d(raised_on + dt.timedelta(days=30)),
            "duration_months": 6,
            "description": "",
            "raised_on": _d(raised_on),
        },
    )
    day = raised_on
    for _ in range(rng.choice([0] * 8 + [1, 1, 2])):  # amendments before any position is filled
        version += 1
        day += dt.timedelta(days=rng.randrange(0, 15))
        data: dict[str, Any] = {"need_id": need_id, "amended_on": _d(day)}
        what = rng.randrange(4)
        if what == 0:
            positions = rng.randint(1, 4)
            data["positions"] = positions
        elif what == 1:
            data["sector"] = rng.choice(HOSTS_BEFORE + HOSTS_AFTER)[2]
        elif what == 2:
            data["raised_on"] = _d(raised_on + dt.timedelta(days=rng.randint(-10, 10)))
        else:
            code, name, _ = rng.choice(HOSTS_BEFORE[:4] if before else HOSTS_AFTER)
            data["host_unit"] = {"code": code, "name": name}
            data["positions"] = positions = rng.randint(1, 4)
        s.emit(NEEDS_TOPIC, NEEDS_SOURCE, "NeedAmended", need_id, version, data)

    wanted = rng.choice([0, 1, positions, positions, positions, positions + 1])
    filled = 0
    withdraw = rng.random() < 0.15
    start = day + dt.timedelta(days=rng.randint(5, 60))
    for _ in range(wanted):
        if filled >= positions:
            break
        start += dt.timedelta(days=rng.randint(0, 20))
        cancelled = _secondment(s, rng, need_id, host, host_name, sector, start, pool, people)
        filled += 1
        if filled == positions:
            version += 1
            s.emit(
                NEEDS_TOPIC,
                NEEDS_SOURCE,
                "NeedFilled",
                need_id,
                version,
                {"need_id": need_id, "filled_on": _d(start), "positions": positions},
            )
        if cancelled is not None:
            filled -= 1
            if filled == positions - 1:
                version += 1
                s.emit(
                    NEEDS_TOPIC,
                    NEEDS_SOURCE,
                    "NeedReopened",
                    need_id,
                    version,
                    {"need_id": need_id, "reopened_on": _d(cancelled), "positions_filled": filled},
                )
            start = max(start, cancelled)
    if withdraw and filled < positions:
        version += 1
        s.emit(
            NEEDS_TOPIC,
            NEEDS_SOURCE,
            "NeedWithdrawn",
            need_id,
            version,
            {
                "need_id": need_id,
                "withdrawn_on": _d(start + dt.timedelta(days=rng.randint(1, 90))),
                "reason": "Không còn nhu cầu",
                "positions_filled": filled,
            },
        )


def _official(
    rng: random.Random, pool: int, people: dict[int, tuple[str, str, str]], start: dt.date
) -> tuple[str, dict[str, Any]]:
    n = rng.randrange(pool)
    if n not in people:
        people[n] = (f"OFF-{n:07d}", rng.choice(ETHNICITIES), rng.choice("FM"))
    official_id, ethnicity, gender = people[n]
    home, home_name = rng.choice(HOMES_BEFORE if start < REFORM else HOMES_AFTER)
    return official_id, {
        "official_id": official_id,
        "full_name": "Alăng Thị Hoa",
        "gender": gender,
        "birth_date": "1985-03-02",
        "ethnicity": ethnicity,
        "ethnic_subgroup": None,
        "service_category": "CIVIL_SERVANT",
        "position_rank": "PHO_TRUONG_PHONG",
        "home_unit": {"code": home, "name": home_name},
    }


def _secondment(
    s: _Stream,
    rng: random.Random,
    need_id: str,
    host: str,
    host_name: str,
    sector: str,
    start: dt.date,
    pool: int,
    people: dict[int, tuple[str, str, str]],
) -> dt.date | None:
    """Emit one secondment's events; returns its cancellation date if it was cancelled."""
    sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    official_id, official = _official(rng, pool, people, start)
    host_ref = {"code": host, "name": host_name}
    months = rng.randint(3, 6)
    planned = start + dt.timedelta(days=30 * months - 1)
    decided = start - dt.timedelta(days=rng.randint(3, 20))
    v = 1
    s.out.secondments += 1
    s.emit(
        PLACEMENTS_TOPIC,
        PLACEMENT_SOURCE,
        "OfficerSeconded",
        sid,
        v,
        {
            "secondment_id": sid,
            "need_id": need_id,
            "official": official,
            "host_unit": {"code": host, "name": host_name},
            "sector": sector,
            "start_date": _d(start),
            "planned_end_date": _d(planned),
            "decision": _decision(v, decided),
        },
    )
    if rng.random() < 0.05:
        v += 1
        cancelled = start + dt.timedelta(days=rng.randint(0, 10))
        s.emit(
            PLACEMENTS_TOPIC,
            PLACEMENT_SOURCE,
            "SecondmentCancelled",
            sid,
            v,
            {
                "secondment_id": sid,
                "need_id": need_id,
                "reason": "Nhập nhầm",
                "cancelled_on": _d(cancelled),
            },
        )
        return cancelled
    if rng.random() < 0.9:
        v += 1
        s.emit(
            PLACEMENTS_TOPIC,
            PLACEMENT_SOURCE,
            "OfficialReceived",
            sid,
            v,
            {
                "secondment_id": sid,
                "received_on": _d(start + dt.timedelta(days=rng.randint(0, 5))),
                "assigned_role": "Chuyên viên",
                "supervisor": None,
            },
        )
    for _ in range(rng.choice([0] * 6 + [1, 1, 2])):
        v += 1
        decided_on = start + dt.timedelta(days=rng.randint(20, 150))
        planned = planned + dt.timedelta(days=rng.randint(5, 40))
        s.emit(
            PLACEMENTS_TOPIC,
            PLACEMENT_SOURCE,
            "SecondmentExtended",
            sid,
            v,
            {
                "secondment_id": sid,
                "new_planned_end_date": _d(planned),
                "decision": _decision(v, decided_on),
            },
        )
    if rng.random() < 0.75:
        v += 1
        early = rng.random() < 0.25
        ended_on = (
            start + dt.timedelta(days=rng.randint(20, max(21, (planned - start).days - 1)))
            if early
            else planned + dt.timedelta(days=rng.choice([0, 0, 0, 1, 7]))
        )
        s.emit(
            PLACEMENTS_TOPIC,
            PLACEMENT_SOURCE,
            "SecondmentEnded",
            sid,
            v,
            {
                "secondment_id": sid,
                "official_id": official_id,
                "ended_on": _d(ended_on),
                "reason": "TERMINATED_EARLY" if early else "COMPLETED",
                "rating": rng.choice(RATINGS),
                "remarks": None,
                "decision": _decision(v, ended_on),
            },
        )
        for _ in range(rng.choice([0, 0, 1, 1, 1, 1, 2])):
            v += 1
            arrangement = rng.choice(ARRANGEMENTS)
            s.emit(
                PLACEMENTS_TOPIC,
                PLACEMENT_SOURCE,
                "PostSecondmentArranged",
                sid,
                v,
                {
                    "secondment_id": sid,
                    "official_id": official_id,
                    "arrangement": arrangement,
                    "new_position_rank": "TRUONG_PHONG" if arrangement == "PROMOTED" else None,
                    "effective_date": _d(ended_on + dt.timedelta(days=rng.randint(0, 40))),
                    # from a generator of its own: every other event of a seed stays as it was
                    "destination_unit": random.Random(f"destination-{sid}-{v}").choice(
                        [None, official["home_unit"], official["home_unit"], host_ref]
                    ),
                },
            )
        # Later promotions draw from their own generator, so every other event of a seed stays
        # as it was before they existed.
        later = random.Random(sid)
        promoted_on = ended_on + dt.timedelta(days=40)
        for rank in ("PHO_CHU_TICH_UBND_HUYEN", "CHU_TICH_UBND_HUYEN")[
            : later.choice([0, 0, 1, 2])
        ]:
            v += 1
            promoted_on += dt.timedelta(days=later.randint(1, 200))
            s.emit(
                PLACEMENTS_TOPIC,
                PLACEMENT_SOURCE,
                "OfficialPromotedAfterReturn",
                sid,
                v,
                {
                    "secondment_id": sid,
                    "official_id": official_id,
                    "new_position_rank": rank,
                    "promoted_on": _d(promoted_on),
                    "destination_unit": None,
                    "post_title": None,
                    "decision": _decision(v, promoted_on),
                },
            )
    return None


def delivery_order(
    generated: Generated, seed: int, *, duplicates: float = 0.05
) -> list[tuple[str, str, bytes]]:
    """The messages as a broker could deliver them: each aggregate's events keep their order
    (one key, one partition), the two topics are interleaved at random (a third of the
    placements first, so secondments land before their needs), and some messages come again
    later (as after a relay crash before it marked its outbox rows)."""
    rng = random.Random(seed)
    by_topic: dict[str, list[tuple[str, str, bytes]]] = {NEEDS_TOPIC: [], PLACEMENTS_TOPIC: []}
    again: dict[str, list[tuple[str, str, bytes]]] = {NEEDS_TOPIC: [], PLACEMENTS_TOPIC: []}
    for message in generated.messages:
        by_topic[message[0]].append(message)
        if rng.random() < duplicates:
            again[message[0]].append(message)
    for topic, extra in again.items():
        rng.shuffle(extra)
        by_topic[topic].extend(extra)
    needs, placements = by_topic[NEEDS_TOPIC], by_topic[PLACEMENTS_TOPIC]
    head = len(placements) // 3
    out = placements[:head]
    i, j, tail = 0, 0, placements[head:]
    while i < len(tail) or j < len(needs):
        if j >= len(needs) or (i < len(tail) and rng.random() < 0.5):
            out.append(tail[i])
            i += 1
        else:
            out.append(needs[j])
            j += 1
    return out
