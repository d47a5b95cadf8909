"""Reading the spreadsheet: CSV (UTF-8, comma, semicolon or tab) and XLSX (first sheet).

Readers only read: each data row becomes a `SourceRow` with its spreadsheet row number (the
header is row 1), its cells keyed by canonical column name, and the cells as written for the
refusal report. Values are checked later, row by row, so a bad cell refuses one row.
"""

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from services.importer.columns import HeaderError, map_headers

Cell = str | int | float | dt.date | dt.datetime | None
"""A cell as read: text from CSV; text, numbers or dates from XLSX; None when blank."""


class ImportFileError(Exception):
    """The file cannot be imported at all (unreadable, not a table, required columns missing)."""

    def __init__(self, message: str, missing: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.missing = tuple(missing)


@dataclass(frozen=True)
class SourceRow:
    """One data row of the spreadsheet."""

    number: int
    """The spreadsheet's row number (the header is row 1), as Excel shows it."""
    cells: Mapping[str, Cell]
    """Known columns by canonical name; blank cells are None."""
    original: Mapping[str, str] = field(default_factory=dict)
    """Every column as written, header → text, for the refusal report."""


@dataclass(frozen=True)
class Table:
    """What a reader returns: the headers as written and the data rows."""

    headers: tuple[str, ...]
    rows: tuple[SourceRow, ...]

    def __iter__(self) -> Iterator[SourceRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


def _blank(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Cell) -> str:
    """A cell as a person would read it."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


MAX_FILE_BYTES = 20 * 1024 * 1024
"""The largest file read: the province's historical decisions are some thousands of rows
(kilobytes to a few megabytes); anything far bigger is a mistake or an attack."""
MAX_ROWS = 50_000
"""The most data rows read from one file (blank rows aside); split a bigger import."""
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
"""The most a workbook may unpack to (the sizes its zip directory declares, which Python's
zipfile never reads past): 50,000 rows of decisions are well under 100 MiB of XML, while a
small file of repeated text can unpack to gigabytes that the parser would hold in memory
(shared strings are read whole before the first row)."""


def _check_size(path: Path) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise ImportFileError(f"{path}: no such file") from exc
    if size > MAX_FILE_BYTES:
        raise ImportFileError(
            f"{path}: {size / 1024 / 1024:.1f} MiB is more than the "
            f"{MAX_FILE_BYTES // 1024 // 1024} MiB one import reads; split the file"
        )


def _check_unpacked(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        return  # not a zip: openpyxl says the workbook is unreadable, with its reason
    if unpacked > MAX_UNPACKED_BYTES:
        raise ImportFileError(
            f"{path}: the workbook unpacks to more than {MAX_UNPACKED_BYTES // 1024 // 1024} "
            f"MiB ({unpacked / 1024 / 1024:.1f} MiB); one import reads at most that, split the file"
        )


def build_table(
    name: str, header: Sequence[Cell], records: Iterable[tuple[int, Sequence[Cell]]]
) -> Table:
    """Map the header, then turn each non-blank record into a `SourceRow` (at most
    `MAX_ROWS`: a workbook can unpack to far more than its file size says)."""
    headers = tuple(_text(h).strip() for h in header)
    try:
        mapping = map_headers(headers)
    except HeaderError as exc:
        raise ImportFileError(f"{name}: {exc}", exc.missing) from exc
    rows: list[SourceRow] = []
    for number, record in records:
        if all(_blank(v) for v in record):
            continue
        if len(rows) == MAX_ROWS:
            raise ImportFileError(
                f"{name}: more than {MAX_ROWS:,} rows; one import reads at most that many, "
                "split the file"
            )
        values = list(record) + [None] * (len(headers) - len(record))
        cells: dict[str, Cell] = {
            canonical: None if _blank(values[i]) else values[i] for i, canonical in mapping.items()
        }
        original = {headers[i] or f"column {i + 1}": _text(v) for i, v in enumerate(values)}
        rows.append(SourceRow(number=number, cells=cells, original=original))
    return Table(headers=headers, rows=tuple(rows))


def read_csv(path: Path) -> Table:
    """A CSV file in UTF-8 (with or without BOM); comma, semicolon or tab separated."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise ImportFileError(f"{path}: no such file") from exc
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"{path}: not UTF-8 text (byte {exc.start}); save it as “CSV UTF-8” "
            "or as an Excel workbook (.xlsx)"
        ) from exc
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    first_line = text.split("\n", 1)[0]
    if not first_line.strip():
        raise ImportFileError(f"{path}: the first line (the header) is empty")
    delimiter = max(",;\t", key=first_line.count)
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise ImportFileError(f"{path}: not a valid CSV file ({exc})") from exc
    header, *data = records
    return build_table(str(path), header, ((n, list(r)) for n, r in enumerate(data, start=2)))


def read_xlsx(path: Path, sheet: str | None = None) -> Table:
    """An Excel workbook: the named sheet, else the first; the header is its first row."""
    from openpyxl import load_workbook  # imported here: CSV imports do not pay for it

    _check_unpacked(path)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError as exc:
        raise ImportFileError(f"{path}: no such file") from exc
    except Exception as exc:  # openpyxl raises many kinds for a bad file
        raise ImportFileError(f"{path}: not a readable .xlsx workbook ({exc})") from exc
    try:
        sheets = {ws.title: ws for ws in workbook.worksheets}
        if sheet is not None and sheet not in sheets:
            raise ImportFileError(f"{path}: no sheet {sheet!r} (sheets: {', '.join(sheets)})")
        worksheet = sheets[sheet] if sheet is not None else workbook.worksheets[0]
        rows = worksheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None or all(_blank(_cell(v)) for v in header):
            raise ImportFileError(f"{path}: the first row (the header) is empty")
        return build_table(
            str(path),
            [_cell(v) for v in header],
            ((n, [_cell(v) for v in r]) for n, r in enumerate(rows, start=2)),
        )
    finally:
        workbook.close()


def _cell(value: object) -> Cell:
    """openpyxl's value as a `Cell` (times and other types become text)."""
    if value is None or isinstance(value, str | int | float | dt.date):
        return value
    return str(value)


def read_table(path: Path, sheet: str | None = None) -> Table:
    """Read by extension: `.xlsx`/`.xlsm` as a workbook, anything else as CSV; a file over
    `MAX_FILE_BYTES` is refused before it is read."""
    _check_size(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return read_xlsx(path, sheet)
    if path.suffix.lower() == ".xls":
        raise ImportFileError(f"{path}: old .xls workbooks are not read; save it as .xlsx")
    return read_csv(path)
