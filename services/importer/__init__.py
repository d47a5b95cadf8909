"""Import of historical secondment decisions from a spreadsheet, through the public HTTP API.

A command-line API client, not a service: no domain, no database. `docs/import.md` documents
the columns; `python -m services.importer --help` the command.
"""

from services.importer.importer import import_rows
from services.importer.outcomes import ImportReport, Outcome, RowResult, Step
from services.importer.readers import ImportFileError, SourceRow, Table, read_csv, read_xlsx

__all__ = [
    "ImportFileError",
    "ImportReport",
    "Outcome",
    "RowResult",
    "SourceRow",
    "Step",
    "Table",
    "import_rows",
    "read_csv",
    "read_xlsx",
]
