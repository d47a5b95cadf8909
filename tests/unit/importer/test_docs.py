"""docs/import.md documents every column the importer reads, with its Vietnamese headers."""

from pathlib import Path

from services.importer.columns import COLUMNS, OPTIONAL_GROUPS

DOC = Path(__file__).resolve().parents[3] / "docs" / "import.md"


def test_every_column_is_in_the_table_with_its_headers_and_whether_required() -> None:
    lines = {
        line.split("|")[1].strip(): line
        for line in DOC.read_text(encoding="utf-8").splitlines()
        if line.startswith("| `")
    }
    for column in COLUMNS:
        line = lines.get(f"`{column.name}`")
        assert line is not None, f"{column.name} is not documented"
        for header in column.vi:
            assert f"`{header}`" in line, f"{column.name}: {header} is not documented"
        required = line.split("|")[3].strip()
        if column.group in OPTIONAL_GROUPS:
            assert required == ("in the group" if column.required else "no"), column.name
        else:
            assert required == ("yes" if column.required else "no"), column.name
