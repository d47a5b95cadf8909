"""Errors told without the data that caused them.

pydantic's `ValidationError` carries each failing value (`input`) and, in its text, the input
repeated (`input_value=…`): for an envelope that is the whole event, an official's name
included. What goes to a log line, a dead-letter header or an exception message is built
here from the location, the error type and pydantic's message only (which name the rule, not
the value), as problem details already are.

A database driver's error is the same: PostgreSQL's `DETAIL` names the row ("Key (id)=(…)
already exists", "Failing row contains (…)"), some messages quote the value they refused, and
SQLAlchemy adds the statement. It is told by its type, SQLSTATE and constraint only, and a
log record's traceback of one keeps its frames and drops every message (`safe_traceback`)."""

import traceback
from collections.abc import Iterator

from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

MAX_REASON = 1000


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
    return f"{type(exc).__name__}: {exc}"[:MAX_REASON]


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _from_database(exc: BaseException) -> bool:
    """The error is, or was caused by, a database driver's."""
    return any(
        isinstance(e, DBAPIError) or type(e).__module__.split(".")[0] in ("asyncpg", "sqlite3")
        for e in _chain(exc)
    )


def _database_error(exc: BaseException) -> str:
    """`Type (driver type, SQLSTATE …, constraint …)`: nothing the row or statement held."""
    parts = []
    for e in _chain(exc):
        orig = getattr(e, "orig", None) or e
        for name in ("sqlstate", "constraint_name", "sqlite_errorname"):
            value = getattr(orig, name, None)
            if value and f"{name} {value}" not in parts:
                parts.append(f"{name} {value}")
    kinds = " ← ".join(dict.fromkeys(type(e).__name__ for e in _chain(exc)))
    return f"{kinds} ({', '.join(parts)})" if parts else kinds


def safe_traceback(exc: BaseException) -> str | None:
    """For an error from the database: its traceback with the frames and no message (the
    last line says `describe`); None for any other error (logged as it is)."""
    if not _from_database(exc):
        return None
    frames = "".join(traceback.format_tb(exc.__traceback__))
    return f"Traceback (most recent call last):\n{frames}{describe(exc)}"
