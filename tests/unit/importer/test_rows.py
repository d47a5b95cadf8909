"""From cells to request bodies: dates, numbers, Vietnamese values, partly filled groups."""

import datetime as dt
from typing import Any

import pytest

from services.importer.readers import Cell, SourceRow
from services.importer.rows import CellError, need_ref_of, parse_date, parse_int, parse_row


def _row(**changes: Cell) -> SourceRow:
    cells: dict[str, Cell] = {
        "host_unit": "so_y_te ", "sector": "HEALTH",
        "position_title": " Phó Trưởng phòng Nghiệp vụ Y ", "positions": 2.0,
        "min_rank": "PHO_TRUONG_PHONG", "desired_start": dt.datetime(2024, 9, 1),
        "duration_months": "6", "raised_on": "01/08/2024", "official_id": 1001.0,
        "full_name": "Alăng Thị Hoa", "gender": "Nữ", "birth_date": dt.date(1985, 3, 2),
        "ethnicity": "CO_TU", "service_category": "công chức",
        "position_rank": "PHO_TRUONG_PHONG", "home_unit": "NAM_GIANG",
        "start_date": "2024-09-01", "planned_end_date": "28/02/2025",
        "decision_number": "123/QĐ-UBND", "decision_date": "20.08.2024",
    }  # fmt: skip
    cells |= changes
    return SourceRow(number=7, cells=cells)


def test_a_row_becomes_the_api_bodies() -> None:
    parsed = parse_row(_row())
    assert parsed.need.body(None) == {
        "host_unit": "SO_Y_TE", "sector": "HEALTH",
        "position_title": "Phó Trưởng phòng Nghiệp vụ Y", "positions": 2,
        "min_rank": "PHO_TRUONG_PHONG", "desired_start": "2024-09-01", "duration_months": 6,
        "description": "", "raised_on": "2024-08-01",
    }  # fmt: skip
    official: dict[str, Any] = parsed.secondment["official"]
    assert official["official_id"] == "1001"
    assert (official["gender"], official["service_category"]) == ("F", "CIVIL_SERVANT")
    assert official["birth_date"] == "1985-03-02"
    assert parsed.secondment["planned_end_date"] == "2025-02-28"
    assert parsed.secondment["decision"] == {
        "number": "123/QĐ-UBND", "date": "2024-08-20", "signed_by": None,
    }  # fmt: skip
    assert (parsed.reception, parsed.ending, parsed.post_arrangement) == (None, None, None)


def test_optional_steps_with_vietnamese_values() -> None:
    parsed = parse_row(
        _row(
            received_on="2024-09-03",
            assigned_role="Theo dõi y tế dự phòng",
            ended_on="2025-02-28",
            end_reason="Hoàn thành",
            rating="Hoàn thành tốt nhiệm vụ",
            end_decision_number="45/QĐ-UBND",
            end_decision_date="2025-02-20",
            arrangement="Đề bạt",
            new_position_rank="truong_phong",
            effective_date="2025-03-01",
        )
    )
    assert parsed.reception == {
        "received_on": "2024-09-03", "assigned_role": "Theo dõi y tế dự phòng",
        "supervisor": None,
    }  # fmt: skip
    assert parsed.ending is not None
    assert (parsed.ending["reason"], parsed.ending["rating"]) == ("COMPLETED", "GOOD")
    assert parsed.ending["decision"] == {"number": "45/QĐ-UBND", "date": "2025-02-20"}
    assert parsed.post_arrangement == {
        "arrangement": "PROMOTED", "new_position_rank": "TRUONG_PHONG",
        "effective_date": "2025-03-01",
    }  # fmt: skip


def test_unknown_choice_values_go_to_the_api_as_written() -> None:
    parsed = parse_row(_row(gender="X"))
    assert parsed.secondment["official"]["gender"] == "X"


def test_bad_cells_refuse_the_row_naming_each_column() -> None:
    with pytest.raises(CellError) as caught:
        parse_row(_row(start_date="31/02/2025", positions="hai", birth_date=19850302))
    message = str(caught.value)
    assert "start_date: '31/02/2025' is not a date" in message
    assert "positions: 'hai' is not a whole number" in message
    assert "birth_date: 19850302 is a number, not a date" in message


def test_missing_required_cells_and_partly_filled_groups() -> None:
    with pytest.raises(CellError, match="home_unit: missing"):
        parse_row(_row(home_unit=None))
    with pytest.raises(CellError, match=r"assigned_role: missing \(reception is partly filled\)"):
        parse_row(_row(received_on="2024-09-03"))
    with pytest.raises(CellError, match="end_decision_date: missing"):
        parse_row(
            _row(
                ended_on="2025-02-28",
                end_reason="COMPLETED",
                rating="GOOD",
                end_decision_number="45",
            )
        )


@pytest.mark.parametrize(
    ("cell", "day"),
    [
        ("2024-09-01", dt.date(2024, 9, 1)),
        ("01/09/2024", dt.date(2024, 9, 1)),
        ("1/9/2024", dt.date(2024, 9, 1)),
        ("01-09-2024", dt.date(2024, 9, 1)),
        ("2024-09-01 00:00:00", dt.date(2024, 9, 1)),
        (dt.datetime(2024, 9, 1, 0, 0), dt.date(2024, 9, 1)),
    ],
)
def test_dates_in_iso_or_day_first(cell: Cell, day: dt.date) -> None:
    assert parse_date(cell) == day


@pytest.mark.parametrize("cell", ["2024-13-01", "ngày 5 tháng 9", "09/31/2024", 45536])
def test_dates_that_are_not(cell: Cell) -> None:
    with pytest.raises(ValueError, match="date"):
        parse_date(cell)


def test_whole_numbers() -> None:
    assert [parse_int(v) for v in (2, 2.0, "2", " 3 ", "4.0")] == [2, 2, 2, 3, 4]
    for bad in (2.5, "2,5", "", True):
        with pytest.raises(ValueError, match="whole number"):
            parse_int(bad)


def test_need_ref_rides_at_the_end_of_the_description() -> None:
    body = parse_row(_row(description="Tăng cường cán bộ")).need.body("NC-7")
    assert body["description"] == "Tăng cường cán bộ [need_ref: NC-7]"
    assert need_ref_of(body["description"]) == "NC-7"
    assert need_ref_of("Tăng cường cán bộ") is None
    assert need_ref_of(None) is None
