"""Issue 12's tracing on the real broker: one command's spans, from the HTTP request in the
needs service through its event store, its outbox relay and Kafka to the placement and
reporting consumers, share one trace id (in-memory exporter)."""

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.contract.commands import commands_topic
from shared.contract.envelope import CloudEvent
from shared.contract.topics import NEEDS_TOPIC, topic_name
from tests import auth
from tests.integration.system import (
    agencies_on_kafka,
    eventually,
    needs_app,
    new_deployment,
    placement_app,
    read_topic,
    reporting_app,
    running,
)
from tests.samples import need_body
from tests.spans import trace_of

pytestmark = pytest.mark.integration


async def test_one_command_is_one_trace_from_needs_to_placement_and_reporting(
    exporter: InMemorySpanExporter, kafka_bootstrap: str, pg_dsn: str
) -> None:
    d = await new_deployment(kafka_bootstrap, pg_dsn)
    needs_topic = topic_name(NEEDS_TOPIC, d.prefix)
    process = f"process {needs_topic}"
    async with (
        running(needs_app(d)) as needs,
        running(placement_app(d)),
        running(reporting_app(d)),
    ):
        raised = await needs.post("/api/needs", json=need_body(positions=1), headers=auth.host())
        assert raised.status_code == 201, raised.text

        (request,) = [
            s
            for s in exporter.get_finished_spans()
            if s.kind == trace.SpanKind.SERVER and s.name.startswith("POST /api/needs")
        ]
        trace_id = trace_of(request)

        def consumed_by(spans: tuple[ReadableSpan, ...]) -> set[str]:
            return {
                str((s.attributes or {}).get("messaging.consumer.group.name"))
                for s in spans
                if s.name == process and trace_of(s) == trace_id
            }

        groups = {f"{d.prefix}placement", f"{d.prefix}reporting"}
        await eventually(
            lambda: _finished(exporter), lambda spans: consumed_by(spans) >= groups, within=60
        )

    ours = [s for s in exporter.get_finished_spans() if trace_of(s) == trace_id]
    names = {s.name for s in ours}
    assert "event store append" in names
    assert f"publish {needs_topic}" in names  # the outbox relay
    assert f"{needs_topic} send" in names  # the Kafka producer (aiokafka instrumentation)
    assert any(s.name.startswith("INSERT") for s in ours)  # SQL of the request and consumers
    (record,) = [r for r in await read_topic(kafka_bootstrap, needs_topic)]
    on_kafka = CloudEvent.from_json(record.value)
    assert on_kafka.traceparent is not None
    assert on_kafka.traceparent.split("-")[1] == trace_id


async def test_a_command_over_kafka_continues_the_trace_of_the_agency_that_sent_it(
    exporter: InMemorySpanExporter, kafka_bootstrap: str, pg_dsn: str
) -> None:
    """The agency's producer is traced too (the aiokafka instrumentation is process-wide):
    the `traceparent` header it sends is where the needs service's trace starts."""
    d = await new_deployment(kafka_bootstrap, pg_dsn)
    topic = commands_topic("SO_Y_TE", d.prefix)
    needs_topic = topic_name(NEEDS_TOPIC, d.prefix)
    async with (
        running(needs_app(d)),
        running(reporting_app(d)),
        agencies_on_kafka(d, "SO_Y_TE") as agency,
    ):
        host = agency["SO_Y_TE"]
        reply = await host.reply(await host.send("RaiseNeed", need_body(positions=1)))
        assert reply.type == "CommandAccepted"
        (sent,) = [s for s in exporter.get_finished_spans() if s.name == f"{topic} send"]
        trace_id = trace_of(sent)

        def projected(spans: tuple[ReadableSpan, ...]) -> bool:
            return any(
                s.name == f"process {needs_topic}" and trace_of(s) == trace_id for s in spans
            )

        await eventually(lambda: _finished(exporter), projected, within=60)
    names = {s.name for s in exporter.get_finished_spans() if trace_of(s) == trace_id}
    assert {f"process {topic}", "event store append", f"publish {needs_topic}"} <= names


async def _finished(exporter: InMemorySpanExporter) -> tuple[ReadableSpan, ...]:
    return exporter.get_finished_spans()
