"""docs/rules.md documents every rule code with the status and titles the code really uses."""

import re
from pathlib import Path
from typing import NamedTuple

import pytest

from shared.contract.rules import RULES, RuleCode

RULES_DOC = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
ROW = re.compile(r"^\|\s*`(?P<code>[A-Z_]+)`\s*\|")
COLUMNS = 5  # code | HTTP | Vietnamese title | English title | when


class DocumentedRule(NamedTuple):
    """One row of the table in docs/rules.md."""

    status: str
    title_vi: str
    title_en: str
    when: str


def documented_rows() -> list[tuple[str, DocumentedRule]]:
    """Every table row naming a code, in document order (duplicates kept)."""
    rows: list[tuple[str, DocumentedRule]] = []
    for line in RULES_DOC.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match is None:
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        assert len(cells) == COLUMNS, f"row of {match['code']} has {len(cells)} cells: {line!r}"
        rows.append((match["code"], DocumentedRule(*cells[1:])))
    return rows


def documented() -> dict[str, DocumentedRule]:
    return dict(documented_rows())


def test_the_doc_has_a_table_of_rule_codes() -> None:
    assert len(documented_rows()) >= len(RuleCode)


def test_every_rule_code_has_a_status_and_two_titles_in_the_contract() -> None:
    assert set(RULES) == set(RuleCode)


def test_every_rule_code_is_documented() -> None:
    missing = sorted(set(RuleCode) - set(documented()))
    assert missing == [], f"add these codes to {RULES_DOC}"


def test_the_doc_documents_no_code_that_the_contract_lacks() -> None:
    extra = sorted(set(documented()) - set(RuleCode))
    assert extra == [], f"remove these codes from {RULES_DOC} or add them to RuleCode"


def test_each_code_is_documented_once() -> None:
    codes = [code for code, _ in documented_rows()]
    assert sorted(codes) == sorted(set(codes))


@pytest.mark.parametrize("code", list(RuleCode), ids=str)
def test_the_documented_status_is_the_one_the_code_answers_with(code: RuleCode) -> None:
    row = documented().get(code.value)
    assert row is not None, f"{code} is missing from {RULES_DOC}"
    assert row.status == str(RULES[code].status)


@pytest.mark.parametrize("code", list(RuleCode), ids=str)
def test_the_documented_titles_are_the_ones_the_code_answers_with(code: RuleCode) -> None:
    row = documented().get(code.value)
    assert row is not None, f"{code} is missing from {RULES_DOC}"
    assert (row.title_vi, row.title_en) == (RULES[code].title_vi, RULES[code].title_en)


@pytest.mark.parametrize("code", list(RuleCode), ids=str)
def test_the_doc_says_when_each_code_applies(code: RuleCode) -> None:
    row = documented().get(code.value)
    assert row is not None, f"{code} is missing from {RULES_DOC}"
    assert row.when != ""


def test_the_doc_says_a_need_not_yet_known_is_retried_after_a_503() -> None:
    row = documented()[RuleCode.NEED_NOT_YET_KNOWN.value]
    assert row.status == "503"
    assert "Retry-After" in row.when
