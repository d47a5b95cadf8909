"""The written phase review on generated data: the later phase is compared with the earlier
one as `/api/reports/compare` compares them, the tables hold the evaluation's figures, the
dashboard links both files, and the sentences read as Vietnamese does."""

import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from docx import Document
from pypdf import PdfReader

from services.reporting.entrypoints.review.vietnamese import in_sentence, listing
from tests.unit.reporting.conftest import generated_reporting

QUERY = {"as_of": "2027-06-30", "rollup": "successor"}


@pytest.fixture(scope="module")
async def client(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with generated_reporting(tmp_path_factory.mktemp("review") / "reporting.db") as c:
        yield c


def _pct(rate: float) -> str:
    return f"{rate * 100:.2f}".rstrip("0").rstrip(".").replace(".", ",") + " %"


async def test_the_later_phase_is_reviewed_against_the_earlier_one(
    client: httpx.AsyncClient,
) -> None:
    compared = await client.get(
        "/api/reports/compare", params=QUERY | {"phases": "2024-2025,2026-2030"}
    )
    both: dict[str, Any] = compared.json()["evaluations"]
    before, now = both["2024-2025"], both["2026-2030"]
    answer = await client.get("/api/reports/phases/2026-2030/review.pdf", params=QUERY)
    assert answer.status_code == 200, answer.text
    pages = PdfReader(io.BytesIO(answer.content)).pages
    text = " ".join(" ".join(p.extract_text() for p in pages).split())
    assert "Sơ kết giai đoạn 2026-2030" in text
    assert "So sánh với giai đoạn 2024-2025" in text
    assert "tạm tính, chờ lãnh đạo xác nhận" in text  # a provisional phase says so
    difference = now["promotion_rate"] - before["promotion_rate"]
    word = "cao hơn" if difference > 0 else "thấp hơn" if difference < 0 else "bằng"
    assert (f"đạt tỷ lệ {_pct(now['promotion_rate'])} số lượt đã kết thúc, {word}") in text
    assert f"so với giai đoạn 2024-2025 ({_pct(before['promotion_rate'])})" in text

    docx = await client.get("/api/reports/phases/2026-2030/review.docx", params=QUERY)
    document = Document(io.BytesIO(docx.content))
    table = next(t for t in document.tables if "2024-2025" in t.rows[0].cells[1].text)
    comparison = {r.cells[0].text: [c.text for c in r.cells[1:]] for r in table.rows}
    started = (before["secondments"]["started"], now["secondments"]["started"])
    assert comparison["Đã cử"][:2] == [f"{n:,}".replace(",", ".") for n in started]


async def test_the_dashboard_links_the_review_of_what_is_on_screen(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/", params={"phase": "2024-2025", "as_of": "2025-12-31"})
    assert 'id="review-pdf" href="/api/reports/phases/2024-2025/review.pdf?as_of=2025-12-31' in (
        page.text
    )
    assert 'id="review-docx"' in page.text


def test_names_and_lists_read_as_vietnamese() -> None:
    assert in_sentence("Huyện Nam Giang") == "huyện Nam Giang"
    assert in_sentence("Địa bàn huyện Nông Sơn cũ") == "địa bàn huyện Nông Sơn cũ"
    assert in_sentence("Ủy ban nhân dân tỉnh Quảng Nam") == "Ủy ban nhân dân tỉnh Quảng Nam"
    assert in_sentence("Sở Y tế") == "Sở Y tế"
    assert listing(["A"]) == "A"
    assert listing(["A", "B", "C"]) == "A, B và C"
    many = [str(n) for n in range(12)]
    assert listing(many, "địa phương") == "0, 1, 2, 3, 4, 5, 6 và 5 địa phương khác"
