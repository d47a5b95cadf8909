"""The audit log on the embedded app: commands, refusals (401, 403, 422), reads of personal
data and exports are recorded with who, what, which records and the outcome, never the
personal values; `GET /api/audit` needs `audit:read`; the database refuses to change an entry."""

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.embedded.app import create_embedded_app, settled
from services.needs.bootstrap import NeedsService
from services.needs.config import NeedsSettings
from shared.http.app import compose_app
from shared.http.auth import TokenVerifier, load_issuers
from shared.http.tokens import DevIssuer
from shared.infra.audit import AuditLog
from shared.infra.audit_entries import AuditEntry
from shared.infra.transport import InProcessBus
from tests.auth import HOME_SCOPES, HOST_SCOPES, TEST_KEYS, dev_issuer, headers
from tests.samples import need_body, official_body, secondment_body

pytestmark = pytest.mark.e2e

NAME = official_body()["full_name"]
BIRTH = official_body()["birth_date"]


@dataclass
class Embedded:
    app: FastAPI
    client: httpx.AsyncClient
    issuer: DevIssuer
    data_dir: Path

    def as_(self, agency: str, *scopes: str, subject: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.mint(agency, scopes, subject=subject)}"}

    def dpo(self) -> dict[str, str]:
        return self.as_("SO_NOI_VU", "audit:read", subject="dpo@so_noi_vu")

    async def audit(self, **params: str) -> list[dict[str, Any]]:
        answer = await self.client.get("/api/audit", params=params | {"limit": "500"},
                                       headers=self.dpo())  # fmt: skip
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items


@pytest.fixture
async def embedded(tmp_path: Path) -> AsyncIterator[Embedded]:
    app = create_embedded_app(tmp_path / "var")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://embedded") as client:
            yield Embedded(app, client, app.state.dev_issuer, tmp_path / "var")


async def _walk(e: Embedded) -> dict[str, str]:
    """A need, a secondment and the requests around them; returns their ids."""
    host = e.as_("SO_Y_TE", *HOST_SCOPES, subject="an@so_y_te")
    home = e.as_("NAM_GIANG", *HOME_SCOPES, subject="binh@nam_giang")
    need = await e.client.post("/api/needs", json=need_body(), headers=host)
    assert need.status_code == 201
    nid = need.json()["need_id"]
    await settled(e.app)
    s = await e.client.post("/api/secondments", json=secondment_body(nid), headers=home)
    assert s.status_code == 201
    sid = s.json()["secondment_id"]
    assert (await e.client.get(f"/api/secondments/{sid}", headers=home)).status_code == 200
    assert (await e.client.get("/api/secondments", headers=home)).status_code == 200
    assert (await e.client.get(f"/api/secondments/{sid}/history", headers=host)).status_code == 200
    reader = e.as_("UBND_TINH", "reports:read", subject="lanh.dao@ubnd")
    export = await e.client.get("/api/reports/phases/2024-2025/evaluation.xlsx", headers=reader)
    assert export.status_code == 200
    # Refusals: no token, another department, an invalid body, a read without scope.
    assert (await e.client.post("/api/needs", json=need_body())).status_code == 401
    other = e.as_("SO_GIAO_DUC_DAO_TAO", *HOST_SCOPES, subject="chi@so_gd")
    patch = await e.client.patch(f"/api/needs/{nid}", json={"positions": 3}, headers=other)
    assert patch.status_code == 403
    assert (await e.client.post("/api/needs", json={"positions": 1}, headers=host)).status_code == (
        422
    )
    assert (await e.client.get("/api/audit", headers=host)).status_code == 403
    return {"need": nid, "secondment": sid}


def _one(entries: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    found = [e for e in entries if all(e.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (match, entries)
    return found[0]


def _records(entry: dict[str, Any]) -> set[tuple[str, str]]:
    return {(r["kind"], r["id"]) for r in entry["records"]}


async def test_commands_personal_data_reads_exports_and_refusals_are_audited(
    embedded: Embedded,
) -> None:
    ids = await _walk(embedded)
    entries = await embedded.audit()

    raised = _one(entries, action="RaiseNeed", status=201)
    assert raised | {"records": None, "occurred_at": None, "position": None} == {
        "position": None,
        "occurred_at": None,
        "channel": "http",
        "agency": "SO_Y_TE",
        "subject": "an@so_y_te",
        "action": "RaiseNeed",
        "category": "command",
        "outcome": "ACCEPTED",
        "status": 201,
        "rule": None,
        "route": "POST /api/needs",
        "records": None,
        "count": 1,
    }
    assert _records(raised) == {("need", ids["need"])}
    seconded = _one(entries, action="SecondOfficial")
    assert _records(seconded) == {
        ("need", ids["need"]),
        ("secondment", ids["secondment"]),
        ("official", "NG-0001"),
    }
    reads = [e for e in entries if e["category"] == "personal-data"]
    assert {(e["agency"], e["route"]) for e in reads} == {
        ("NAM_GIANG", "GET /api/secondments/{secondment_id}"),
        ("NAM_GIANG", "GET /api/secondments"),
        ("SO_Y_TE", "GET /api/secondments/{secondment_id}/history"),
    }
    assert all(("secondment", ids["secondment"]) in _records(e) for e in reads)
    export = _one(entries, category="export")
    assert (export["agency"], export["action"], export["outcome"]) == (
        "UBND_TINH", "ExportEvaluation", "ACCEPTED"
    )  # fmt: skip
    assert _records(export) == {("phase", "2024-2025")}

    unauthenticated = _one(entries, status=401)
    assert (unauthenticated["agency"], unauthenticated["rule"]) == (None, "UNAUTHENTICATED")
    forbidden = _one(entries, action="AmendNeed")
    assert (forbidden["agency"], forbidden["outcome"], forbidden["rule"]) == (
        "SO_GIAO_DUC_DAO_TAO", "REFUSED", "FORBIDDEN"
    )  # fmt: skip
    assert _records(forbidden) == {("need", ids["need"])}
    invalid = _one(entries, action="RaiseNeed", status=422)
    assert (invalid["outcome"], invalid["rule"]) == ("REFUSED", "INVALID_REQUEST")
    audit_refused = _one(entries, action="ReadAudit", status=403)
    assert audit_refused["agency"] == "SO_Y_TE"


async def test_no_entry_and_no_byte_of_the_store_holds_a_personal_value(
    embedded: Embedded,
) -> None:
    await _walk(embedded)
    entries = await embedded.audit()

    assert NAME not in str(entries)
    assert BIRTH not in str(entries)
    stored = b"".join(p.read_bytes() for p in embedded.data_dir.glob("audit.db*"))
    assert NAME.encode() not in stored
    assert BIRTH.encode() not in stored


async def test_the_audit_api_filters_and_pages_and_its_own_reads_are_audited(
    embedded: Embedded,
) -> None:
    ids = await _walk(embedded)

    by_agency = await embedded.audit(agency="NAM_GIANG")
    assert by_agency
    assert {e["agency"] for e in by_agency} == {"NAM_GIANG"}
    by_action = await embedded.audit(action="SecondOfficial")
    assert [e["action"] for e in by_action] == ["SecondOfficial"]
    about = await embedded.audit(record=ids["secondment"])
    assert {e["action"] for e in about} >= {"SecondOfficial", "ReadSecondment"}
    assert await embedded.audit(since="2999-01-01T00:00:00Z") == []

    first = await embedded.client.get("/api/audit?limit=2", headers=embedded.dpo())
    second = await embedded.client.get(
        f"/api/audit?limit=2&cursor={first.json()['next_cursor']}", headers=embedded.dpo()
    )
    positions = [e["position"] for e in first.json()["items"] + second.json()["items"]]
    assert positions == sorted(positions)
    assert len(set(positions)) == 4

    reads = await embedded.audit(action="ReadAudit")
    assert {(e["agency"], e["subject"], e["outcome"]) for e in reads} >= {
        ("SO_NOI_VU", "dpo@so_noi_vu", "ACCEPTED")
    }


async def test_the_database_refuses_to_change_or_delete_an_entry(embedded: Embedded) -> None:
    await _walk(embedded)
    connection = sqlite3.connect(embedded.data_dir / "audit.db")
    try:
        for statement in (
            "UPDATE audit_log SET agency = 'SO_Y_TE'",
            "DELETE FROM audit_log",
            "UPDATE audit_records SET record_id = 'x'",
            "DELETE FROM audit_records",
        ):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                connection.execute(statement)
        count = connection.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    finally:
        connection.close()
    assert count == len(await embedded.audit())  # nothing was changed or removed


async def test_personal_data_is_not_shown_while_it_cannot_be_audited(
    embedded: Embedded, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await _walk(embedded)

    async def down(*_: object, **__: object) -> int:
        raise OSError("audit database unreachable")

    monkeypatch.setattr(AuditLog, "record", down)
    home = embedded.as_("NAM_GIANG", *HOME_SCOPES)
    read = await embedded.client.get(f"/api/secondments/{ids['secondment']}", headers=home)
    assert read.status_code == 503
    assert NAME not in read.text
    host = embedded.as_("SO_Y_TE", *HOST_SCOPES)
    command = await embedded.client.post("/api/needs", json=need_body(), headers=host)
    assert command.status_code == 201


async def test_a_replayed_idempotent_request_is_audited_as_replayed(embedded: Embedded) -> None:
    host = embedded.as_("SO_Y_TE", *HOST_SCOPES) | {"Idempotency-Key": "k-1"}
    for _ in range(2):
        assert (await embedded.client.post("/api/needs", json=need_body(), headers=host)).is_success

    raised = await embedded.audit(action="RaiseNeed")
    assert [e["outcome"] for e in raised] == ["ACCEPTED", "REPLAYED"]
    assert _records(raised[0]) == _records(raised[1])


async def test_a_flood_of_anonymous_refusals_writes_a_few_counted_entries(tmp_path: Path) -> None:
    """Refusals cost an anonymous caller nothing: 300 of them must not be 300 rows, and the
    counts must still add up; an authenticated caller's refusals stay one entry each."""
    app = create_embedded_app(tmp_path / "var")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://embedded") as client:
            for n in range(300):
                await client.get("/api/needs")  # no token
                await client.get(f"/no/such/path/{n}")  # probing
            issuer: DevIssuer = app.state.dev_issuer
            reader = {"Authorization": f"Bearer {issuer.mint('UBND_TINH', ['reports:read'])}"}
            for _ in range(3):
                refused = await client.post("/api/needs", json=need_body(), headers=reader)
                assert refused.status_code == 403
    # Stopped: what was still being counted is written.
    store = AuditLog(f"sqlite+aiosqlite:///{tmp_path / 'var' / 'audit.db'}")
    await store.start()
    try:
        entries = await store.entries(limit=10_000)
    finally:
        await store.stop()
    anonymous = [e for e in entries if e.agency is None]
    assert len(anonymous) <= 4
    assert sum(e.count for e in anonymous if e.status == 401) == 300
    assert sum(e.count for e in anonymous if e.status == 404) == 300
    forbidden = [e for e in entries if e.agency == "UBND_TINH" and e.status == 403]
    assert [e.count for e in forbidden] == [1, 1, 1]


async def _stored(tmp_path: Path) -> list[AuditEntry]:
    """Every entry of the embedded store under `tmp_path`, read after the app stopped."""
    store = AuditLog(f"sqlite+aiosqlite:///{tmp_path / 'var' / 'audit.db'}")
    await store.start()
    try:
        return await store.entries(limit=10_000)
    finally:
        await store.stop()


async def test_made_up_methods_do_not_turn_anonymous_refusals_into_one_entry_each(
    tmp_path: Path,
) -> None:
    """HTTP lets a client name any method: an anonymous flood with a new one per request is
    still a few counted entries, and no entry holds what the client made up."""
    app = create_embedded_app(tmp_path / "var")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://embedded") as client:
            for n in range(200):
                method = f"PROBE{n}{'X' * 120}"
                assert (await client.request(method, "/api/needs")).status_code == 405
                assert (await client.request(method, f"/no/such/path/{n}")).status_code == 404
    anonymous = [e for e in await _stored(tmp_path) if e.agency is None]
    assert len(anonymous) <= 4, [(e.action, e.count) for e in anonymous]
    assert sum(e.count for e in anonymous if e.status == 405) == 200
    assert sum(e.count for e in anonymous if e.status == 404) == 200
    assert {e.route for e in anonymous if e.status == 405} == {"OTHER /api/needs"}
    assert {e.action for e in anonymous if e.status == 404} == {"OTHER unknown route"}
    assert not any("PROBE" in f"{e.action} {e.route}" for e in anonymous)


async def test_counted_refusals_are_written_when_their_window_ends_without_a_next_one(
    tmp_path: Path,
) -> None:
    """A flood that stops is in the log a window later, not only at the next anonymous
    refusal or when the service stops (a crash would lose the count)."""
    bus = InProcessBus()
    settings = NeedsSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'needs.db'}",
        programme_key=TEST_KEYS["programme_key"],
    )
    audit = AuditLog(f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}", refusal_window=0.2)
    verifier = TokenVerifier(load_issuers(dev_issuer().issuers_file))
    app = compose_app("needs", [NeedsService(settings, bus)], bus, verifier, audit)
    dpo = headers("SO_NOI_VU", "audit:read")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://needs") as client:
            for _ in range(50):
                assert (await client.get("/api/needs")).status_code == 401
            counted = 0
            for _ in range(50):  # a few windows; before, the count waited for a next refusal
                await asyncio.sleep(0.1)
                page = await client.get("/api/audit", params={"limit": "500"}, headers=dpo)
                assert page.status_code == 200, page.text
                anonymous = [e for e in page.json()["items"] if e["agency"] is None]
                counted = sum(e["count"] for e in anonymous)
                if counted == 50:
                    break
            assert counted == 50
