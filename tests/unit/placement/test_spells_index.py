"""Deciding a secondment reads the official's own spells, not every secondment of their home
unit: SQLite keeps no statistics, and with the index on `official_id` alone it chose the home
unit's index for a single home unit, so each decision cost more as the unit's secondments
grew (0.3 ms with 2,500 of them; migration 0006)."""

import datetime as dt
import sqlite3
from pathlib import Path

from sqlalchemy.dialects import sqlite

from services.embedded.app import create_embedded_app
from services.placement.adapters.unit_of_work import _SPELLS

HOME = "NAM_GIANG"


def _spells_sql(official_id: str) -> str:
    bound = _SPELLS.params(b_official_id=official_id, b_home_units=[HOME])
    return str(bound.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))


def _add_unit_secondments(db: sqlite3.Connection, start: int, count: int) -> None:
    rows = [
        (
            f"s-{i}",
            f"official-{i}",
            f"need-{i}",
            HOME,
            "SO_Y_TE",
            dt.date(2025, 1, 1),
            dt.date(2025, 6, 30),
            "ACTIVE",
            "{}",
        )
        for i in range(start, start + count)
    ]
    db.executemany(
        "INSERT INTO secondments_view (secondment_id, official_id, need_id, home_unit, "
        "host_unit, start_date, planned_end_date, status, body) VALUES (?,?,?,?,?,?,?,?,?)",
        rows,
    )
    db.commit()


def _steps(db: sqlite3.Connection, sql: str) -> int:
    """SQLite virtual machine instructions the query runs (counted by its progress handler)."""
    counted = [0]

    def count() -> int:
        counted[0] += 1
        return 0

    db.set_progress_handler(count, 1)
    try:
        assert len(db.execute(sql).fetchall()) == 1
    finally:
        db.set_progress_handler(None, 1)
    return counted[0]


async def test_an_officials_spells_cost_the_same_however_many_secondments_their_unit_has(
    tmp_path: Path,
) -> None:
    app = create_embedded_app(tmp_path / "var")
    async with app.router.lifespan_context(app):  # migrates placement.db
        pass
    db = sqlite3.connect(tmp_path / "var" / "placement.db")
    try:
        _add_unit_secondments(db, 0, 10)
        plan = " ".join(
            str(row[-1]) for row in db.execute("EXPLAIN QUERY PLAN " + _spells_sql("official-5"))
        )
        assert "ix_secondments_view_official_home_unit" in plan

        few = _steps(db, _spells_sql("official-5"))
        _add_unit_secondments(db, 10, 2000)
        many = _steps(db, _spells_sql("official-5"))
        assert many <= few + 10  # without the index: some 50,000 more
    finally:
        db.close()
