"""The dashboard in a real browser (Debian's headless Chromium driven by Playwright): a leader
opens it on the embedded default with its demo data, switches to English, changes the phase
and the "as of" date, and sees the numbers change to what the API answers; the locality
plans (chart, table, `behind_plan` alert) and what became of the officials (later promotions,
outcome tables per group) render the API's figures.

Screenshots go to $SECONDMENT_SCREENSHOTS (docs/screenshots/ when regenerating them), else to
the test's temporary directory.
"""

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from services.embedded.app import keys_dir
from services.reporting.entrypoints.i18n import format_number, format_percent
from shared.http.tokens import DevIssuer
from tests import auth
from tests.e2e.test_embedded_default import embedded

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("SECONDMENT_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail("Chromium is missing: apt-get install -y chromium chromium-driver")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@dataclass(frozen=True)
class System:
    """The running embedded default and its data folder."""

    url: str
    data: Path

    def reader(self) -> dict[str, str]:
        return auth.reader(DevIssuer(keys_dir(self.data)))


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    data = tmp_path_factory.mktemp("embedded") / "var"
    with embedded(data) as (url, _):
        yield System(url, data)


def _sign_in(page: Page, system: System, target: str) -> None:
    """Open a page; an anonymous visitor lands on /login, signs in, and comes back."""
    page.goto(system.url + target)
    assert "/login" in page.url
    password = DevIssuer(keys_dir(system.data)).demo_passwords()["lanhdao"]
    page.fill("#username", "lanhdao")
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("#sign-in")
    assert "/login" not in page.url


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("SECONDMENT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _evaluation(system: System, phase: str, as_of: str) -> Any:
    response = httpx.get(
        f"{system.url}/api/reports/phases/{phase}/evaluation",
        params={"as_of": as_of, "rollup": "successor"},
        headers=system.reader(),
    )
    response.raise_for_status()
    return response.json()


def _metric(page: Page, name: str) -> str:
    return page.locator(f'[data-metric="{name}"] b').inner_text().strip()


def test_a_leader_switches_language_phase_and_date_and_sees_the_numbers_change(
    browser: Browser, system: System, tmp_path: Path
) -> None:
    shots = _shots(tmp_path)
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="vi-VN")
    _sign_in(page, system, "/?phase=2024-2025&as_of=2025-12-31")
    assert "Đánh giá giai đoạn" in page.title()
    page.wait_for_function("window.Chart !== undefined && Chart.instances !== undefined")
    charts = page.evaluate("Object.keys(Chart.instances).length")
    # Phase against phase, by home district, outcomes, month by month, the plans' progress.
    assert charts == 5
    first = _evaluation(system, "2024-2025", "2025-12-31")
    started = first["secondments"]["started"]
    assert started > 0
    assert _metric(page, "secondments.started") == format_number(started, "vi")
    assert _metric(page, "needs.raised") == format_number(first["needs"]["raised"], "vi")
    assert "31/12/2025" in page.locator("#as-of-text").inner_text()
    page.screenshot(path=str(shots / "dashboard-vi.png"), full_page=True)

    page.click("#switch-lang")
    page.wait_for_load_state()
    assert "Phase evaluation" in page.title()
    assert page.locator("h1").inner_text().startswith("Secondment of ethnic-minority")
    assert _metric(page, "secondments.started") == format_number(started, "en")
    page.screenshot(path=str(shots / "dashboard-en.png"), full_page=True)

    # Another phase: the page reloads with that phase's figures.
    with page.expect_navigation():
        page.select_option("#phase", "2026-2030")
    second = _evaluation(system, "2026-2030", "2025-12-31")
    assert _metric(page, "secondments.started") == format_number(
        second["secondments"]["started"], "en"
    )

    # Back to 2024-2025 as of an earlier date: fewer secondments had started.
    with page.expect_navigation():
        page.select_option("#phase", "2024-2025")
    with page.expect_navigation():
        page.fill("#as_of", "2024-06-30")
        page.dispatch_event("#as_of", "change")
    earlier = _evaluation(system, "2024-2025", "2024-06-30")
    assert earlier["secondments"]["started"] < started
    assert _metric(page, "secondments.started") == format_number(
        earlier["secondments"]["started"], "en"
    )
    assert _metric(page, "secondments.ended") == format_number(
        earlier["secondments"]["ended"], "en"
    )
    page.close()


def test_the_export_links_download_the_report_of_what_is_on_screen(
    browser: Browser, system: System, tmp_path: Path
) -> None:
    page = browser.new_page()
    _sign_in(page, system, "/?phase=2024-2025&as_of=2025-12-31")
    with page.expect_download() as download:
        page.click("#export-pdf")
    saved = tmp_path / "report.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")
    href = page.get_attribute("#export-xlsx", "href")
    assert href is not None
    assert "as_of=2025-12-31" in href
    assert "rollup=successor" in href
    page.close()


def test_the_plans_and_the_outcomes_render_the_figures_of_the_api(
    browser: Browser, system: System, tmp_path: Path
) -> None:
    """The demo's plans and later promotions, on screen as the API answers them."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="vi-VN")
    _sign_in(page, system, "/?phase=2024-2025&as_of=2025-12-31")
    page.wait_for_function("window.Chart !== undefined && Chart.instances !== undefined")
    ev = _evaluation(system, "2024-2025", "2025-12-31")
    plans = ev["plans"]
    assert plans["localities"], "the demo has plans"

    # The progress chart: the province, then each locality; planned, expected, seconded.
    drawn = page.evaluate(
        "(() => { const c = Chart.getChart(document.getElementById('chart-plans'));"
        " return {labels: c.data.labels, data: c.data.datasets.map(d => d.data),"
        " width: c.width}; })()"
    )
    rows = [plans["province"], *plans["localities"].values()]
    assert drawn["labels"][0] == "Toàn tỉnh"
    assert len(drawn["labels"]) == len(rows)
    assert drawn["data"] == [
        [r[m] for r in rows] for m in ("planned", "expected_to_date", "seconded")
    ]
    assert drawn["width"] > 0

    # The table: one row per locality and the province, behind ones marked.
    for code, p in [("province", plans["province"]), *plans["localities"].items()]:
        row = page.locator(f'#plans tr[data-plan="{code}"]')
        assert row.is_visible(), code
        cells = [c.strip() for c in row.locator("td").all_inner_texts()]
        assert cells[-4:] == [
            format_number(p["seconded"], "vi"),
            format_number(p["expected_to_date"], "vi"),
            format_number(p["planned"], "vi"),
            format_percent(p["progress"], "vi"),
        ], code
        years = [f"{format_number(y['seconded'], 'vi')} / {format_number(y['planned'], 'vi')}"
                 for y in p["years"]]  # fmt: skip
        assert cells[1:-4] == years, code
        assert ("behind" in (row.get_attribute("class") or "")) == p["behind_plan"], code
        assert ("(Chậm tiến độ)" in cells[0]) == p["behind_plan"], code

    # The alert: the localities behind their pace (no roll-up), largest shortfall first.
    alerts = httpx.get(
        f"{system.url}/api/reports/alerts",
        params={"as_of": "2025-12-31", "limit": 10},
        headers=system.reader(),
    ).json()
    behind = alerts["behind_plan"]
    assert behind, "the demo has localities behind their plan"
    title = page.locator("#behind-plan b").inner_text()
    assert f"({format_number(alerts['counts']['behind_plan'], 'vi')})" in title
    items = page.locator("#behind-plan li").all_inner_texts()
    assert len(items) == len(behind)
    for item, b in zip(items, behind, strict=True):
        assert f"thiếu {b['shortfall']} người so với tiến độ" in item
        assert f"Đã biệt phái {format_number(b['seconded'], 'vi')}" in item

    # What became of the officials: later promotions and their delay, outcomes per group.
    assert ev["promoted_after_return"] > 0, "the demo records later promotions"
    assert _metric(page, "promoted_after_return") == format_number(
        ev["promoted_after_return"], "vi"
    )
    assert _metric(page, "promotion_delay_days.median") == format_number(
        ev["promotion_delay_days"]["median"], "vi"
    )
    for dim in ("home_unit", "host_unit", "sector"):
        table = page.locator(f"#outcomes_by_{dim}")
        assert table.is_visible(), dim
        groups = {k: g for k, g in ev[f"by_{dim}"].items() if g["outcomes"]}
        assert groups, dim
        assert table.locator("tr[data-group]").count() == len(groups)
        for code, g in groups.items():
            cells = table.locator(f'tr[data-group="{code}"] td').all_inner_texts()
            o = g["outcomes"]
            assert [c.strip() for c in cells[-2:]] == [
                format_number(o["promoted_after_return"], "vi"),
                format_percent(o["promotion_rate"], "vi"),
            ], (dim, code)
            assert cells[5].strip() == format_number(o["end_reasons"]["TERMINATED_EARLY"], "vi")

    # Where the officials went: one row per destination unit, a column per arrangement.
    destinations = ev["post_arrangements_by_destination"]
    assert destinations, "the demo records destinations"
    table = page.locator("#destinations")
    assert table.is_visible()
    assert table.locator("tr[data-group]").count() == len(destinations)
    posts = ("RETURNED_TO_FORMER_POST", "PROMOTED", "TRANSFERRED", "OTHER")
    for code, codes in destinations.items():
        cells = table.locator(f'tr[data-group="{code}"] td').all_inner_texts()
        assert [c.strip() for c in cells[1:]] == [
            format_number(codes.get(p, 0), "vi") for p in posts
        ], code
    page.locator("#plans").screenshot(path=str(_shots(tmp_path) / "plans-vi.png"))
    page.close()
