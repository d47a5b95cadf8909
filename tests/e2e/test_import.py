"""The import of a 1,000-row spreadsheet of historical decisions with deliberate errors: the
good rows are recorded, the bad ones reported with their rule codes, and a second run
changes nothing. Also the command itself on a small CSV against `python -m services.embedded`.
"""

import csv
import datetime as dt
import random
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from openpyxl import Workbook

from services.embedded.app import create_embedded_app, keys_dir, settled
from services.importer import ImportReport, import_rows, read_xlsx
from services.importer.auth import DevTokens, Role
from services.importer.columns import BY_NAME, COLUMNS, Group, columns_of
from shared.phases import add_months
from tests.e2e.test_embedded_default import ROOT, embedded

pytestmark = pytest.mark.e2e

PHASE = "/api/reports/phases/2024-2025/evaluation"
AS_OF = {"as_of": "2025-12-31"}

HOSTS = [
    ("SO_Y_TE", "HEALTH", ["Phó Trưởng phòng Nghiệp vụ Y", "Phó Trưởng phòng Kế hoạch"]),
    ("SO_GIAO_DUC_DAO_TAO", "EDUCATION", ["Phó Trưởng phòng Giáo dục dân tộc"]),
    ("SO_NOI_VU", "HOME_AFFAIRS", ["Phó Trưởng phòng Tổ chức biên chế"]),
    ("SO_TAI_CHINH", "FINANCE", ["Phó Trưởng phòng Ngân sách"]),
]
HOMES = [
    "NAM_GIANG", "DONG_GIANG", "TAY_GIANG", "PHUOC_SON", "BAC_TRA_MY",
    "NAM_TRA_MY", "HIEP_DUC", "TIEN_PHUOC", "NONG_SON",
]  # fmt: skip
PEOPLE: list[tuple[str, list[str | None], list[str]]] = [
    ("CO_TU", [None], ["Alăng Thị Hoa", "Bhriu Văn Liếc", "Zơ Râm Thị Đào", "Clâu Nhân"]),
    ("XO_DANG", ["CA_DONG", None], ["Hồ Văn Tư", "Hồ Thị Bích", "Đinh Thị Hiền"]),
    ("GIE_TRIENG", ["VE", None], ["A Lăng Văn Hùng", "Hồ Thị Nươi", "Zơ Râm Đức"]),
    ("CO", [None], ["Hồ Văn Thanh", "Đinh Thị Lý"]),
]
ROLES = ["Theo dõi chương trình mục tiêu", "Phụ trách công tác dân tộc", "Tổng hợp, báo cáo"]
RATINGS = ["EXCELLENT", "GOOD", "GOOD", "COMPLETED", "NOT_COMPLETED"]
LAST_DECISION = dt.date(2025, 6, 24)  # districts are abolished on 2025-07-01
BAD_KINDS = [
    ("secondment", "OFFICIAL_NOT_ETHNIC_MINORITY"),
    ("secondment", "HOME_UNIT_NOT_MOUNTAINOUS"),
    ("secondment", "DURATION_OVER_CAP"),
    ("secondment", "UNKNOWN_CODE"),
    ("need", "UNKNOWN_CODE"),
    ("secondment", "OVERLAPPING_SECONDMENT"),
    ("read", "INVALID_REQUEST"),
    ("ending", "LIFECYCLE_ORDER"),
]


@dataclass
class Official:
    """An official of the generated history, free again from `free_from`."""

    official_id: str
    full_name: str
    gender: str
    birth_date: dt.date
    ethnicity: str
    subgroup: str | None
    category: str
    rank: str
    home: str
    free_from: dt.date = dt.date.min


@dataclass
class Dataset:
    """Rows (canonical column → value) and what importing them must do."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    needs_raised: int = 0
    refusals: dict[int, tuple[str, str]] = field(default_factory=dict)
    """Spreadsheet row number → (step, rule)."""

    def expected(self) -> dict[str, int]:
        """Evaluation counts the good rows (and the rows refused after their secondment) give."""
        refused_before = {
            n for n, (step, _) in self.refusals.items() if step in ("read", "need", "secondment")
        }
        seconded = [r for n, r in enumerate(self.rows, 2) if n not in refused_before]
        ended = [
            r for n, r in enumerate(self.rows, 2) if n not in self.refusals and r.get("ended_on")
        ]
        return {
            "raised": self.needs_raised,
            "started": len(seconded),
            "ended": len(ended),
            "completed": sum(1 for r in ended if r["end_reason"] == "COMPLETED"),
            "terminated_early": sum(1 for r in ended if r["end_reason"] == "TERMINATED_EARLY"),
            "officials": len({r["official_id"] for r in seconded}),
        }


def _official(rng: random.Random, serial: int, home: str, rank: str) -> Official:
    ethnicity, subgroups, names = rng.choice(PEOPLE)
    name = rng.choice(names)
    return Official(
        official_id=f"CB-{serial:05d}",
        full_name=name,
        gender="F" if " Thị " in f" {name} " else "M",
        birth_date=dt.date(rng.randint(1970, 1992), rng.randint(1, 12), rng.randint(1, 28)),
        ethnicity=ethnicity,
        subgroup=rng.choice(subgroups),
        category=rng.choice(["CADRE", "CIVIL_SERVANT", "CIVIL_SERVANT", "PUBLIC_EMPLOYEE"]),
        rank=rank,
        home=home,
    )


def _row(need: dict[str, Any], o: Official, start: dt.date, months: int, decision: str,
         decided: dt.date, rng: random.Random) -> dict[str, Any]:  # fmt: skip
    """One full historical row: need, official, decision, reception, ending, arrangement."""
    end = add_months(start, months) - dt.timedelta(days=1)
    row = need | {
        "official_id": o.official_id, "full_name": o.full_name, "gender": o.gender,
        "birth_date": o.birth_date, "ethnicity": o.ethnicity, "ethnic_subgroup": o.subgroup,
        "service_category": o.category, "position_rank": o.rank, "home_unit": o.home,
        "start_date": start, "planned_end_date": end, "decision_number": decision,
        "decision_date": decided,
        "signed_by": "Chủ tịch UBND huyện",
    }  # fmt: skip
    if rng.random() < 0.9:
        row |= {"received_on": start + dt.timedelta(days=rng.randint(0, 3)),
                "assigned_role": rng.choice(ROLES)}  # fmt: skip
    if rng.random() < 0.85:
        early = rng.random() < 0.2
        ended_on = end - dt.timedelta(days=rng.randint(20, 40)) if early else end
        row |= {
            "ended_on": ended_on, "end_reason": "TERMINATED_EARLY" if early else "COMPLETED",
            "rating": rng.choice(RATINGS), "remarks": "Hoàn thành nhiệm vụ được giao",
            "end_decision_number": f"{decision}-KT",
            "end_decision_date": ended_on - dt.timedelta(days=rng.randint(3, 10)),
        }  # fmt: skip
        if rng.random() < 0.8:
            promoted = o.rank == "PHO_TRUONG_PHONG" and rng.random() < 0.15
            row |= {
                "arrangement": "PROMOTED" if promoted else "RETURNED_TO_FORMER_POST",
                "new_position_rank": "TRUONG_PHONG" if promoted else None,
                "effective_date": ended_on + dt.timedelta(days=rng.randint(1, 5)),
            }
            if promoted:
                o.rank = "TRUONG_PHONG"
    o.free_from = end + dt.timedelta(days=10)
    return row


def _drop(row: dict[str, Any], *groups: Group) -> None:
    """Leave these optional groups blank."""
    for group in groups:
        for column in columns_of(group):
            row.pop(column.name, None)


def generate(total: int = 1000, bad_share: float = 0.05, seed: int = 2024) -> Dataset:
    """A plausible phase-2024–2025 history and ~5% deliberately bad rows, in file order."""
    rng = random.Random(seed)
    bad_count = round(total * bad_share)
    good: list[dict[str, Any]] = []
    officials: list[Official] = []
    taken_keys: set[tuple[str, str, dt.date]] = set()
    data = Dataset()
    need_serial = decision_serial = 0
    raised_on = dt.date(2024, 1, 2)
    while len(good) < total - bad_count:
        need_serial += 1
        host, sector, titles = rng.choice(HOSTS)
        title = rng.choice(titles)
        raised_on += dt.timedelta(days=rng.randint(0, 2))
        if raised_on > dt.date(2025, 5, 20):
            raised_on = dt.date(2024, 1, 2) + dt.timedelta(days=rng.randint(0, 30))
        use_ref = rng.random() < 0.5
        day = raised_on
        while not use_ref and (host, title, day) in taken_keys:
            day += dt.timedelta(days=1)
        taken_keys.add((host, title, day))
        positions = rng.choice([1, 1, 2, 2, 3])
        min_rank = "TRUONG_PHONG" if rng.random() < 0.2 else "PHO_TRUONG_PHONG"
        start = day + dt.timedelta(days=rng.randint(20, 35))
        need = {
            "need_ref": f"NC-{need_serial:04d}" if use_ref else None,
            "host_unit": host, "sector": sector, "position_title": title,
            "positions": positions, "min_rank": min_rank, "desired_start": start,
            "duration_months": 6, "raised_on": day,
        }  # fmt: skip
        data.needs_raised += 1
        filled = positions if rng.random() < 0.8 else max(1, positions - 1)
        for _ in range(filled):
            decision_serial += 1
            decided = start - dt.timedelta(days=rng.randint(5, 15))
            free = [
                o for o in officials
                if o.free_from < start and (o.home != "NONG_SON" or decided.year == 2024)
                and (min_rank == "PHO_TRUONG_PHONG" or o.rank == "TRUONG_PHONG")
            ]  # fmt: skip
            if free and rng.random() < 0.4:
                official = rng.choice(free)
            else:
                homes = [h for h in HOMES if h != "NONG_SON" or decided.year == 2024]
                rank = "TRUONG_PHONG" if min_rank == "TRUONG_PHONG" else rng.choice(
                    ["PHO_TRUONG_PHONG", "PHO_TRUONG_PHONG", "TRUONG_PHONG"]
                )  # fmt: skip
                official = _official(rng, len(officials) + 1, rng.choice(homes), rank)
                officials.append(official)
            months = rng.choice([3, 4, 5, 6, 6])
            good.append(
                _row(need, official, start, months, f"{decision_serial}/QĐ-UBND", decided, rng)
            )
    good.sort(key=lambda r: (r["start_date"], r["need_ref"] or "", r["official_id"]))

    # deliberate errors: each in a need of its own, inserted at random places
    rows: list[dict[str, Any]] = list(good)
    expected_by_id: dict[int, tuple[str, str]] = {}
    for i in range(bad_count):
        step, rule = BAD_KINDS[i % len(BAD_KINDS)]
        decision_serial += 1
        base_start = dt.date(2024, 3, 1) + dt.timedelta(days=rng.randint(0, 420))
        need = {
            "need_ref": f"LOI-{i:03d}", "host_unit": "SO_NOI_VU", "sector": "HOME_AFFAIRS",
            "position_title": "Phó Trưởng phòng Công tác thanh niên", "positions": 1,
            "min_rank": "PHO_TRUONG_PHONG", "desired_start": base_start, "duration_months": 6,
            "raised_on": base_start - dt.timedelta(days=30),
        }  # fmt: skip
        fresh = _official(rng, 90000 + i, "NAM_TRA_MY", "TRUONG_PHONG")
        fresh.official_id = f"LOI-CB-{i:03d}"
        decided = base_start - dt.timedelta(days=10)
        bad = _row(need, fresh, base_start, 6, f"{decision_serial}/QĐ-UBND", decided, rng)
        at = rng.randint(0, len(rows))
        match (step, rule):
            case ("secondment", "OFFICIAL_NOT_ETHNIC_MINORITY"):
                bad |= {"ethnicity": "KINH", "ethnic_subgroup": None, "full_name": "Nguyễn Văn An"}
            case ("secondment", "HOME_UNIT_NOT_MOUNTAINOUS"):
                bad["home_unit"] = rng.choice(["TAM_KY", "DIEN_BAN", "THANG_BINH"])
            case ("secondment", "DURATION_OVER_CAP"):
                bad["planned_end_date"] = add_months(base_start, 7) - dt.timedelta(days=1)
            case ("secondment", "UNKNOWN_CODE"):
                bad |= {"ethnicity": "XA_DANG", "ethnic_subgroup": None}
            case ("need", "UNKNOWN_CODE"):
                bad["host_unit"] = "SO_KHONG_TON_TAI"
            case ("secondment", "OVERLAPPING_SECONDMENT"):
                index = rng.randrange(len(good) // 2)
                original = good[index]
                start = original["start_date"] + dt.timedelta(days=7)
                bad |= {k: original[k] for k in BY_NAME if BY_NAME[k].group.value == "official"}
                bad |= {"start_date": start, "desired_start": start,
                        "planned_end_date": add_months(start, 3) - dt.timedelta(days=1),
                        "decision_date": start - dt.timedelta(days=3)}  # fmt: skip
                _drop(bad, Group.RECEPTION, Group.ENDING, Group.POST_ARRANGEMENT)
                at = rows.index(original) + 1 + rng.randint(0, 30)
            case ("read", _):
                column, text = rng.choice(
                    [("start_date", "31/02/2025"), ("birth_date", "ngày 5 tháng 9"),
                     ("decision_date", "2024-13-01"), ("positions", "hai")]
                )  # fmt: skip
                bad[column] = text
            case ("ending", _):
                bad["ended_on"] = bad["planned_end_date"]
                bad["end_reason"], bad["rating"] = "COMPLETED", "GOOD"
                bad["end_decision_number"] = f"{decision_serial}-KT"
                bad["end_decision_date"] = bad["ended_on"] + dt.timedelta(days=5)
                _drop(bad, Group.POST_ARRANGEMENT)
        if step not in ("read", "need"):
            data.needs_raised += 1
        rows.insert(at, bad)
        expected_by_id[id(bad)] = (step, rule)
    data.rows = rows
    data.refusals = {
        n: expected_by_id[id(r)] for n, r in enumerate(rows, 2) if id(r) in expected_by_id
    }
    return data


def _cell(value: Any, *, as_text: bool) -> Any:
    if value is None:
        return None
    if isinstance(value, dt.date) and as_text:
        return value.isoformat()
    return value


def write_xlsx(data: Dataset, path: Path) -> None:
    """Vietnamese headers, dates as date cells (a few as day-first text, as people type them)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Biệt phái")
    sheet.append([c.vi[0] for c in COLUMNS])
    for i, row in enumerate(data.rows):
        values = [row.get(c.name) for c in COLUMNS]
        if i % 50 == 7:  # typed by hand: 01/09/2024
            values = [v.strftime("%d/%m/%Y") if isinstance(v, dt.date) else v for v in values]
        sheet.append(values)
    workbook.save(path)


def write_csv(data: Dataset, path: Path) -> None:
    """English headers, ISO dates."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([c.name for c in COLUMNS])
        for row in data.rows:
            writer.writerow(["" if row.get(c.name) is None else _cell(row[c.name], as_text=True)
                             for c in COLUMNS])  # fmt: skip


# ------------------------------------------------------------------ the API, observed


async def _all(
    client: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": "500"} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(url, params=params, headers=headers)).json()
        items.extend(page["items"])
        if not (cursor := page["next_cursor"]):
            return items


async def _evaluation(embedded: "Embedded", want: dict[str, int]) -> dict[str, Any]:
    """The evaluation once every event has reached the reporting projections."""
    await settled(embedded.app)
    ev: dict[str, Any] = (await embedded.client.get(PHASE, params=AS_OF)).json()
    got = {"raised": ev["needs"]["raised"]} | {
        k: ev["secondments"][k] for k in want if k != "raised"
    }
    assert got == want
    return ev


def _event_counts(data_dir: Path) -> dict[str, int]:
    """Events in each service's store, read straight from the embedded SQLite files."""
    counts = {}
    for name in ("needs", "placement"):
        with sqlite3.connect(f"file:{data_dir / name}.db?mode=ro", uri=True) as db:
            counts[name] = db.execute("SELECT count(*) FROM event_store").fetchone()[0]
    return counts


def _home(tokens: DevTokens, unit: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.token(Role.HOME, unit)}"}


async def _secondments(client: httpx.AsyncClient, tokens: DevTokens) -> list[dict[str, Any]]:
    """Every secondment, as the home authorities list them (report readers see none)."""
    listed = [s for h in HOMES for s in await _all(client, "/api/secondments", _home(tokens, h))]
    return sorted(listed, key=lambda s: str(s["secondment_id"]))


async def _histories(
    client: httpx.AsyncClient, tokens: DevTokens, secondments: list[dict[str, Any]]
) -> list[int]:
    """Events per secondment through `GET /api/secondments/{id}/history` (its home reads)."""
    lengths = []
    for s in secondments:
        home = _home(tokens, s["official"]["home_unit"]["code"])
        history = await client.get(f"/api/secondments/{s['secondment_id']}/history", headers=home)
        lengths.append(len(history.json()))
    return lengths


@dataclass
class Embedded:
    """A fresh embedded app (three services, SQLite files in `data_dir`), a client that reads
    as leadership, and the development tokens the import acts with."""

    client: httpx.AsyncClient
    data_dir: Path
    tokens: DevTokens
    app: FastAPI


@pytest.fixture
async def embedded_app(tmp_path: Path) -> AsyncIterator[Embedded]:
    data_dir = tmp_path / "var"
    app = create_embedded_app(data_dir)
    tokens = DevTokens(keys_dir(data_dir))
    reader = {"Authorization": f"Bearer {tokens.token(Role.READER, None)}"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://embedded", headers=reader
        ) as client:
            yield Embedded(client, data_dir, tokens, app)


def _refusals(report: ImportReport) -> dict[int, tuple[str, str]]:
    return {
        r.row.number: (r.refusal.step.value, r.refusal.rule)
        for r in report.refused
        if r.refusal is not None
    }


async def test_a_thousand_rows_with_errors_import_once_and_a_second_run_changes_nothing(
    embedded_app: Embedded, tmp_path: Path
) -> None:
    api, clock = embedded_app.client, time.monotonic()
    data = generate(1000)
    assert len(data.rows) == 1000
    assert len(data.refusals) == 50
    path = tmp_path / "bietphai.xlsx"
    write_xlsx(data, path)
    rows = read_xlsx(path)
    read_s = time.monotonic() - clock

    first = await import_rows(rows, api, tokens=embedded_app.tokens)

    assert first.aborted is None
    assert _refusals(first) == data.refusals
    assert first.imported == 1000 - len(data.refusals)
    assert first.present == 0
    want = data.expected()
    evaluation = await _evaluation(embedded_app, want)
    secondments = await _secondments(api, embedded_app.tokens)
    assert Counter(s["status"] for s in secondments) == {
        "ENDED": want["ended"], "ACTIVE": want["started"] - want["ended"]
    }  # fmt: skip
    needs = await _all(api, "/api/needs")
    assert len(needs) == want["raised"]
    full = next(r for r in first.results if len(r.recorded) == 5)
    (listed,) = [s for s in secondments if s["secondment_id"] == full.secondment_id]
    home = _home(embedded_app.tokens, listed["official"]["home_unit"]["code"])
    history = await api.get(f"/api/secondments/{full.secondment_id}/history", headers=home)
    assert [e["type"] for e in history.json()] == [
        "OfficerSeconded", "OfficialReceived", "SecondmentEnded", "PostSecondmentArranged",
    ]  # fmt: skip
    events = _event_counts(embedded_app.data_dir)
    sample = secondments[::10]  # the whole list would cost ~950 requests for little more
    histories = await _histories(api, embedded_app.tokens, sample)
    assert sum(histories) > 2 * len(sample)

    second = await import_rows(read_xlsx(path), api, tokens=embedded_app.tokens)

    assert second.imported == 0
    assert second.present == 1000 - len(data.refusals)
    assert _refusals(second) == data.refusals
    assert _event_counts(embedded_app.data_dir) == events
    assert await _all(api, "/api/needs") == needs
    assert await _evaluation(embedded_app, want) == evaluation
    assert await _secondments(api, embedded_app.tokens) == secondments
    assert await _histories(api, embedded_app.tokens, sample) == histories
    print(
        f"\n1,000-row XLSX: write and read {read_s:.1f} s, first run {first.seconds:.1f} s, "
        f"second run {second.seconds:.1f} s, whole test {time.monotonic() - clock:.1f} s; "
        f"events {events}"
    )


def _importer(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.importer", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_command_imports_a_small_csv_into_make_run_and_a_second_run_changes_nothing(
    tmp_path: Path,
) -> None:
    data = generate(20, bad_share=0.4, seed=7)
    path = tmp_path / "bietphai.csv"
    write_csv(data, path)
    report = tmp_path / "refused.csv"
    good = 20 - len(data.refusals)
    with embedded(tmp_path / "var", "--no-demo") as (url, _):
        common = ["--base-url", url, "--dev-keys", str(keys_dir(tmp_path / "var"))]

        first = _importer(str(path), *common, "--report", str(report))

        assert first.returncode == 1, first.stderr
        assert f"Đã nhập / imported:                 {good}" in first.stdout
        assert f"Bị từ chối / refused:               {len(data.refusals)}" in first.stdout
        assert "importing" in first.stderr  # the progress bar
        assert report.read_bytes().startswith(b"\xef\xbb\xbf")
        with report.open(encoding="utf-8-sig", newline="") as f:
            refused = list(csv.DictReader(f))
        assert {int(r["row"]): (r["step"], r["rule"]) for r in refused} == data.refusals
        assert all(r["official_id"] for r in refused)

        second = _importer(str(path), *common)

        assert second.returncode == 1
        assert "Đã nhập / imported:                 0" in second.stdout
        assert f"Đã có từ trước / already present:   {good}" in second.stdout

        again = _importer(str(report), *common)  # the report itself can be corrected and re-run

        assert "Đã nhập / imported:                 0" in again.stdout
        assert f"Bị từ chối / refused:               {len(data.refusals)}" in again.stdout
