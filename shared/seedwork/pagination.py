"""Cursor pagination for lists: `{items, next_cursor}`, stable under concurrent inserts."""

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from pydantic import BaseModel

from shared.contract.rules import RuleCode
from shared.seedwork.errors import DomainError

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    """One page of a list; pass `next_cursor` back as `cursor` for the next one."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(position: int) -> str:
    """Opaque cursor for the row after `position`."""
    return base64.urlsafe_b64encode(f"p:{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The position a cursor points after; 0 for the first page."""
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = raw.partition(":")
        if kind != "p":
            raise ValueError(raw)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise DomainError(RuleCode.INVALID_REQUEST, f"invalid cursor {cursor!r}") from exc


def cut_page(
    rows: Sequence[R], limit: int, position: Callable[[R], int]
) -> tuple[Sequence[R], str | None]:
    """The first `limit` of the `limit + 1` rows a list fetched, and the cursor after the last
    of them when the extra row shows there is more (None on the last page)."""
    if len(rows) > limit:
        return rows[:limit], encode_cursor(position(rows[limit - 1]))
    return rows, None
