"""The reporting HTTP API on SQLite: evaluation, exports read back, compare, alerts, problems,
and the dashboard in both languages."""

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from services.reporting.entrypoints.i18n import format_number
from tests.unit.reporting.conftest import generated_reporting

EVALUATION = "/api/reports/phases/2024-2025/evaluation"
QUERY = {"as_of": "2025-12-31"}


@pytest.fixture(scope="module")
async def client(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with generated_reporting(tmp_path_factory.mktemp("reporting") / "reporting.db") as c:
        yield c


async def _json(client: httpx.AsyncClient, url: str, **params: Any) -> Any:
    response = await client.get(url, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_csv_export_holds_every_figure_of_the_json(client: httpx.AsyncClient) -> None:
    ev = await _json(client, EVALUATION, **QUERY)
    response = await client.get(EVALUATION + ".csv", params=QUERY)
    assert response.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    figures = {(r[0], r[1], r[2]): r[4] for r in lines[2:]}
    assert figures[("secondments", "", "started")] == str(ev["secondments"]["started"])
    assert figures[("needs", "", "fill_rate")] == str(ev["needs"]["fill_rate"])
    for code, group in ev["by_home_unit"].items():
        assert figures[("by_home_unit", code, "secondments.ended")] == str(
            group["secondments"]["ended"]
        )


async def test_the_xlsx_export_opens_and_holds_the_same_figures(client: httpx.AsyncClient) -> None:
    ev = await _json(client, EVALUATION, **QUERY)
    response = await client.get(EVALUATION + ".xlsx", params=QUERY)
    book = load_workbook(io.BytesIO(response.content))
    summary = book["Tổng hợp"]
    values = {(row[3], row[4]): row[2] for row in summary.iter_rows(min_row=6, values_only=True)}
    for block in ("needs", "secondments"):
        for key, value in ev[block].items():
            assert values[(block, key)] == value, (block, key)
    assert values[("outcomes", "promotion_rate")] == ev["promotion_rate"]
    sheet = book["by_ethnicity"]
    measures = [c.value for c in sheet[2]]
    for row in sheet.iter_rows(min_row=3, values_only=True):
        group = ev["by_ethnicity"][row[1]]
        assert row[measures.index("secondments.started")] == group["secondments"]["started"]
        assert row[measures.index("promoted")] == group["promoted"]


async def test_the_pdf_report_is_vietnamese_with_an_embedded_font_and_the_same_figures(
    client: httpx.AsyncClient,
) -> None:
    ev = await _json(client, EVALUATION, **QUERY)
    response = await client.get(EVALUATION + ".pdf", params=QUERY)
    assert response.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Báo cáo đánh giá giai đoạn 2024-2025" in text
    assert "Tính đến ngày: 31/12/2025" in text
    assert "Hoàn thành xuất sắc" in text
    assert "Bổ nhiệm cao hơn" in text
    for key, label in (("started", "Đã cử"), ("ended", "Đã kết thúc"), ("overdue", "Quá hạn")):
        value = format_number(ev["secondments"][key], "vi")
        assert any(label in line and line.rstrip().endswith(value) for line in text.splitlines())
    fonts = {
        str(f["/BaseFont"])
        for page in reader.pages
        for f in page["/Resources"]["/Font"].values()  # type: ignore[index]
    }
    assert all("DejaVu" in f for f in fonts), fonts
    font = reader.pages[0]["/Resources"]["/Font"]  # type: ignore[index]
    first = next(iter(font.values())).get_object()
    assert "/FontFile2" in first["/DescendantFonts"][0]["/FontDescriptor"]


def test_the_vendored_font_covers_every_vietnamese_letter() -> None:
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

    from services.reporting.entrypoints.exports import FONT_BOLD, FONT_REGULAR

    base = "aăâeêioôơuưyAĂÂEÊIOÔƠUƯY"
    tones = "\u0300\u0301\u0303\u0309\u0323"
    import unicodedata

    letters = set(base + "đĐ")
    letters |= {unicodedata.normalize("NFC", c + t) for c in base for t in tones}
    assert all(len(c) == 1 for c in letters)
    for path in (FONT_REGULAR, FONT_BOLD):
        cmap = TTFont(path).getBestCmap()
        missing = sorted(c for c in letters if ord(c) not in cmap)
        assert not missing, (path.name, missing)


async def test_compare_puts_two_phases_side_by_side_with_differences(
    client: httpx.AsyncClient,
) -> None:
    body = await _json(
        client, "/api/reports/compare", phases="2024-2025,2026-2030", as_of="2027-06-30"
    )
    a, b = body["evaluations"]["2024-2025"], body["evaluations"]["2026-2030"]
    assert body["differences"]["secondments"]["started"] == (
        b["secondments"]["started"] - a["secondments"]["started"]
    )
    single = await _json(client, EVALUATION.replace("2024-2025", "2026-2030"), as_of="2027-06-30")
    assert single == b
    # Two years against a year and a half so far: compared per year as well as in totals.
    assert body["years"] == {"2024-2025": 2.0014, "2026-2030": 1.4949}  # 731 and 546 days
    per_a, per_b = body["per_year"]["2024-2025"], body["per_year"]["2026-2030"]
    assert per_a["secondments"]["started"] == round(a["secondments"]["started"] / 2.0014, 2)
    assert per_b["needs"]["raised"] == round(b["needs"]["raised"] / 1.4949, 2)
    assert "active" not in per_a["secondments"]  # a stock, not a flow
    assert body["per_year_differences"]["secondments"]["started"] == round(
        per_b["secondments"]["started"] - per_a["secondments"]["started"], 4
    )


async def test_alerts_list_ending_soon_overdue_and_long_open_needs(
    client: httpx.AsyncClient,
) -> None:
    body = await _json(client, "/api/reports/alerts", as_of="2025-06-30")
    assert body["counts"]["overdue"] == len(body["overdue"]) or len(body["overdue"]) == 100
    for item in body["ending_soon"]:
        assert 0 <= item["days"] <= 30
    for item in body["overdue"]:
        assert item["days"] >= 1
    for item in body["needs_open_long"]:
        assert item["days_open"] >= 60
    assert body["counts"]["ending_soon"] + body["counts"]["overdue"] > 0
    # what became of each official: ended a month ago or more, and no post recorded yet
    unarranged = body["ended_without_arrangement"]
    assert body["counts"]["ended_without_arrangement"] >= len(unarranged) > 0
    assert all(item["days"] >= 30 and item["ended_on"] <= "2025-05-31" for item in unarranged)
    page = await client.get("/", params={"phase": "2024-2025", "as_of": "2025-06-30"})
    assert 'id="unarranged"' in page.text
    assert "chưa bố trí công tác" in page.text


async def test_refusals_are_problem_details(client: httpx.AsyncClient) -> None:
    unknown = await client.get("/api/reports/phases/2031-2035/evaluation")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert unknown.json()["rule"] == "NOT_FOUND"
    assert "2031-2035" in unknown.json()["detail"]
    bad_date = await client.get(EVALUATION, params={"as_of": "31/12/2025"})
    assert bad_date.status_code == 422
    assert bad_date.json()["rule"] == "INVALID_REQUEST"
    bad_rollup = await client.get(EVALUATION, params={"rollup": "parent"})
    assert bad_rollup.status_code == 422
    one_phase = await client.get(
        "/api/reports/compare", params={"phases": "2024-2025"}, headers={"Accept-Language": "en"}
    )
    assert one_phase.status_code == 422
    assert one_phase.json()["title"] == "The request is not valid"
    phases = await _json(client, "/api/reports/phases")
    assert [p["phase_id"] for p in phases] == ["2024-2025", "2026-2030"]
    assert all(p["cap_months"] == 6 for p in phases)
    assert [p["provisional"] for p in phases] == [False, True]


async def test_the_dashboard_marks_a_provisional_phase_as_awaiting_confirmation(
    client: httpx.AsyncClient,
) -> None:
    """Leadership must not read the 2026–2030 figures as confirmed ones."""
    first = await client.get("/", params={"phase": "2024-2025", "as_of": "2025-12-31"})
    second = await client.get("/", params={"phase": "2026-2030", "as_of": "2026-12-31"})
    assert 'id="provisional"' not in first.text
    assert 'id="provisional"' in second.text
    assert "tạm tính, chờ lãnh đạo xác nhận" in second.text


async def test_the_dashboard_speaks_vietnamese_by_default_and_english_on_request(
    client: httpx.AsyncClient,
) -> None:
    vi = await client.get("/", params={"phase": "2024-2025", "as_of": "2025-12-31"})
    assert vi.status_code == 200
    assert "Đánh giá giai đoạn" in vi.text
    assert "31/12/2025" in vi.text
    assert 'src="/static/chart.umd.min.js"' in vi.text
    assert "cdn" not in vi.text.lower()
    en = await client.get("/", params={"as_of": "2025-12-31", "lang": "en"})
    assert "Phase evaluation" in en.text
    script = await client.get("/static/chart.umd.min.js")
    assert script.status_code == 200
    assert "Chart" in script.text[:5000]


async def test_what_became_of_each_official_is_on_the_dashboard_and_in_the_exports(
    client: httpx.AsyncClient,
) -> None:
    """Outcomes per home locality, host and sector, receptions, later promotions with their
    delay and needs' time to fill: in the JSON, the CSV and (Vietnamese first) the dashboard."""
    ev = await _json(client, EVALUATION, **QUERY)
    assert ev["promoted_after_return"] > 0  # the generator records later promotions
    assert ev["promotion_delay_days"]["median"] is not None
    assert ev["time_to_fill_days"]["median"] is not None
    home, group = next(iter(ev["by_home_unit"].items()))
    response = await client.get(EVALUATION + ".csv", params=QUERY)
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    figures = {(r[0], r[1], r[2]): r[4] for r in lines[2:]}
    assert figures[("outcomes", "", "promoted_after_return")] == str(ev["promoted_after_return"])
    assert figures[("time_to_fill_days", "", "median")] == str(ev["time_to_fill_days"]["median"])
    assert figures[("by_home_unit", home, "outcomes.ratings.GOOD")] == str(
        group["outcomes"]["ratings"]["GOOD"]
    )
    assert figures[("secondments", "", "received")] == str(ev["secondments"]["received"])
    vi = await client.get("/", params={"phase": "2024-2025", "as_of": "2025-12-31"})
    for text in (
        "Kết quả sau biệt phái theo nhóm",
        "Bổ nhiệm sau khi trở về",
        "Thời gian từ khi đăng ký nhu cầu đến khi đủ người (ngày)",
        "Đã tiếp nhận",
        'id="outcomes_by_home_unit"',
        'id="outcomes_by_sector"',
    ):
        assert text in vi.text, text
    assert 'id="outcomes_by_gender"' not in vi.text
    pdf = await client.get(EVALUATION + ".pdf", params=QUERY)
    assert pdf.status_code == 200


async def test_the_locality_plans_are_in_every_export(client: httpx.AsyncClient) -> None:
    """Plan against actual per locality and for the province, by year, and who is behind:
    the CSV and the XLSX hold the JSON's figures, the PDF its table."""
    ev = await _json(client, EVALUATION, **QUERY)
    plans = ev["plans"]
    behind = [code for code, p in plans["localities"].items() if p["behind_plan"]]
    assert 0 < len(behind) < len(plans["localities"])  # the generator plans both
    response = await client.get(EVALUATION + ".csv", params=QUERY)
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    figures = {(r[0], r[1], r[2]): r[4] for r in lines[2:]}
    province = plans["province"]
    for key in ("planned", "expected_to_date", "seconded", "progress", "behind_plan"):
        assert figures[("plans", "", key)] == str(province[key]), key
    for code, p in plans["localities"].items():
        assert figures[("plans", code, "behind_plan")] == str(p["behind_plan"])
        assert figures[("plans", code, "decisions")] == "; ".join(p["decisions"])
        for year in p["years"]:
            assert figures[("plans", code, f"years.{year['year']}.planned")] == str(year["planned"])
            assert figures[("plans", code, f"years.{year['year']}.seconded")] == str(
                year["seconded"]
            )
    book = load_workbook(io.BytesIO((await client.get(EVALUATION + ".xlsx", params=QUERY)).content))
    sheet = book["plans"]
    measures = [c.value for c in sheet[2]]
    rows = list(sheet.iter_rows(min_row=3, values_only=True))
    assert [r[1] for r in rows] == [*plans["localities"], None]  # the province last
    for row in rows:
        p = plans["localities"][row[1]] if row[1] else province
        assert row[measures.index("seconded")] == p["seconded"]
        assert row[measures.index("expected_to_date")] == p["expected_to_date"]
        assert row[measures.index("behind_plan")] == p["behind_plan"]
        assert row[measures.index("years.2025.planned")] == p["years"][1]["planned"]
    pdf = await client.get(EVALUATION + ".pdf", params=QUERY)
    pages = PdfReader(io.BytesIO(pdf.content)).pages
    text = " ".join(" ".join(page.extract_text() for page in pages).split())  # cells wrap
    assert "Kế hoạch biệt phái của các địa phương" in text
    assert "2025: kế hoạch / đã cử" in text
    n = format_number
    cells = " ".join(
        f"{n(y['planned'], 'vi')} / {n(y['seconded'], 'vi')}" for y in province["years"]
    )
    assert f"Toàn tỉnh {cells} {format_number(province['planned'], 'vi')}" in text
    assert text.count("Chậm tiến độ") >= len(behind) + 1  # the column's title, then each one


async def test_where_the_officials_went_is_in_the_csv_and_the_xlsx(
    client: httpx.AsyncClient,
) -> None:
    """Destination unit × post arrangement: the JSON's figures in the CSV rows and the XLSX's
    `by_destination` sheet (the generator records a destination for most arrangements)."""
    ev = await _json(client, EVALUATION, **QUERY)
    destinations = ev["post_arrangements_by_destination"]
    assert len(destinations) > 1
    arranged = sum(ev["post_arrangements"].values())
    assert 0 < sum(sum(c.values()) for c in destinations.values()) < arranged
    response = await client.get(EVALUATION + ".csv", params=QUERY)
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    got = {(r[1], r[2]): int(r[4]) for r in lines[2:] if r[0] == "post_arrangements_by_destination"}
    assert got == {(u, a): n for u, codes in destinations.items() for a, n in codes.items()}
    book = load_workbook(io.BytesIO((await client.get(EVALUATION + ".xlsx", params=QUERY)).content))
    sheet = book["by_destination"]
    posts = [c.value for c in sheet[2]][2:]
    rows = list(sheet.iter_rows(min_row=3, values_only=True))
    assert [r[1] for r in rows] == list(destinations)
    for row in rows:
        assert dict(zip(posts, row[2:], strict=True)) == {
            p: destinations[row[1]].get(p, 0) for p in posts
        }
