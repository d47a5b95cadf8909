"""One cut of a fetched page (`limit + 1` rows) serves every list: needs, secondments, audit."""

from shared.seedwork.pagination import cut_page, decode_cursor


def test_a_full_page_with_an_extra_row_points_after_its_last_row() -> None:
    rows = [(10, "a"), (11, "b"), (12, "c")]
    page, after = cut_page(rows, 2, lambda row: row[0])
    assert list(page) == [(10, "a"), (11, "b")]
    assert after is not None
    assert decode_cursor(after) == 11


def test_the_last_page_has_no_cursor() -> None:
    rows = [(10, "a"), (11, "b")]
    page, after = cut_page(rows, 2, lambda row: row[0])
    assert list(page) == rows
    assert after is None
