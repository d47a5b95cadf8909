"""A grouped statement (`held_sql.grouped`) keeps each command's guarded insert apart: its
parameters renamed to its own place in the statement, its values where its clause reads them,
even when two commands guard different tables and one parameter's name begins another's."""

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table
from sqlalchemy.ext.asyncio import create_async_engine

from shared.infra.held_sql import Guarded, Held, grouped

metadata = MetaData()
answers = Table(
    "answers", metadata, Column("key", String, primary_key=True), Column("body", String)
)
turns = Table("turns", metadata, Column("who", String, primary_key=True), Column("n", Integer))
events = Table("events", metadata, Column("id", String, primary_key=True), Column("body", String))


DIALECT = create_async_engine("postgresql+asyncpg://nobody@nowhere/none").dialect
"""PostgreSQL's, as the services' engines have it (nothing connects)."""


def _refused() -> Exception:
    return RuntimeError("refused")


def test_two_guards_on_different_tables_each_read_their_own_values() -> None:
    first = Guarded(
        answers,
        {"key": "k-1", "body": "a"},
        "ON CONFLICT (key) DO UPDATE SET body = :g_now WHERE answers.body < :g_nowx",
        {"g_now": "first-now", "g_nowx": "first-nowx"},
        _refused,
    )
    second = Guarded(
        turns,
        {"who": "w-2", "n": 7},
        "ON CONFLICT (who) DO UPDATE SET n = turns.n + 1 WHERE turns.n = :g_seen",
        {"g_seen": 6},
        _refused,
    )
    held: Held = {(events, ("id", "body")): [{"id": "e-1", "body": "x"}]}
    later: Held = {(events, ("id", "body")): [{"id": "e-2", "body": "y"}]}
    statement, params = grouped([(held, first), (later, second)], DIALECT, "channel")
    sql = str(statement)

    assert "g0 AS (INSERT INTO answers" in sql
    assert "g1 AS (INSERT INTO turns" in sql
    assert ":g0_now WHERE answers.body < :g0_nowx" in sql  # the longer name not cut short
    assert "turns.n = :g1_seen" in sql
    assert ":g_" not in sql  # no clause kept a name of its own command's
    assert "1 / LEAST((SELECT count(*) FROM g0), (SELECT count(*) FROM g1))" in sql
    assert params["g0_now"] == "first-now"
    assert params["g0_nowx"] == "first-nowx"
    assert params["g1_seen"] == 6
    assert (params["g0_0"], params["g0_1"]) == ("k-1", "a")
    assert (params["g1_0"], params["g1_1"]) == ("w-2", 7)
    assert [params["h0_0_0"], params["h0_1_0"]] == ["e-1", "e-2"]  # the members' order
    assert params["notify_channel"] == "channel"


def test_a_guard_whose_parameters_break_the_convention_is_refused_when_built() -> None:
    loose = Guarded(answers, {"key": "k"}, "ON CONFLICT DO NOTHING", {"now": 1}, _refused)
    with pytest.raises(ValueError, match="g_"):
        grouped([({}, loose)], DIALECT, None)
