"""Issue 12's metrics on the embedded default: one command through the whole system moves the
command counter, the consumer lag gauge and the projection counter; `make run` serves them."""

from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY

from services.embedded.app import create_embedded_app, settled
from shared.contract.topics import NEEDS_TOPIC
from shared.infra.metrics import CONSUMER_LAG
from tests.auth import HOST_SCOPES
from tests.e2e.test_embedded_default import embedded
from tests.samples import need_body

pytestmark = pytest.mark.e2e

RAISED = {
    "service": "needs",
    "channel": "http",
    "command": "RaiseNeed",
    "outcome": "accepted",
    "rule": "",
}


def _value(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _lag_samples() -> dict[tuple[str, str, str], float]:
    return {
        (s.labels["group"], s.labels["topic"], s.labels["partition"]): s.value
        for family in REGISTRY.collect()
        if family.name == "secondment_consumer_lag"
        for s in family.samples
    }


async def test_one_command_moves_the_command_counter_the_lag_and_the_projection(
    tmp_path: Path,
) -> None:
    app = create_embedded_app(tmp_path / "var")
    async with app.router.lifespan_context(app):
        await settled(app)
        CONSUMER_LAG.clear()  # samples of earlier apps of this process
        commands = _value("secondment_commands_total", RAISED)
        projected = _value("secondment_events_projected_total", {"service": "reporting"})
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://e") as client:
            token = app.state.dev_issuer.mint("SO_Y_TE", HOST_SCOPES)
            raised = await client.post(
                "/api/needs", json=need_body(), headers={"Authorization": f"Bearer {token}"}
            )
            assert raised.status_code == 201, raised.text
            await settled(app)
            scraped = await client.get("/metrics")
    assert scraped.status_code == 200
    assert _value("secondment_commands_total", RAISED) == commands + 1
    assert _value("secondment_events_projected_total", {"service": "reporting"}) >= projected + 1
    lag = _lag_samples()
    # The needs topic reached placement and reporting: each group's lag sample, caught up.
    groups = {group for group, topic, _ in lag if topic == NEEDS_TOPIC}
    assert {"placement", "reporting"} <= groups, lag
    assert all(value == 0 for value in lag.values()), lag
    sample = 'secondment_consumer_lag{group="reporting",partition="0",topic="secondment.needs.v1"}'
    assert sample in scraped.text


def test_make_run_serves_the_metrics(tmp_path: Path) -> None:
    with embedded(tmp_path / "var") as (url, _lines):
        scraped = httpx.get(f"{url}/metrics", timeout=10)
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    for name in (
        "secondment_commands_total",
        "secondment_events_projected_total",
        "secondment_consumer_lag",
        "secondment_outbox_backlog_rows",
        "secondment_audit_outbox_backlog_rows",
        "secondment_ready",
    ):
        assert f"\n{name}{{" in scraped.text, name
    assert 'secondment_ready{service="embedded"} 1.0' in scraped.text
