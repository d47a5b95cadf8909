"""The monitoring shipped in `deploy/` matches what the services expose: the alert rules parse,
the dashboard is valid JSON, and every metric either names is served by the embedded app's
`/metrics` (no token needed), whose labels are templates and codes, never a record's id."""

import json
import re
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from services.embedded.app import create_embedded_app, settled
from shared.infra.metrics import METRIC_NAMES
from tests.auth import HOST_SCOPES
from tests.samples import need_body

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "secondment.json"
METRIC = re.compile(r"\bsecondment_[a-z0-9_]+\b")
DURATION = re.compile(r"^\d+[smhd]$")
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gauge": ("",),
}


def _rules() -> list[dict[str, Any]]:
    data = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in data["groups"] for rule in group["rules"]]


def _dashboard_exprs() -> list[str]:
    data = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [t["expr"] for panel in data["panels"] for t in panel["targets"]]


def _named(exprs: list[str]) -> set[str]:
    return {name for expr in exprs for name in METRIC.findall(expr)}


async def _scrape(tmp_path: Path) -> tuple[str, str]:
    """The embedded app's `/metrics` after one need raised and read back; and the need's id."""
    app = create_embedded_app(tmp_path / "var")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://e") as client:
            token = app.state.dev_issuer.mint("SO_Y_TE", HOST_SCOPES)
            auth = {"Authorization": f"Bearer {token}"}
            raised = await client.post("/api/needs", json=need_body(), headers=auth)
            assert raised.status_code == 201, raised.text
            need_id = raised.json()["need_id"]
            assert (await client.get(f"/api/needs/{need_id}", headers=auth)).status_code == 200
            await settled(app)
            scraped = await client.get("/metrics")  # no token
            assert scraped.status_code == 200
            assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
            assert "/metrics" not in app.openapi()["paths"]
            return scraped.text, need_id


def _exposed(text: str) -> set[str]:
    """Every series name the exposition declares (a labelled metric not used yet included)."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def test_alert_rules_parse_and_cover_the_issue() -> None:
    rules = _rules()
    assert {r["alert"] for r in rules} == {
        "SecondmentConsumerLagGrowing",
        "SecondmentOutboxStuck",
        "SecondmentAuditBacklog",
        "SecondmentDeadLetters",
        "SecondmentNotReady",
    }
    for rule in rules:
        assert METRIC.search(rule["expr"]), rule
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["description"]
        assert DURATION.match(rule.get("for", "0s")), rule
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule
    stuck = next(r for r in rules if r["alert"] == "SecondmentOutboxStuck")
    assert "secondment_outbox_oldest_age_seconds" in stuck["expr"]
    assert "> 60" in stuck["expr"]
    audit = next(r for r in rules if r["alert"] == "SecondmentAuditBacklog")
    assert "secondment_audit_outbox_oldest_age_seconds" in audit["expr"]


def test_rules_dashboard_and_docs_name_the_metrics_the_code_defines() -> None:
    assert _named([r["expr"] for r in _rules()]) <= METRIC_NAMES
    assert _named(_dashboard_exprs()) <= METRIC_NAMES
    documented = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    for name in METRIC_NAMES:
        assert re.sub(r"_(bucket|count|sum)$", "", name) in documented, name


async def test_every_metric_of_the_rules_and_dashboard_is_served(tmp_path: Path) -> None:
    text, need_id = await _scrape(tmp_path)
    exposed = _exposed(text)
    missing = (_named([r["expr"] for r in _rules()]) | _named(_dashboard_exprs())) - exposed
    assert not missing, f"named in deploy/ but not served: {sorted(missing)}"
    assert exposed >= METRIC_NAMES
    # Labels are templates and codes: the need's id appears nowhere, its route as a template.
    assert need_id not in text
    assert 'route="/api/needs/{need_id}"' in text
    samples = {
        (s.name, tuple(sorted(s.labels.items())))
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }
    accepted = (
        ("channel", "http"),
        ("command", "RaiseNeed"),
        ("outcome", "accepted"),
        ("rule", ""),
        ("service", "needs"),
    )
    assert ("secondment_commands_total", accepted) in samples
