"""From a row's cells to the API's request bodies; a bad cell refuses the row, never crashes.

Only what the client must know is checked here: dates and whole numbers parse, filled optional
groups are complete, and choice columns accept their Vietnamese names. Codes, eligibility and
every rule of the plan are the API's to judge.
"""

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from services.importer.columns import (
    BY_NAME,
    FOLDED_CHOICES,
    OPTIONAL_GROUPS,
    Group,
    Kind,
    columns_of,
    fold,
)
from services.importer.readers import Cell, SourceRow

NEED_REF_MARK = re.compile(r"\[need_ref: ([^\]]+)\]\s*$")
"""The need reference, kept at the end of a need's description (the API has no field for it)."""


class CellError(ValueError):
    """One or more cells of a row cannot be read; the message names each column."""


@dataclass(frozen=True)
class NeedFields:
    """The need a row belongs to; equal fields (and no `need_ref`) mean the same need."""

    host_unit: str
    sector: str
    position_title: str
    positions: int
    min_rank: str
    desired_start: dt.date
    duration_months: int
    raised_on: dt.date
    description: str

    def body(self, need_ref: str | None) -> dict[str, Any]:
        """The body of `POST /api/needs`."""
        description = self.description
        if need_ref is not None:
            description = f"{description} [need_ref: {need_ref}]".strip()
        return {
            "host_unit": self.host_unit,
            "sector": self.sector,
            "position_title": self.position_title,
            "positions": self.positions,
            "min_rank": self.min_rank,
            "desired_start": self.desired_start.isoformat(),
            "duration_months": self.duration_months,
            "description": description,
            "raised_on": self.raised_on.isoformat(),
        }


def need_ref_of(description: str | None) -> str | None:
    """The `need_ref` an import kept in a need's description, if any."""
    match = NEED_REF_MARK.search(description or "")
    return match.group(1).strip() if match else None


@dataclass(frozen=True)
class ParsedRow:
    """A row ready to send: the need, then one body per step (None: the step is not in the row)."""

    need_ref: str | None
    need: NeedFields
    official_id: str
    home_unit: str
    start_date: dt.date
    decision_number: str
    secondment: dict[str, Any]
    """`POST /api/secondments` without `need_id`."""
    reception: dict[str, Any] | None
    ending: dict[str, Any] | None
    post_arrangement: dict[str, Any] | None


DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y/%m/%d")


def parse_date(value: Cell) -> dt.date:
    """A date cell: a spreadsheet date, ISO `2024-09-01`, or day first `01/09/2024`."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        for pattern in DATE_FORMATS:
            try:
                return dt.datetime.strptime(text, pattern).date()
            except ValueError:
                continue
        # ISO with a time part, e.g. "2024-09-01 00:00:00" from a sheet exported as text
        try:
            return dt.datetime.fromisoformat(text).date()
        except ValueError:
            pass
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD or DD/MM/YYYY)")
    raise ValueError(f"{value!r} is a number, not a date; format the cell as a date")


def parse_int(value: Cell) -> int:
    """A whole-number cell: `2`, `2.0` from a spreadsheet, or the text `2`."""
    if isinstance(value, bool | dt.date):
        raise ValueError(f"{value!r} is not a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError(f"{value!r} is not a whole number")
    text = str(value).strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    if re.fullmatch(r"[+-]?\d+\.0+", text):
        return int(text.split(".")[0])
    raise ValueError(f"{text!r} is not a whole number")


def parse_text(value: Cell) -> str:
    """Text as written, trimmed; numbers without a spurious `.0` (a decision number `123`)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).strip()


def parse_cell(name: str, value: Cell) -> Any:
    """One cell by its column's kind; raises ValueError with a reason."""
    kind = BY_NAME[name].kind
    if kind is Kind.DATE:
        return parse_date(value)
    if kind is Kind.INT:
        return parse_int(value)
    text = parse_text(value)
    if kind is Kind.CODE:
        return text.upper()
    if kind is Kind.CHOICE:
        return FOLDED_CHOICES[name].get(fold(text), text)
    return text


def parse_row(row: SourceRow) -> ParsedRow:
    """Every cell of a row, or `CellError` naming each bad or missing cell."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, raw in row.cells.items():
        if raw is None:
            continue
        try:
            values[name] = parse_cell(name, raw)
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
    for group in Group:
        columns = list(columns_of(group))
        if group in OPTIONAL_GROUPS and not any(row.cells.get(c.name) is not None for c in columns):
            continue
        for column in columns:
            if column.required and row.cells.get(column.name) is None:
                why = f" ({group.value} is partly filled)" if group in OPTIONAL_GROUPS else ""
                problems.append(f"{column.name}: missing{why}")
    if problems:
        raise CellError("; ".join(problems))
    return _assemble(values)


def _assemble(v: dict[str, Any]) -> ParsedRow:
    def iso(name: str) -> str:
        day: dt.date = v[name]
        return day.isoformat()

    need = NeedFields(
        host_unit=v["host_unit"],
        sector=v["sector"],
        position_title=v["position_title"],
        positions=v["positions"],
        min_rank=v["min_rank"],
        desired_start=v["desired_start"],
        duration_months=v["duration_months"],
        raised_on=v["raised_on"],
        description=v.get("description", ""),
    )
    official = {
        "official_id": v["official_id"],
        "full_name": v["full_name"],
        "gender": v["gender"],
        "birth_date": iso("birth_date"),
        "ethnicity": v["ethnicity"],
        "ethnic_subgroup": v.get("ethnic_subgroup"),
        "service_category": v["service_category"],
        "position_rank": v["position_rank"],
        "home_unit": v["home_unit"],
    }
    secondment = {
        "official": official,
        "start_date": iso("start_date"),
        "planned_end_date": iso("planned_end_date"),
        "decision": {
            "number": v["decision_number"],
            "date": iso("decision_date"),
            "signed_by": v.get("signed_by"),
        },
    }
    reception = (
        {
            "received_on": iso("received_on"),
            "assigned_role": v["assigned_role"],
            "supervisor": v.get("supervisor"),
        }
        if "received_on" in v
        else None
    )
    ending = (
        {
            "ended_on": iso("ended_on"),
            "reason": v["end_reason"],
            "rating": v["rating"],
            "remarks": v.get("remarks"),
            "decision": {"number": v["end_decision_number"], "date": iso("end_decision_date")},
        }
        if "ended_on" in v
        else None
    )
    arrangement = (
        {
            "arrangement": v["arrangement"],
            "new_position_rank": v.get("new_position_rank"),
            "effective_date": iso("effective_date"),
        }
        if "arrangement" in v
        else None
    )
    return ParsedRow(
        need_ref=v.get("need_ref"),
        need=need,
        official_id=v["official_id"],
        home_unit=v["home_unit"],
        start_date=v["start_date"],
        decision_number=v["decision_number"],
        secondment=secondment,
        reception=reception,
        ending=ending,
        post_arrangement=arrangement,
    )
