"""The written phase review over HTTP on the embedded default (issue 13, item 6): a small
phase recorded through the public API, then the report downloaded as PDF and DOCX. The PDF
parses and reads in Vietnamese with findings whose figures the test computes itself; the DOCX
opens with its per-locality table holding the right numbers; an ethnic group's small cells,
withheld on the dashboard, are withheld in both files, sentences included; the downloads are
audited as exports and refused to callers who may not read reports."""

import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from docx import Document
from fastapi import FastAPI
from pypdf import PdfReader

from services.embedded.app import create_embedded_app, settled
from shared.reference import reference_data
from tests import auth
from tests.samples import ending_body, need_body, official_body, secondment_body

pytestmark = pytest.mark.e2e

REVIEW = "/api/reports/phases/2024-2025/review"
EVALUATION = "/api/reports/phases/2024-2025/evaluation"
AS_OF = {"as_of": "2025-12-31"}


@dataclass(frozen=True)
class Plan:
    """One home district's officials and what became of them."""

    home: str
    ethnicity: str
    seconded: int
    completed: int
    early: int
    promoted: int


PLANS = (
    Plan("NAM_GIANG", "CO_TU", seconded=6, completed=3, early=1, promoted=2),
    Plan("TAY_GIANG", "XO_DANG", seconded=5, completed=2, early=0, promoted=0),
    Plan("DONG_GIANG", "CO", seconded=2, completed=1, early=0, promoted=0),
)
"""Two Co officials: a small cell (1–4) the ethnicity breakdown withholds."""


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    app = create_embedded_app(tmp_path / "var")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://embedded") as client:
            yield client, app


async def _ok(answer: Any) -> dict[str, Any]:
    response: httpx.Response = await answer
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def _record_phase(client: httpx.AsyncClient, app: FastAPI) -> None:
    """Every plan's officials seconded to Sở Y tế on 2024-09-01, received, some ended (one
    early) and some promoted; the rest still seconded (and overdue by the end of 2025)."""
    issuer = app.state.dev_issuer
    host = auth.host(issuer=issuer)
    needs = []
    total = sum(p.seconded for p in PLANS)
    for serial in range(total):
        body = need_body(positions=1, position_title=f"Phó Trưởng phòng Nghiệp vụ {serial}")
        needs.append((await _ok(client.post("/api/needs", json=body, headers=host)))["need_id"])
    await settled(app)
    serial = 0
    for plan in PLANS:
        home = auth.home(plan.home, issuer=issuer)
        for index in range(plan.seconded):
            official = official_body(
                official_id=f"{plan.home[:2]}-{index:04d}",
                ethnicity=plan.ethnicity,
                home_unit=plan.home,
            )
            body = secondment_body(needs[serial], official=official)
            serial += 1
            sid = (await _ok(client.post("/api/secondments", json=body, headers=home)))[
                "secondment_id"
            ]
            url = f"/api/secondments/{sid}"
            reception = {"received_on": "2024-09-01", "assigned_role": "Phó phòng"}
            await _ok(client.post(f"{url}/reception", json=reception, headers=host))
            if index < plan.completed + plan.early:
                early = index >= plan.completed
                ending = (
                    ending_body(
                        ended_on="2024-12-15",
                        reason="TERMINATED_EARLY",
                        decision={"number": f"{serial}/QĐ-UBND", "date": "2024-12-10"},
                    )
                    if early
                    else ending_body()
                )
                await _ok(client.post(f"{url}/ending", json=ending, headers=home))
            if index < plan.promoted:
                arrangement = {
                    "arrangement": "PROMOTED",
                    "new_position_rank": "TRUONG_PHONG",
                    "effective_date": "2025-03-10",
                }
                await _ok(client.post(f"{url}/post-arrangement", json=arrangement, headers=home))
    await settled(app)


def _percent(part: int, whole: int) -> str:
    """The test's own Vietnamese percentage: two decimals at most, decimal comma."""
    text = f"{100 * part / whole:.2f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") + " %"


def _flat(text: str) -> str:
    return " ".join(text.split())


async def test_the_phase_review_reports_the_phase_in_vietnamese_with_small_cells_withheld(
    api: tuple[httpx.AsyncClient, FastAPI],
) -> None:
    client, app = api
    await _record_phase(client, app)
    reader = auth.reader(issuer=app.state.dev_issuer)
    ev = await _ok(client.get(EVALUATION, params=AS_OF, headers=reader))
    co = ev["by_ethnicity"]["CO"]
    assert "secondments.started" in co["suppressed"], co  # the data make a small cell

    ended = sum(p.completed + p.early for p in PLANS)
    early = sum(p.early for p in PLANS)
    promoted = sum(p.promoted for p in PLANS)

    pdf = await client.get(f"{REVIEW}.pdf", params=AS_OF, headers=reader)
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    assert (
        'filename="bao-cao-danh-gia-2024-2025-2025-12-31.pdf"'
        in (pdf.headers["content-disposition"])
    )
    text = _flat("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages))
    for heading in (
        "DỰ THẢO",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "BÁO CÁO",
        "Tổng kết giai đoạn 2024-2025",
        "Số liệu tính đến ngày: 31/12/2025",
        "I. MỤC ĐÍCH, YÊU CẦU CỦA KẾ HOẠCH",
        "II. KẾT QUẢ THỰC HIỆN",
        "III. KẾT QUẢ THEO ĐỊA PHƯƠNG CỬ CÁN BỘ",
        "NHẬN XÉT, ĐÁNH GIÁ",
        "TM. ỦY BAN NHÂN DÂN",
        "Biểu đồ 1.",
    ):
        assert heading in text, heading
    assert (
        f"Có {early} lượt kết thúc trước hạn, chiếm {_percent(early, ended)} số lượt đã kết thúc"
    ) in text
    assert (
        f"Sau biệt phái, {promoted} lượt cán bộ được bổ nhiệm vào chức vụ cao hơn, đạt tỷ lệ "
        f"{_percent(promoted, ended)} số lượt đã kết thúc"
    ) in text
    assert "Địa phương cử nhiều nhất là huyện Nam Giang (6 lượt)" in text
    assert "cán bộ người Cơ-tu được cử nhiều nhất (6 lượt)" in text

    docx = await client.get(f"{REVIEW}.docx", params=AS_OF, headers=reader)
    assert docx.status_code == 200, docx.text
    document = Document(io.BytesIO(docx.content))
    tables = {t.rows[0].cells[0].text: t for t in document.tables if t.rows}
    by_locality = {
        row.cells[0].text: [c.text for c in row.cells[1:]] for row in tables["Địa phương"].rows
    }
    for plan in PLANS:
        name = reference_data().unit(plan.home)
        assert name is not None
        finished = plan.completed + plan.early
        active = plan.seconded - finished
        rate = _percent(plan.promoted, finished)
        # started, officials, active, ended, early, overdue (all still active are), promoted
        assert by_locality[name.name] == [
            str(plan.seconded), str(plan.seconded), str(active), str(finished),
            str(plan.early), str(active), str(plan.promoted), rate,
        ]  # fmt: skip
    assert by_locality["Tổng cộng"][0] == str(sum(p.seconded for p in PLANS))
    assert by_locality["Huyện Hiệp Đức"][0] == "0"  # a locality that sent no one has its row

    # Small cells: withheld in the DOCX's table and the PDF's, and no sentence names them.
    columns = ("started", "active", "ended", "completed", "terminated_early", "officials")
    ethnic_rows = {
        row.cells[0].text: [c.text for c in row.cells[1:]] for row in tables["Dân tộc"].rows
    }
    for code, group in ev["by_ethnicity"].items():
        ethnicity = reference_data().ethnicity(code)
        assert ethnicity is not None
        cells = [group["secondments"][c] for c in columns] + [group["promoted"]]
        shown = ["—" if v is None else str(v) for v in cells]
        assert ethnic_rows[ethnicity.name] == shown
        assert f"{ethnicity.name} {' '.join(shown)}" in text
    findings = text[text.index("NHẬN XÉT, ĐÁNH GIÁ") :]
    assert not re.search(r"\bCo\b[^.;]*\d", findings), findings
    paragraphs = _flat(" ".join(p.text for p in document.paragraphs))
    assert not re.search(r"\bCo\b[^.;]*\d", paragraphs)
    assert f"chiếm {_percent(early, ended)} số lượt đã kết thúc" in paragraphs

    dpo = auth.headers("SO_NOI_VU", "audit:read", issuer=app.state.dev_issuer)
    audit = await _ok(client.get("/api/audit", params={"limit": "500"}, headers=dpo))
    downloads = [e for e in audit["items"] if e["action"] == "ExportPhaseReview"]
    assert {(e["category"], e["route"]) for e in downloads} == {
        ("export", "GET /api/reports/phases/{phase_id}/review.{fmt}")
    }
    assert len(downloads) == 2
    host = auth.host(issuer=app.state.dev_issuer)
    assert (await client.get(f"{REVIEW}.pdf", headers=host)).status_code == 403
