"""The written phase review on generated data: the later phase is compared with the earlier
one as `/api/reports/compare` compares them, the tables hold the evaluation's figures, the
dashboard links both files, and the sentences read as Vietnamese does."""

import datetime as dt
import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from docx import Document
from pypdf import PdfReader

from services.reporting.entrypoints.review.vietnamese import in_sentence, listing
from shared.phases import DEFAULT_PHASES
from shared.reference import reference_data
from tests.bench.generator import generate
from tests.bench.oracle import World
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


def _vi(value: float | int) -> str:
    """The test's own Vietnamese number: dot thousands, decimal comma, two decimals at most."""
    text = f"{value:,.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


def _name(code: str) -> str:
    unit = reference_data().unit(code)
    assert unit is not None
    return unit.name


async def test_the_plans_and_outcomes_sections_state_the_independent_figures(
    client: httpx.AsyncClient,
) -> None:
    """Mid-phase (the plan's pace counted by days), the review's plan table, its findings on
    the localities behind plan and on later promotions, receptions and time to fill, against
    the oracle's recomputation from the generated events (tests/bench/oracle.py)."""
    as_of = dt.date(2025, 3, 1)
    world = World(m for _, _, m in generate(11, needs=200).messages)
    expected = world.evaluate(DEFAULT_PHASES[0], as_of)
    plans = expected["plans"]
    params = {"as_of": as_of.isoformat()}
    docx = await client.get("/api/reports/phases/2024-2025/review.docx", params=params)
    assert docx.status_code == 200, docx.text
    document = Document(io.BytesIO(docx.content))
    table = next(t for t in document.tables if "Kế hoạch cả giai đoạn" in t.rows[0].cells[1].text)
    rows = {r.cells[0].text: [c.text for c in r.cells[1:]] for r in table.rows[1:]}
    for code, p in [*plans["localities"].items(), ("", plans["province"])]:
        short = p["expected_to_date"] - p["seconded"]
        assert rows[_name(code) if code else "Toàn tỉnh"] == [
            _vi(p["planned"]), _vi(p["expected_to_date"]), _vi(p["seconded"]),
            _vi(round(p["progress"] * 100, 2)) + " %", _vi(short) if short > 0 else "—",
        ]  # fmt: skip
    yearly = next(t for t in document.tables if t.rows[0].cells[1].text == "Năm 2024")
    by_year = {r.cells[0].text: [c.text for c in r.cells[1:]] for r in yearly.rows[1:]}
    for code, p in plans["localities"].items():
        assert by_year[_name(code)] == [f"{y['planned']} / {y['seconded']}" for y in p["years"]]

    pdf = await client.get("/api/reports/phases/2024-2025/review.pdf", params=params)
    pages = PdfReader(io.BytesIO(pdf.content)).pages
    text = " ".join(" ".join(p.extract_text() for p in pages).split())
    assert "IV. THỰC HIỆN KẾ HOẠCH BIỆT PHÁI CỦA CÁC ĐỊA PHƯƠNG" in text
    assert "V. KẾT QUẢ SAU BIỆT PHÁI" in text
    assert "Biểu đồ 3. Kế hoạch, tiến độ cần đạt và số đã cử" in text
    text = " ".join(" ".join(p.text for p in document.paragraphs).split())  # no running heads
    behind = sorted(
        (
            (p["expected_to_date"] - p["seconded"], _name(code))
            for code, p in plans["localities"].items()
            if p["seconded"] < p["expected_to_date"]
        ),
        key=lambda pair: (-pair[0], pair[1].lower()),
    )
    assert 0 < len(behind) < len(plans["localities"])
    named = [f"{n[0].lower()}{n[1:]} (thiếu {short} người)" for short, n in behind]
    listed = ", ".join(named[:-1]) + " và " + named[-1] if len(named) > 1 else named[0]
    assert (
        f"Có {len(behind)}/{len(plans['localities'])} địa phương chậm so với tiến độ kế hoạch: "
        f"{listed}."
    ) in text
    province = plans["province"]
    assert (
        f"cần cử {_vi(province['planned'])} cán bộ; đến ngày 01/03/2025 đã cử "
        f"{_vi(province['seconded'])} lượt"
    ) in text
    delay = expected["promotion_delay_days"]
    assert expected["promoted_after_return"] > 0
    assert (
        f"Trong {_vi(expected['promoted'])} lượt được bổ nhiệm, "
        f"{_vi(expected['promoted_after_return'])} lượt được bổ nhiệm sau khi đã trở về công "
        f"tác; thời gian từ khi kết thúc biệt phái đến khi được bổ nhiệm bình quân "
        f"{_vi(delay['mean'])} ngày (trung vị {_vi(delay['median'])} ngày, dài nhất "
        f"{_vi(delay['max'])} ngày)."
    ) in text
    s = expected["secondments"]
    assert (
        f"Cơ quan tiếp nhận đã ghi nhận tiếp nhận {_vi(s['received'])}/{_vi(s['started'])} lượt "
        f"biệt phái ({_pct(s['received'] / s['started'])})."
    ) in text
    fill = expected["time_to_fill_days"]
    assert (
        "Thời gian từ khi đăng ký nhu cầu đến khi bố trí đủ người bình quân "
        f"{_vi(fill['mean'])} ngày (trung vị {_vi(fill['median'])} ngày"
    ) in text
    # Where the officials went: the finding names the most frequent destinations, the table
    # holds each one's arrangements and promotions.
    went = expected["post_arrangements_by_destination"]
    counts = sorted(
        ((_name(code), sum(c.values())) for code, c in went.items()),
        key=lambda pair: (-pair[1], pair[0].lower()),
    )
    top = [f"{in_sentence(n)} ({_vi(k)} lượt)" for n, k in counts[:3]]
    assert (
        f"Có {_vi(sum(k for _, k in counts))}/{_vi(sum(expected['post_arrangements'].values()))} "
        f"lượt bố trí công tác sau biệt phái ghi rõ cơ quan, đơn vị đến công tác; nhiều nhất là "
        f"{listing(top)}."
    ) in text
    where = next(
        t for t in document.tables if t.rows[0].cells[0].text == "Cơ quan, đơn vị đến công tác"
    )
    assert {r.cells[0].text: [c.text for c in r.cells[1:]] for r in where.rows[1:]} == {
        _name(code): [_vi(sum(c.values())), _vi(c.get("PROMOTED", 0))] for code, c in went.items()
    }


def test_names_and_lists_read_as_vietnamese() -> None:
    assert in_sentence("Huyện Nam Giang") == "huyện Nam Giang"
    assert in_sentence("Địa bàn huyện Nông Sơn cũ") == "địa bàn huyện Nông Sơn cũ"
    assert in_sentence("Ủy ban nhân dân tỉnh Quảng Nam") == "Ủy ban nhân dân tỉnh Quảng Nam"
    assert in_sentence("Sở Y tế") == "Sở Y tế"
    assert listing(["A"]) == "A"
    assert listing(["A", "B", "C"]) == "A, B và C"
    many = [str(n) for n in range(12)]
    assert listing(many, "địa phương") == "0, 1, 2, 3, 4, 5, 6 và 5 địa phương khác"
