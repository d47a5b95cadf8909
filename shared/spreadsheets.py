"""Text that spreadsheets must not run: every file we write for Excel or LibreOffice (the
exports, the importer's refusal report) passes its cells through `neutralised`."""

from typing import Any, Final

FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
"""A text cell starting with one of these is read as a formula by spreadsheets (OWASP "CSV
injection")."""


def neutralised(value: Any) -> Any:
    """A text cell that cannot run as a formula: `'` before a formula's first character.

    Only text: numbers (negative ones too) and dates stay what they are.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
