"""Time-ordered identifiers (UUID version 7, RFC 9562) for aggregates.

Python 3.11 has no `uuid.uuid7`; these few lines follow the RFC. Time order keeps index
inserts local, and lets a consumer tell a brand-new id (its event may still be on its way)
from an old one that really does not exist.
"""

import datetime as dt
import os
import time
from uuid import UUID


def new_id() -> UUID:
    """A UUIDv7: 48 bits of Unix milliseconds, then version, variant and random bits."""
    millis = time.time_ns() // 1_000_000
    value = (millis & ((1 << 48) - 1)) << 80
    value |= int.from_bytes(os.urandom(10), "big") & ((1 << 80) - 1)
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return UUID(int=value)


def created_at(ident: UUID) -> dt.datetime | None:
    """When a UUIDv7 was made; None for other versions and for times past the year 9999
    (48 bits of milliseconds reach the year 10889: a client's id, never one of ours)."""
    if ident.version != 7:
        return None
    try:
        return dt.datetime.fromtimestamp((ident.int >> 80) / 1000, dt.UTC)
    except (ValueError, OverflowError):
        return None
