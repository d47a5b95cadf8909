"""A command's `data` read as its HTTP body (and target id), and the refusal a command gets
when it cannot be run (its rule, message and validation issues), for `commands.py`."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ValidationError

from shared.contract.commands import TARGET_ID, CommandType, ValidationIssue
from shared.contract.rules import RuleCode


class Refused(Exception):
    """A command refused: answered with `CommandRejected` (rule, message, issues)."""

    def __init__(self, rule: RuleCode, message: str, errors: Sequence[ValidationIssue] = ()):
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.errors = list(errors)


def issues(exc: ValidationError, prefix: tuple[str, ...] = ("data",)) -> list[ValidationIssue]:
    """The first validation errors as the reply's issues, located under `prefix`."""
    return [
        ValidationIssue(
            loc=[*prefix, *(str(p) for p in e.get("loc", ()))],
            msg=str(e.get("msg", "")),
            type=str(e.get("type", "")),
        )
        for e in exc.errors(include_url=False, include_context=False, include_input=False)[:20]
    ]


def parse(
    kind: CommandType, model: type[BaseModel], data: dict[str, Any]
) -> tuple[str | None, BaseModel]:
    """The target id (when the command type has one) and the body; `Refused` if invalid."""
    body = dict(data)
    target: str | None = None
    field = TARGET_ID[kind]
    if field is not None:
        value = body.pop(field, None)
        try:
            target = str(UUID(str(value)))
        except ValueError:
            issue = ValidationIssue(loc=["data", field], msg="a UUID is required",
                                    type="uuid_parsing")  # fmt: skip
            raise Refused(RuleCode.INVALID_REQUEST, f"`data.{field}` is not a UUID",
                          [issue]) from None  # fmt: skip
    try:
        return target, model.model_validate(body)
    except ValidationError as exc:
        raise Refused(
            RuleCode.INVALID_REQUEST, f"`data` is not a valid {kind.value}", issues(exc)
        ) from exc
