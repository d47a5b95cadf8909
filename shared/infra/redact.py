"""Errors told without the data that caused them.

pydantic's `ValidationError` carries each failing value (`input`) and, in its text, the input
repeated (`input_value=…`): for an envelope that is the whole event, an official's name
included. What goes to a log line, a dead-letter header or an exception message is built
here from the location, the error type and pydantic's message only (which name the rule, not
the value), as problem details already are.

A database driver's error is the same: PostgreSQL's `DETAIL` names the row ("Key (id)=(…)
already exists", "Failing row contains (…)"), some messages quote the value they refused, and
SQLAlchemy adds the statement. It is told by its type, SQLSTATE and constraint only, and a
log record's traceback of one keeps its frames and drops every message (`safe_traceback`).

Any other library's error may quote its input as well (`date.fromisoformat` repeats the
string it refused, a `KeyError` its key). Its message is told only for the kinds that never
hold data: the system's and the broker's (`OSError`, timeouts, `KafkaError`), and a JSON or
text decoding error by its position. Our own errors (`shared`, `services`) name ids, codes and
rules only, and are told as they are."""

import json
import traceback
from collections.abc import Iterator
from typing import Final

from aiokafka.errors import KafkaError
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

MAX_REASON = 1000
OWN: Final = ("shared", "services")
"""Packages whose errors say ids, codes and rules only (test_personal_data searches the logs)."""
TOLD: Final = (OSError, TimeoutError, KafkaError)  # asyncio.TimeoutError is TimeoutError
"""Other errors whose text is about the system or the broker, never about a record."""


def validation_issues(exc: ValidationError, limit: int = 3) -> str:
    """`loc: type (message)` of the first `limit` errors, no input, no context values."""
    parts = [
        f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['type']} ({e['msg']})"
        for e in exc.errors(include_url=False, include_context=False, include_input=False)[:limit]
    ]
    more = exc.error_count() - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def describe(exc: BaseException) -> str:
    """One line for a log or a dead-letter reason: the error's type and a safe account."""
    if isinstance(exc, ValidationError):
        return f"ValidationError ({exc.title}): {validation_issues(exc)}"[:MAX_REASON]
    if _from_database(exc):
        return _database_error(exc)[:MAX_REASON]
    return _one(exc)[:MAX_REASON]


def _one(exc: BaseException) -> str:
    """An error that is neither pydantic's nor a driver's: its text where it cannot hold data."""
    kind = type(exc).__name__
    if _told_as_is(exc):
        return f"{kind}: {exc}"
    if isinstance(exc, json.JSONDecodeError):  # its `doc` is the input; `msg` names the rule
        return f"{kind}: {exc.msg} (line {exc.lineno}, column {exc.colno})"
    if isinstance(exc, UnicodeDecodeError):
        return f"{kind}: {exc.encoding} cannot decode position {exc.start} ({exc.reason})"
    return f"{kind} (its message is not told: it may quote the data)"


def _told_as_is(exc: BaseException) -> bool:
    ours = type(exc).__module__.split(".")[0] in OWN
    return (ours or isinstance(exc, TOLD)) and not (
        isinstance(exc, ValidationError) or _from_driver(exc)
    )


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _from_driver(exc: BaseException) -> bool:
    """The error itself is a database driver's (or SQLAlchemy's adapter's or wrapper of one)."""
    return isinstance(exc, DBAPIError) or type(exc).__module__.startswith(
        ("asyncpg", "sqlite3", "sqlalchemy.dialects")
    )


def _from_database(exc: BaseException) -> bool:
    """The error is, or was caused by, a database driver's."""
    return any(_from_driver(e) for e in _chain(exc))


def _driver_parts(exc: BaseException) -> list[str]:
    orig = getattr(exc, "orig", None) or exc
    return [
        f"{name} {value}"
        for name in ("sqlstate", "constraint_name", "sqlite_errorname")
        if (value := getattr(orig, name, None))
    ]


def _database_error(exc: BaseException) -> str:
    """`Type (driver type, SQLSTATE …, constraint …)`: nothing the row or statement held."""
    parts: list[str] = []
    for e in _chain(exc):
        parts += [p for p in _driver_parts(e) if p not in parts]
    kinds = " ← ".join(dict.fromkeys(type(e).__name__ for e in _chain(exc)))
    return f"{kinds} ({', '.join(parts)})" if parts else kinds


def safe_traceback(exc: BaseException, record_in_hand: bool = True) -> str | None:
    """The traceback of `exc` and its causes with their frames, each ending with what
    `describe` tells of it alone; None when Python's own text of them holds no data (then it is
    logged as it is). A database error's text always may; another library's only while a
    record or request is in hand (outside, e.g. at start-up, its text is about the settings)."""
    chain = list(_chain(exc))
    if not (
        record_in_hand or any(_from_driver(e) or isinstance(e, ValidationError) for e in chain)
    ):
        return None
    hidden = [e for e in chain if not _told_as_is(e)]
    if not hidden:
        return None
    parts = [
        "Traceback (most recent call last):\n"
        + "".join(traceback.format_tb(e.__traceback__))
        + (_alone(e) if e in hidden else f"{type(e).__name__}: {e}")
        for e in reversed(chain)
    ]
    return "\n\nThe above led to the following:\n\n".join(parts)


def _alone(exc: BaseException) -> str:
    """What `describe` tells of one error of a chain, without its causes."""
    if isinstance(exc, ValidationError):
        return describe(exc)
    if _from_driver(exc):
        parts = _driver_parts(exc)
        return f"{type(exc).__name__} ({', '.join(parts)})" if parts else type(exc).__name__
    return _one(exc)
