"""What an audit entry says: why it is kept, its outcome and channel, the entry to append
(`AuditRecord`) and the entry as `GET /api/audit` shows it (`AuditEntry`). Entries hold ids,
codes and route templates only, never personal values."""

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, Field

MAX_RECORDS = 500
"""Most record ids kept for one entry (a list page shows at most 500 secondments)."""

RECORD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
"""What a record id looks like; anything else (a name typed where an id goes) is not kept."""


class Category(StrEnum):
    """Why an entry is kept."""

    COMMAND = "command"
    """A change asked for (HTTP POST/PATCH, a command over Kafka)."""
    PERSONAL_DATA = "personal-data"
    """A read that shows an official's identity (secondments, their history, lists)."""
    EXPORT = "export"
    """A file leaving the system (evaluation CSV, XLSX, PDF)."""
    AUDIT = "audit"
    """A read of the audit log itself."""
    REQUEST = "request"
    """Anything else that was refused (401, 403, 404, 422 …) or changed something."""


class Outcome(StrEnum):
    """What became of the request."""

    ACCEPTED = "ACCEPTED"
    REFUSED = "REFUSED"
    REPLAYED = "REPLAYED"
    """The first answer to a repeated `Idempotency-Key` or command id; nothing ran."""
    FAILED = "FAILED"


class Channel(StrEnum):
    """How the request came."""

    HTTP = "http"
    KAFKA = "kafka"


@dataclass(frozen=True)
class AuditRecord:
    """One entry to append."""

    channel: Channel
    agency: str | None
    subject: str | None
    action: str
    category: Category
    outcome: Outcome
    status: int | None = None
    rule: str | None = None
    route: str | None = None
    records: tuple[tuple[str, str], ...] = ()
    """(kind, id): `need`, `secondment`, `official` (the pseudonym), `phase`, `command`."""
    count: int = 1
    """How many identical events the entry stands for (unauthenticated refusals, counted)."""


class RecordRef(BaseModel):
    """A record an entry is about."""

    kind: str
    id: str


class AuditEntry(BaseModel):
    """One entry as `GET /api/audit` shows it."""

    position: int
    occurred_at: dt.datetime
    channel: str
    agency: str | None = Field(description="Unit code of the caller; null when unauthenticated.")
    subject: str | None = Field(description="The token's subject (`kafka` for Kafka commands).")
    action: str = Field(description="A policy action (`RaiseNeed`, `ReadSecondment` …).")
    category: str
    outcome: str
    status: int | None = Field(description="HTTP status; null over Kafka.")
    rule: str | None = Field(description="The rule code of a refusal.")
    route: str | None = Field(description="Method and path template, e.g. `GET /api/needs`.")
    records: list[RecordRef]
    count: int = Field(
        default=1,
        description="How many identical unauthenticated refusals this entry stands for "
        "(counted per minute, not written one by one); 1 for every other entry.",
    )
