"""Errors told without the data that caused them.

pydantic's `ValidationError` carries each failing value (`input`) and, in its text, the input
repeated (`input_value=…`): for an envelope that is the whole event, an official's name
included. What goes to a log line, a dead-letter header or an exception message is built
here from the location, the error type and pydantic's message only (which name the rule, not
the value), as problem details already are."""

from pydantic import ValidationError

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
    return f"{type(exc).__name__}: {exc}"[:MAX_REASON]
