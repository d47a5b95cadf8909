"""The audit store writes the entries of concurrent requests in one transaction; each caller
still returns once its own entry is committed, and an entry the store refuses fails only its
own caller."""

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from shared.infra.audit import AuditLog
from shared.infra.audit_entries import AuditRecord, Category, Channel, Outcome


def _entry(action: str, need: str) -> AuditRecord:
    return AuditRecord(
        channel=Channel.HTTP,
        agency="SO_Y_TE",
        subject="user@so_y_te",
        action=action,
        category=Category.COMMAND,
        outcome=Outcome.ACCEPTED,
        status=201,
        route="POST /api/needs",
        records=(("need", need),),
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AuditLog]:
    log = AuditLog(f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}")
    await log.start()
    try:
        yield log
    finally:
        await log.stop()


async def test_concurrent_entries_are_each_written_once_with_their_records(
    store: AuditLog,
) -> None:
    positions = await asyncio.gather(
        *(store.record(_entry("RaiseNeed", f"need-{i}")) for i in range(50))
    )

    assert len(set(positions)) == 50
    entries = await store.entries(limit=100)
    assert sorted(e.position for e in entries) == sorted(positions)
    by_position = {e.position: e for e in entries}
    for i, position in enumerate(positions):
        assert [(r.kind, r.id) for r in by_position[position].records] == [("need", f"need-{i}")]


async def test_an_entry_the_store_refuses_fails_only_its_caller(
    store: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    insert = store._insert

    async def refusing(batch: Sequence[tuple[AuditRecord, object, object]]) -> list[int]:
        if any(entry.action == "Refused" for entry, _, _ in batch):
            raise ValueError("the store refuses this entry")
        return await insert(batch)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "_insert", refusing)
    results = await asyncio.gather(
        *(store.record(_entry("RaiseNeed", f"need-{i}")) for i in range(5)),
        store.record(_entry("Refused", "need-x")),
        *(store.record(_entry("RaiseNeed", f"need-{i}")) for i in range(5, 10)),
        return_exceptions=True,
    )

    assert [type(r) for r in results].count(ValueError) == 1
    assert isinstance(results[5], ValueError)
    written = await store.entries(limit=100)
    assert {e.action for e in written} == {"RaiseNeed"}
    assert len(written) == 10
