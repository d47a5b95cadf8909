"""Commands over Kafka (contract v1): what an agency sends on its own commands topic and what
it reads back on its own replies topic.

An agency `<UNIT>` writes CloudEvents whose `type` is a command name to
`secondment.commands.v1.<UNIT>`; `data` is the body of the matching HTTP request, plus the
target id where the HTTP path has one (`need_id`, `secondment_id`). The agency is the topic's
suffix, never anything in the payload. The service owning the command answers on
`secondment.replies.v1.<UNIT>` with `CommandAccepted` (the resulting event ids) or
`CommandRejected` (a rule code of docs/rules.md and a message). A command id seen before is
not applied again: its first reply is published again, byte for byte.
"""

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any, Final, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from shared.contract.rules import RuleCode
from shared.contract.topics import NEEDS_SOURCE, PLACEMENT_SOURCE
from shared.contract.types import FrozenModel

COMMANDS_TOPIC: Final = "secondment.commands.v1"
"""`secondment.commands.v1.<UNIT_CODE>`: the agency's commands. Key: the command id."""

REPLIES_TOPIC: Final = "secondment.replies.v1"
"""`secondment.replies.v1.<UNIT_CODE>`: the outcome of each of the agency's commands.
Key: the command id."""

AGENCY_CODE: Final = r"[A-Z][A-Z0-9_]*"


def commands_topic(agency: str, prefix: str = "") -> str:
    """The topic on which `agency` sends its commands."""
    return f"{prefix}{COMMANDS_TOPIC}.{agency}"


def replies_topic(agency: str, prefix: str = "") -> str:
    """The topic on which `agency` reads the outcome of its commands."""
    return f"{prefix}{REPLIES_TOPIC}.{agency}"


def commands_topic_pattern(prefix: str = "") -> str:
    """Regular expression matching every agency's commands topic (and no dead-letter topic)."""
    return "^" + re.escape(f"{prefix}{COMMANDS_TOPIC}.") + f"({AGENCY_CODE})$"


def agency_of(topic: str, prefix: str = "") -> str | None:
    """The agency whose commands topic this is; None for any other topic."""
    match = re.match(commands_topic_pattern(prefix), topic)
    return match.group(1) if match else None


class CommandType(StrEnum):
    """The commands; the same names as the policy's actions (`shared.authz.Action`)."""

    RAISE_NEED = "RaiseNeed"
    AMEND_NEED = "AmendNeed"
    WITHDRAW_NEED = "WithdrawNeed"
    SECOND_OFFICIAL = "SecondOfficial"
    RECORD_RECEPTION = "RecordReception"
    EXTEND_SECONDMENT = "ExtendSecondment"
    END_SECONDMENT = "EndSecondment"
    ARRANGE_POST_SECONDMENT = "ArrangePostSecondment"
    RECORD_PROMOTION_AFTER_RETURN = "RecordPromotionAfterReturn"
    CANCEL_SECONDMENT = "CancelSecondment"


NEEDS_COMMANDS: Final = frozenset(
    {CommandType.RAISE_NEED, CommandType.AMEND_NEED, CommandType.WITHDRAW_NEED}
)
"""Owned by the needs service (which also rejects a `type` no service owns)."""

PLACEMENT_COMMANDS: Final = frozenset(set(CommandType) - NEEDS_COMMANDS)
"""Owned by the placement service."""

TARGET_ID: Final[dict[CommandType, str | None]] = {
    CommandType.RAISE_NEED: None,
    CommandType.AMEND_NEED: "need_id",
    CommandType.WITHDRAW_NEED: "need_id",
    CommandType.SECOND_OFFICIAL: None,  # `need_id` is part of the HTTP body already
    CommandType.RECORD_RECEPTION: "secondment_id",
    CommandType.EXTEND_SECONDMENT: "secondment_id",
    CommandType.END_SECONDMENT: "secondment_id",
    CommandType.ARRANGE_POST_SECONDMENT: "secondment_id",
    CommandType.RECORD_PROMOTION_AFTER_RETURN: "secondment_id",
    CommandType.CANCEL_SECONDMENT: "secondment_id",
}
"""The id `data` carries besides the HTTP body: the `{…}` of the HTTP path."""

HTTP_EQUIVALENT: Final[dict[CommandType, str]] = {
    CommandType.RAISE_NEED: "POST /api/needs",
    CommandType.AMEND_NEED: "PATCH /api/needs/{need_id}",
    CommandType.WITHDRAW_NEED: "POST /api/needs/{need_id}/withdrawal",
    CommandType.SECOND_OFFICIAL: "POST /api/secondments",
    CommandType.RECORD_RECEPTION: "POST /api/secondments/{secondment_id}/reception",
    CommandType.EXTEND_SECONDMENT: "POST /api/secondments/{secondment_id}/extension",
    CommandType.END_SECONDMENT: "POST /api/secondments/{secondment_id}/ending",
    CommandType.ARRANGE_POST_SECONDMENT: "POST /api/secondments/{secondment_id}/post-arrangement",
    CommandType.RECORD_PROMOTION_AFTER_RETURN: "POST /api/secondments/{secondment_id}/promotion",
    CommandType.CANCEL_SECONDMENT: "POST /api/secondments/{secondment_id}/cancellation",
}

CommandId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$", min_length=1, max_length=64),
    Field(description="Chosen by the agency, unique among its commands (a UUID is best)."),
]


class CommandEnvelope(BaseModel):
    """A command as an agency writes it: CloudEvents 1.0, structured JSON mode.

    Unknown attributes are ignored; an `agency`, `actor` or similar attribute never decides
    who is acting (the topic does).
    """

    model_config = ConfigDict(frozen=True, extra="ignore", hide_input_in_errors=True)

    specversion: Literal["1.0"] = "1.0"
    id: CommandId
    source: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="The agency's system, e.g. `/agencies/SO_Y_TE/hrm`.",
        examples=["/agencies/SO_Y_TE/hrm"],
    )
    type: str = Field(description="The command name, e.g. `RaiseNeed`.", examples=["RaiseNeed"])
    time: AwareDatetime | None = None
    datacontenttype: Literal["application/json"] = "application/json"
    correlationid: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None,
        description="Stamped on the resulting events; defaults to the command id.",
    )
    data: dict[str, Any] = Field(
        description="The HTTP request body, plus `need_id` or `secondment_id` for a command "
        "on an existing record."
    )


class CommandAccepted(FrozenModel):
    """The command was applied: its events are in the service's event store and on their way
    to the domain topics."""

    command_id: str
    command_type: str
    record_id: str | None = Field(
        description="The need or secondment the command created or changed."
    )
    event_ids: list[UUID] = Field(description="The events the command recorded, in order.")


class ValidationIssue(FrozenModel):
    """One reason `data` does not match the command's schema."""

    loc: list[str]
    msg: str
    type: str


class CommandRejected(FrozenModel):
    """The command was refused; nothing was changed."""

    command_id: str
    command_type: str
    rule: RuleCode = Field(description="The stable rule code (docs/rules.md).")
    message: str
    errors: list[ValidationIssue] = Field(
        default_factory=list, description="With `INVALID_REQUEST`: what is wrong in `data`."
    )


ReplyData = CommandAccepted | CommandRejected


class CommandReply(BaseModel):
    """A reply as the agency reads it: CloudEvents 1.0, structured JSON mode."""

    model_config = ConfigDict(frozen=True, extra="ignore", hide_input_in_errors=True)

    specversion: Literal["1.0"] = "1.0"
    id: UUID = Field(description="The reply's own id (the same when a reply is re-published).")
    source: Literal["/services/needs", "/services/placement"]
    type: Literal["CommandAccepted", "CommandRejected"]
    subject: str = Field(description="The command id.")
    time: AwareDatetime
    datacontenttype: Literal["application/json"] = "application/json"
    correlationid: str
    causationid: str = Field(description="The command id.")
    data: dict[str, Any]

    def accepted(self) -> CommandAccepted | None:
        """The data, if the command was accepted."""
        if self.type != "CommandAccepted":
            return None
        return CommandAccepted.model_validate(self.data)

    def rejected(self) -> CommandRejected | None:
        """The data, if the command was rejected."""
        if self.type != "CommandRejected":
            return None
        return CommandRejected.model_validate(self.data)


SOURCES: Final = {"needs": NEEDS_SOURCE, "placement": PLACEMENT_SOURCE}


def new_reply(
    *, source: str, data: ReplyData, correlation_id: str, now: dt.datetime, reply_id: UUID
) -> CommandReply:
    """Wrap a reply's data in its envelope."""
    return CommandReply.model_validate(
        {
            "id": reply_id,
            "source": source,
            "type": type(data).__name__,
            "subject": data.command_id,
            "time": now,
            "correlationid": correlation_id,
            "causationid": data.command_id,
            "data": data.model_dump(mode="json"),
        }
    )
