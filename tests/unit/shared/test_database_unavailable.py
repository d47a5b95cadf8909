"""A database restarting is waited for, not a reason to exit: the errors the driver raises as
it connects during a restart count as `unavailable` (a replica started while PostgreSQL
restarted once exited with `CannotConnectNowError` in the fault suite, seed 720233)."""

import asyncpg
import pytest

from shared.infra.db import unavailable


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError(
            "terminating connection due to administrator command"
        ),
        asyncpg.exceptions.CrashShutdownError("terminating connection"),
        asyncpg.exceptions.ConnectionFailureError("connection failure"),
        ConnectionRefusedError(111, "Connect call failed"),
    ],
)
def test_a_restarting_server_is_waited_for(error: BaseException) -> None:
    assert unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.UniqueViolationError("duplicate key value"),
        asyncpg.exceptions.UndefinedTableError("relation does not exist"),
        asyncpg.exceptions.InvalidPasswordError("password authentication failed"),
        ValueError("a bug"),
    ],
)
def test_any_other_error_is_raised_at_once(error: BaseException) -> None:
    assert not unavailable(error)
