"""Logs as operations read them: with `SECONDMENT_LOG_FORMAT=json` every line the process
logs is one JSON object naming the service, the level, and for a request the agency and its
trace; without it, `make run` keeps plain readable lines."""

import json
from pathlib import Path

import httpx
import pytest

from services.embedded.app import keys_dir
from shared.http.tokens import DevIssuer
from tests import auth
from tests.e2e.test_embedded_default import embedded
from tests.samples import need_body

pytestmark = pytest.mark.e2e


def test_json_logs_name_the_service_and_the_request_and_no_official(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECONDMENT_LOG_FORMAT", "json")
    monkeypatch.setenv("SECONDMENT_LOG_LEVEL", "INFO")
    data = tmp_path / "var"
    with embedded(data, "--no-demo") as (url, lines):
        issuer = DevIssuer(keys_dir(data))
        headers = auth.host(issuer=issuer) | {"X-Correlation-Id": "trace-of-the-test"}
        raised = httpx.post(url + "/api/needs", json=need_body(), headers=headers)
        assert raised.status_code == 201
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert records, "".join(lines)
    assert all(r["service"] == "embedded" and r["level"] for r in records)
    assert all("time" in r and "message" in r for r in records)
    traced = [r for r in records if r.get("trace_id") == "trace-of-the-test"]
    assert traced, "no record of the request carries its trace"
    assert all(r.get("agency") == "SO_Y_TE" and r.get("command_id") for r in traced)
    # Everything else on the output is the start banner the user reads (print, not logs).
    others = [line for line in lines if line.strip() and not line.startswith("{")]
    assert all(not line.lstrip().startswith(("INFO", "WARNING", "ERROR")) for line in others)


def test_plain_lines_stay_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECONDMENT_LOG_FORMAT", raising=False)
    monkeypatch.setenv("SECONDMENT_LOG_LEVEL", "INFO")
    with embedded(tmp_path / "var", "--no-demo") as (url, lines):
        assert httpx.get(url + "/healthz").status_code == 200
    logged = [line for line in lines if " INFO embedded " in line]
    assert logged, "".join(lines)
    assert not any(line.startswith("{") for line in lines)
