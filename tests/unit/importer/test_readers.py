"""Readers and column mapping: CSV and XLSX, Vietnamese and English headers, bad files."""

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pytest
from openpyxl import Workbook

from services.importer import ImportFileError, read_csv, read_xlsx, readers
from services.importer.columns import (
    COLUMNS,
    REQUIRED_IN_HEADER,
    HeaderError,
    fold,
    map_headers,
)
from services.importer.readers import read_table

ENGLISH = [c.name for c in COLUMNS]
VIETNAMESE = [c.vi[0] for c in COLUMNS]


def _values(**changes: object) -> list[object]:
    """One full row in COLUMNS order."""
    row: dict[str, object] = {
        "need_ref": "NC-1", "host_unit": "SO_Y_TE", "sector": "HEALTH",
        "position_title": "Phó Trưởng phòng Nghiệp vụ Y", "positions": "2",
        "min_rank": "PHO_TRUONG_PHONG", "desired_start": "2024-09-01",
        "duration_months": "6", "raised_on": "2024-08-01", "official_id": "NG-0001",
        "full_name": "Alăng Thị Hoa", "gender": "Nữ", "birth_date": "02/03/1985",
        "ethnicity": "CO_TU", "service_category": "Công chức",
        "position_rank": "PHO_TRUONG_PHONG", "home_unit": "NAM_GIANG",
        "start_date": "2024-09-01", "planned_end_date": "2025-02-28",
        "decision_number": "123/QĐ-UBND", "decision_date": "2024-08-20",
    }  # fmt: skip
    row |= changes
    return [row.get(c.name, "") for c in COLUMNS]


def _csv(path: Path, header: Sequence[object], *rows: Sequence[object], sep: str = ",") -> Path:
    lines = [sep.join(str(h) for h in header)] + [sep.join(str(v) for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    return path


def test_headers_match_in_english_vietnamese_without_diacritics_or_in_capitals() -> None:
    for header in ("home_unit", "Cơ quan cử", "co quan cu", "CO_QUAN_CU", " Home unit "):
        assert fold(header) in ("home_unit", "co_quan_cu")
        mapping = map_headers([h if h != "home_unit" else header for h in ENGLISH])
        assert "home_unit" in mapping.values()
    assert set(map_headers(VIETNAMESE).values()) == set(ENGLISH)


def test_every_column_has_a_distinct_vietnamese_header() -> None:
    folded = [fold(v) for c in COLUMNS for v in (c.name, *c.vi)]
    assert len(folded) == len(set(folded))


def test_missing_required_columns_are_all_named() -> None:
    header = [h for h in ENGLISH if h not in ("home_unit", "decision_date")]
    with pytest.raises(HeaderError) as caught:
        map_headers(header)
    assert caught.value.missing == ("home_unit", "decision_date")
    assert "home_unit (Cơ quan cử)" in str(caught.value)


def test_optional_groups_may_be_left_out_of_the_file() -> None:
    mapping = map_headers(list(REQUIRED_IN_HEADER))
    assert "ended_on" not in mapping.values()


def test_a_column_given_twice_is_an_error() -> None:
    with pytest.raises(HeaderError, match="given twice"):
        map_headers([*ENGLISH, "Cơ quan cử"])


def test_unknown_columns_are_ignored_so_a_refusal_report_can_be_imported_again() -> None:
    mapping = map_headers(["row", "step", "rule", "message", *ENGLISH])
    assert set(mapping.values()) == set(ENGLISH)
    assert 0 not in mapping


def test_csv_reads_utf8_with_bom_comma_or_semicolon(tmp_path: Path) -> None:
    for sep in (",", ";", "\t"):
        table = read_csv(_csv(tmp_path / "a.csv", VIETNAMESE, _values(), sep=sep))
        (row,) = table.rows
        assert row.number == 2
        assert row.cells["home_unit"] == "NAM_GIANG"
        assert row.cells["full_name"] == "Alăng Thị Hoa"
        assert row.cells["ended_on"] is None
        assert row.original["Cơ quan cử"] == "NAM_GIANG"


def test_csv_row_numbers_are_the_spreadsheets_and_blank_rows_are_skipped(
    tmp_path: Path,
) -> None:
    blank = [""] * len(ENGLISH)
    path = _csv(tmp_path / "a.csv", ENGLISH, _values(), blank, _values(official_id="NG-2"))
    assert [r.number for r in read_csv(path).rows] == [2, 4]


def test_csv_not_in_utf8_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(",".join(VIETNAMESE).encode("cp1258", errors="replace"))
    with pytest.raises(ImportFileError, match="CSV UTF-8"):
        read_csv(path)


def test_missing_file_and_missing_columns(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="no such file"):
        read_table(tmp_path / "none.csv")
    path = _csv(tmp_path / "a.csv", ["host_unit", "sector"], ["SO_Y_TE", "HEALTH"])
    with pytest.raises(ImportFileError) as caught:
        read_csv(path)
    assert "official_id" in caught.value.missing
    assert "host_unit" not in caught.value.missing


def test_xlsx_reads_the_first_sheet_with_typed_cells(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(VIETNAMESE)
    values = _values(positions=2, birth_date=dt.datetime(1985, 3, 2), decision_number=123)
    sheet.append(values)
    sheet.append([None] * len(VIETNAMESE))
    path = tmp_path / "a.xlsx"
    workbook.save(path)
    (row,) = read_xlsx(path).rows
    assert row.cells["positions"] == 2
    assert row.cells["birth_date"] == dt.datetime(1985, 3, 2)
    assert row.original["Ngày sinh"] == "1985-03-02"
    assert row.original["Số quyết định"] == "123"


def test_xlsx_named_sheet_and_unreadable_workbook(tmp_path: Path) -> None:
    workbook = Workbook()
    other = workbook.create_sheet("Biệt phái")
    other.append(ENGLISH)
    other.append(_values())
    path = tmp_path / "a.xlsx"
    workbook.save(path)
    assert len(read_xlsx(path, "Biệt phái")) == 1
    with pytest.raises(ImportFileError, match="no sheet"):
        read_xlsx(path, "Sheet9")
    with pytest.raises(ImportFileError, match="header"):
        read_xlsx(path)  # the first sheet is empty
    broken = tmp_path / "broken.xlsx"
    broken.write_text("not a workbook")
    with pytest.raises(ImportFileError, match=r"not a readable \.xlsx"):
        read_table(broken)


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with path.open("wb") as f:  # sparse: no disk or time spent
        f.truncate(readers.MAX_FILE_BYTES + 1)
    with pytest.raises(ImportFileError, match="MiB is more than the 20 MiB"):
        read_table(path)


def test_more_rows_than_one_import_reads_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "MAX_ROWS", 3)
    rows = [_values(official_id=f"NG-{n}") for n in range(4)]
    with pytest.raises(ImportFileError, match="more than 3 rows"):
        read_table(_csv(tmp_path / "a.csv", ENGLISH, *rows))
    assert len(read_table(_csv(tmp_path / "b.csv", ENGLISH, *rows[:3]))) == 3


def test_a_workbook_that_unpacks_to_more_than_the_limit_is_refused_before_it_is_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An .xlsx is a zip: a file well under the size limit can unpack to gigabytes (one cell
    of repeated text compresses a thousandfold), which the parser would hold in memory."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(ENGLISH)
    for n in range(20):  # a cell holds at most 32,767 characters
        sheet.append(_values(official_id=f"NG-{n}", position_title="a" * 30_000))
    path = tmp_path / "packed.xlsx"
    workbook.save(path)
    assert path.stat().st_size < 20_000
    monkeypatch.setattr(readers, "MAX_UNPACKED_BYTES", 100_000)
    with pytest.raises(ImportFileError, match="unpacks to more than"):
        read_table(path)
    monkeypatch.setattr(readers, "MAX_UNPACKED_BYTES", 2_000_000)
    assert len(read_table(path)) == 20
