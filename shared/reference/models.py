"""Frozen models of the reference data: what a code meant, and from when to when.

Dates are inclusive. Units change over time (the 2025 reform abolished districts and merged
Quảng Nam into Đà Nẵng), so every record carries its validity and every lookup can be asked
"as it was on a date".
"""

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Code = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]*$", max_length=64)]
"""Upper-case ASCII code, the same shape as `shared.contract.types.Code`."""

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class _Frozen(BaseModel):
    """Immutable and strict about unknown fields, so a typo in a data file fails loudly."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class _Dated(_Frozen):
    """A record valid from `valid_from` to `valid_to`, both inclusive; None is open-ended."""

    valid_from: dt.date | None = None
    valid_to: dt.date | None = None

    def valid_on(self, on: dt.date) -> bool:
        """Whether the record was in force on `on`."""
        if self.valid_from is not None and on < self.valid_from:
            return False
        return self.valid_to is None or on <= self.valid_to


class UnitKind(StrEnum):
    """The tier of a unit, not its title: Tam Kỳ city and Điện Bàn town are DISTRICT-tier."""

    PROVINCE = "PROVINCE"
    CITY = "CITY"
    DISTRICT = "DISTRICT"
    COMMUNE = "COMMUNE"
    DEPARTMENT = "DEPARTMENT"
    LEADERSHIP = "LEADERSHIP"
    OTHER = "OTHER"


class UnitChange(_Frozen):
    """An attribute that changed on a date while the unit kept its identity (and code)."""

    on: dt.date
    name: Name | None = None
    name_en: Name | None = None
    mountainous: bool | None = None
    note: str | None = None


class UnitSector(_Dated):
    """A sector a host department covers, for the dates it covered it (the 2025 reform moved
    fields between departments)."""

    code: Code


class Unit(_Dated):
    """An organisation unit: an authority that sends officials or an agency that hosts them."""

    code: Code
    name: Name
    name_en: Name
    kind: UnitKind
    sectors: tuple[UnitSector, ...] = ()
    """For a host department: the sectors it may raise needs in, with their dates."""
    parent: Code | None = None
    valid_from: dt.date
    mountainous: bool = False
    successors: tuple[Code, ...] = ()
    rollup_to: Code | None = None
    illustrative: bool = False
    reporting_only: bool = False
    """A grouping for reports (a former district's area), never a home or host unit."""
    changes: tuple[UnitChange, ...] = ()
    note: str | None = None

    @property
    def hosts(self) -> bool:
        """Whether the unit may raise needs: a provincial department or an equivalent body
        (districts, communes, the leadership and the province itself send officials or read
        reports, they do not host)."""
        return self.kind == UnitKind.DEPARTMENT

    def covers(self, sector: str, on: dt.date) -> bool:
        """Whether the unit covered `sector` on `on`."""
        return any(s.code == sector and s.valid_on(on) for s in self.sectors)

    def sectors_on(self, on: dt.date) -> list[str]:
        """The sectors the unit covered on `on`."""
        return [s.code for s in self.sectors if s.valid_on(on)]

    def as_of(self, on: dt.date | None) -> "Unit":
        """The unit with the changes made up to `on` applied (all of them when `on` is None)."""
        updates: dict[str, object] = {}
        for change in sorted(self.changes, key=lambda c: c.on):
            if on is not None and change.on > on:
                break
            for field in ("name", "name_en", "mountainous"):
                value = getattr(change, field)
                if value is not None:
                    updates[field] = value
        return self.model_copy(update=updates) if updates else self


class Rank(_Dated):
    """A leadership rank; `order` compares ranks, equal orders mean equivalent ranks."""

    code: Code
    name: Name
    name_en: Name
    order: int
    eligible: bool
    note: str | None = None


class Sector(_Dated):
    """A sector or field (ngành, lĩnh vực) in which a host raises a need."""

    code: Code
    name: Name
    name_en: Name


class Subgroup(_Frozen):
    """A local group of an ethnic group (e.g. Ca Dong of the Xơ Đăng), recorded apart."""

    code: Code
    name: Name


class Ethnicity(_Dated):
    """One of the 54 ethnic groups, numbered as in the statistics office's list."""

    code: Code
    gso_number: Annotated[int, Field(ge=1, le=54)]
    name: Name
    name_en: Name
    other_names: tuple[Name, ...] = ()
    minority: bool
    subgroups: tuple[Subgroup, ...] = ()

    def subgroup(self, code: str) -> Subgroup | None:
        """The local group with that code, if this ethnic group has it."""
        return next((s for s in self.subgroups if s.code == code), None)
