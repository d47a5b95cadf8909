"""Issue 12's metrics on the real broker: each service serves `/metrics`; a command over Kafka
is counted on the `kafka` channel, and the reporting service's consumer lag has a sample per
partition of the topics it reads, back to 0 once the event is projected."""

from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.contract.topics import NEEDS_TOPIC, topic_name
from tests.integration.system import (
    agencies_on_kafka,
    eventually,
    needs_app,
    new_deployment,
    placement_app,
    reporting_app,
    running,
)
from tests.samples import need_body

pytestmark = pytest.mark.integration


async def _samples(client: httpx.AsyncClient) -> list[Any]:
    scraped = await client.get("/metrics")
    assert scraped.status_code == 200
    return [s for f in text_string_to_metric_families(scraped.text) for s in f.samples]


async def _kafka_commands(client: httpx.AsyncClient) -> float:
    """RaiseNeed commands the needs service accepted over Kafka (in this process)."""
    labels = {"service": "needs", "channel": "kafka", "command": "RaiseNeed"}
    return sum(
        float(s.value)
        for s in await _samples(client)
        if s.name == "secondment_commands_total"
        and labels.items() <= s.labels.items()
        and s.labels["outcome"] == "accepted"
    )


async def test_each_service_serves_metrics_and_a_kafka_command_moves_them(
    kafka_bootstrap: str, pg_dsn: str
) -> None:
    d = await new_deployment(kafka_bootstrap, pg_dsn)
    needs_topic = topic_name(NEEDS_TOPIC, d.prefix)
    async with (
        running(needs_app(d)) as needs,
        running(placement_app(d)) as placement,
        running(reporting_app(d)) as reporting,
        agencies_on_kafka(d, "SO_Y_TE") as agency,
    ):
        host = agency["SO_Y_TE"]
        before = await _kafka_commands(needs)
        reply = await host.reply(await host.send("RaiseNeed", need_body(positions=1)))
        assert reply.type == "CommandAccepted"
        assert await _kafka_commands(needs) == before + 1

        def caught_up(samples: list[Any]) -> bool:
            lag = [
                s
                for s in samples
                if s.name == "secondment_consumer_lag"
                and s.labels["topic"] == needs_topic
                and s.labels["group"] == f"{d.prefix}reporting"
            ]
            projected = [s for s in samples if s.name == "secondment_events_projected_total"]
            return bool(lag) and all(s.value == 0 for s in lag) and projected[0].value >= 1

        await eventually(lambda: _samples(reporting), caught_up, within=60)
        # One registry per process: the apps of this test share it, each with its own label.
        for client, service in ((needs, "needs"), (placement, "placement")):
            samples = await _samples(client)
            ready = {s.labels["service"]: s.value for s in samples if s.name == "secondment_ready"}
            assert ready[service] == 1.0
            assert any(
                s.name == "secondment_outbox_backlog_rows" and s.labels["service"] == service
                for s in samples
            )
