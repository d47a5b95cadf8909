"""Upcasters: turn an older version of an event's data into the current one, when read.

Stored events are never rewritten: an event store or a topic keeps every event in the version
it was written in. Each envelope says which version its `data` follows (the `dataversion`
attribute; absent means 1), and readers (`parse_data`, `read_event`) chain the upcasters
registered here, one version at a time, up to the version of the current model
(`EventData.schema_version`). See "Versioning" in docs/contract.md.

An upcaster is a pure function of the data: no clock, no I/O, no reference data looked up, so
replaying the same history always yields the same events.
"""

import copy
from collections.abc import Callable, Mapping
from typing import Any, Final

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
"""Data of version n (a private copy the function may change) → data of version n + 1."""


class UnreadableVersion(KeyError):
    """The data's version cannot be brought to the current one: newer than this reader knows,
    or no upcaster for one step. A KeyError, like an unknown event type, so that consumers
    dead-letter such an event at once rather than retrying it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UpcasterRegistry:
    """Upcasters by (event type, version they read); each produces the next version."""

    def __init__(self) -> None:
        self._steps: dict[tuple[str, int], Upcaster] = {}

    def register(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Decorator: `fn` turns `event_type` data of `from_version` into `from_version + 1`."""

        def decorate(fn: Upcaster) -> Upcaster:
            self.add(event_type, from_version, fn)
            return fn

        return decorate

    def add(self, event_type: str, from_version: int, fn: Upcaster) -> None:
        """Register one step; a second upcaster for the same step is a mistake."""
        key = (event_type, from_version)
        if key in self._steps:
            raise ValueError(f"an upcaster of {event_type} v{from_version} is already registered")
        self._steps[key] = fn

    def has(self, event_type: str, from_version: int) -> bool:
        """Whether `event_type` data of `from_version` can be brought one version up."""
        return (event_type, from_version) in self._steps

    def steps(self) -> list[tuple[str, int]]:
        """Every registered step, as (event type, version it reads), sorted."""
        return sorted(self._steps)

    def upcast(
        self, event_type: str, data: Mapping[str, Any], from_version: int, to_version: int
    ) -> Mapping[str, Any]:
        """`data` of `from_version` as `to_version`; the same mapping when they are equal.

        Raises UnreadableVersion when `from_version` is newer than `to_version` or a step is
        missing. The caller's mapping is never changed.
        """
        if from_version == to_version:
            return data
        if from_version > to_version:
            raise UnreadableVersion(
                f"{event_type} v{from_version} is newer than this reader's v{to_version}"
            )
        current: dict[str, Any] = copy.deepcopy(dict(data))
        for version in range(from_version, to_version):
            step = self._steps.get((event_type, version))
            if step is None:
                raise UnreadableVersion(
                    f"no upcaster turns {event_type} v{version} into v{version + 1}"
                )
            current = step(current)
        return current


UPCASTERS: Final = UpcasterRegistry()
"""The registry readers use by default.

Empty while every event of contract v1 is at its first version. When `NeedRaised` gets a
version 2, its upcaster is registered here, next to the reason for the change:

    @UPCASTERS.register("NeedRaised", 1)
    def _need_raised_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
        data["positions"] = {"wanted": data.pop("positions")}
        return data
"""
