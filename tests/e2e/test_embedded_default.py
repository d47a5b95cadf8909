"""`make run` as a user meets it: one process, demo data, the dashboard, data kept across
restarts, and a need raised over HTTP visible in the evaluation within 2 seconds."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from services.embedded.app import keys_dir
from shared.http.tokens import DevIssuer
from tests import auth
from tests.samples import need_body

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def embedded(data_dir: Path, *extra: str) -> Iterator[tuple[str, list[str]]]:
    """Run `python -m services.embedded` until it prints the dashboard address."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "services.embedded",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                raise AssertionError("the embedded default exited:\n" + "".join(lines))
            lines.append(line)
            if line.startswith("Dashboard: "):
                break
        else:
            raise AssertionError("no dashboard address within 60 s:\n" + "".join(lines))
        yield f"http://127.0.0.1:{port}", lines
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:  # the rest of its output, for a test to read after
            lines.extend(proc.stdout.read().splitlines(keepends=True))


def test_first_start_loads_demo_data_and_serves_the_dashboard_in_vietnamese(tmp_path: Path) -> None:
    with embedded(tmp_path / "var") as (url, lines):
        assert any("Dashboard: http://127.0.0.1:" in line for line in lines)
        assert any("Development tokens" in line for line in lines)
        anonymous = httpx.get(url + "/?phase=2024-2025&as_of=2025-12-31")
        assert anonymous.status_code == 303
        assert anonymous.headers["location"].startswith("/login")
        reader = auth.reader(DevIssuer(keys_dir(tmp_path / "var")))
        page = httpx.get(url + "/?phase=2024-2025&as_of=2025-12-31", headers=reader)
        assert page.status_code == 200
        assert "Đánh giá giai đoạn" in page.text
        evaluation = httpx.get(
            url + "/api/reports/phases/2024-2025/evaluation",
            params={"as_of": "2025-12-31"},
            headers=reader,
        ).json()
        assert evaluation["needs"]["raised"] > 0
        assert evaluation["secondments"]["started"] > 0
        assert evaluation["secondments"]["ended"] > 0


def test_a_need_raised_over_http_shows_within_two_seconds_and_survives_a_restart(
    tmp_path: Path,
) -> None:
    data = tmp_path / "var"
    evaluation_url = "/api/reports/phases/2024-2025/evaluation"
    with embedded(data, "--no-demo") as (url, _):
        issuer = DevIssuer(keys_dir(data))
        read = auth.reader(issuer)
        before = httpx.get(
            url + evaluation_url, params={"as_of": "2025-12-31"}, headers=read
        ).json()
        raised = httpx.post(url + "/api/needs", json=need_body(), headers=auth.host(issuer=issuer))
        assert raised.status_code == 201
        started = time.monotonic()
        while True:
            now = httpx.get(
                url + evaluation_url, params={"as_of": "2025-12-31"}, headers=read
            ).json()
            if now["needs"]["raised"] == before["needs"]["raised"] + 1:
                break
            assert time.monotonic() - started < 2.0, "the need did not reach the evaluation in 2 s"
            time.sleep(0.05)
    with embedded(data, "--no-demo") as (url, _):
        after = httpx.get(url + evaluation_url, params={"as_of": "2025-12-31"}, headers=read).json()
        assert after["needs"]["raised"] == before["needs"]["raised"] + 1
        need = httpx.get(
            url + f"/api/needs/{raised.json()['need_id']}", headers=auth.host(issuer=issuer)
        )
        assert need.status_code == 200
        assert need.json()["host_unit"]["name"] == "Sở Y tế"
