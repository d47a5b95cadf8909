"""Domain errors: each carries one stable rule code that the edges map to a response."""

from typing import TypeVar

from shared.contract.rules import RuleCode

T = TypeVar("T")


class DomainError(Exception):
    """A business rule refused the command; nothing was changed."""

    def __init__(self, rule: RuleCode, detail: str, **params: object) -> None:
        super().__init__(detail)
        self.rule = rule
        self.detail = detail
        self.params = params


class NotFound(DomainError):
    """An id names nothing the service holds."""

    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(RuleCode.NOT_FOUND, f"{kind} {ident} not found", kind=kind, id=ident)


def found(value: T | None, kind: str, ident: str) -> T:
    """What a lookup found, or the 404 problem naming the `kind` and `ident` it looked for."""
    if value is None:
        raise NotFound(kind, ident)
    return value


class ConcurrencyConflict(DomainError):
    """Someone else appended to the same aggregate first (optimistic concurrency)."""

    def __init__(self, stream_id: str, expected_version: int) -> None:
        super().__init__(
            RuleCode.CONCURRENT_UPDATE,
            f"{stream_id} changed after version {expected_version}; reload and retry",
            stream_id=stream_id,
            expected_version=expected_version,
        )
