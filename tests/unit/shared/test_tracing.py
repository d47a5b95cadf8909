"""Tracing (`shared.infra.tracing`) without a broker: events carry the W3C trace context of
the append only when tracing is on, the relay publishes an outbox row inside a span that
continues the trace the row carries, the in-process bus hands events to consumers inside a
child of that trace, and the `OTEL_*` variables alone switch it on."""

import logging
import os
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer
from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.contract.envelope import CloudEvent
from shared.infra import tracing
from shared.infra.db import make_engine, make_sessions
from shared.infra.eventstore import EventStore
from shared.infra.logs import ContextFilter
from shared.infra.outbox import OutboxRelay, OutgoingMessage
from shared.infra.schema import CoreTables, define_core_tables
from shared.infra.transport import InProcessBus
from tests.spans import tracing_into_memory
from tests.unit.shared.test_envelope import envelope
from tests.unit.shared.test_outbox_relay import Recording

TOPIC = "secondment.needs.v1"


@dataclass(frozen=True)
class Spans:
    """What the services trace, in memory, and a tracer of the same provider for the test's
    own "request" spans."""

    exporter: InMemorySpanExporter
    tracer: Tracer

    def finished(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.exporter.get_finished_spans() if s.name == name]


@pytest.fixture
def spans() -> Iterator[Spans]:
    """Tracing on, into memory, for one test."""
    with tracing_into_memory() as (exporter, provider):
        yield Spans(exporter, provider.get_tracer("test"))


@pytest.fixture
async def database(
    tmp_path: Path,
) -> AsyncIterator[tuple[async_sessionmaker[AsyncSession], CoreTables]]:
    md = MetaData()
    tables = define_core_tables(md)
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(md.create_all)
    yield make_sessions(engine), tables
    await engine.dispose()


async def _append(
    db: tuple[async_sessionmaker[AsyncSession], CoreTables], events: Sequence[CloudEvent]
) -> list[str]:
    """Append through the event store; the outbox payloads it wrote."""
    sessions, tables = db
    async with sessions() as session, session.begin():
        await EventStore(session, tables, "").append(events[0].subject, 0, events)
    async with sessions() as session:
        return list(await session.scalars(select(tables.outbox.c.payload)))


def _hex(span: ReadableSpan) -> str:
    assert span.context is not None
    return trace.format_trace_id(span.context.trace_id)


async def test_off_an_event_is_stored_exactly_as_before(
    database: tuple[async_sessionmaker[AsyncSession], CoreTables],
) -> None:
    assert not tracing.enabled()
    event = envelope()
    (payload,) = await _append(database, [event])
    assert payload == event.to_json().decode()
    assert "traceparent" not in payload
    assert tracing.stamped([event]) == [event]


def test_an_event_stamped_without_an_active_span_has_no_traceparent(
    spans: Spans,
) -> None:
    (stamped,) = tracing.stamped([envelope()])
    assert stamped.traceparent is None
    assert "traceparent" not in stamped.to_json().decode()


async def test_an_event_appended_in_a_traced_request_carries_the_append_span(
    spans: Spans, database: tuple[async_sessionmaker[AsyncSession], CoreTables]
) -> None:
    with spans.tracer.start_as_current_span("request") as request:
        (payload,) = await _append(database, [envelope()])
    stored = CloudEvent.from_json(payload)
    (append,) = spans.finished("event store append")
    assert append.parent is not None
    assert append.parent.span_id == request.get_span_context().span_id
    assert append.context is not None
    assert stored.traceparent is not None
    assert stored.traceparent.startswith(
        f"00-{_hex(append)}-{trace.format_span_id(append.context.span_id)}-"
    )


async def test_the_relay_publishes_the_stored_traceparent_inside_a_child_span(
    spans: Spans, database: tuple[async_sessionmaker[AsyncSession], CoreTables]
) -> None:
    with spans.tracer.start_as_current_span("request"):
        (payload,) = await _append(database, [envelope()])
    sessions, tables = database
    publisher = Recording()
    relay = OutboxRelay(sessions, tables, publisher, lock_key=1)
    assert await relay.drain() == 1

    (sent,) = publisher.sent
    assert sent.payload == payload.encode()  # the traceparent goes out as stored
    assert sent.context is not None
    traceparent = CloudEvent.from_json(sent.payload).traceparent
    (publish,) = spans.finished(f"publish {TOPIC}")
    assert traceparent is not None
    assert publish.kind == trace.SpanKind.PRODUCER
    assert traceparent.split("-")[1] == _hex(publish)
    assert publish.parent is not None
    assert traceparent.split("-")[2] == trace.format_span_id(publish.parent.span_id)
    relayed = trace.get_current_span(sent.context).get_span_context()
    assert publish.context is not None
    assert relayed.span_id == publish.context.span_id


async def test_the_in_process_bus_hands_the_event_over_inside_its_trace(
    spans: Spans,
) -> None:
    with spans.tracer.start_as_current_span("request") as request:
        (event,) = tracing.stamped([envelope()])
    seen: list[str] = []

    async def handler(batch: Sequence[CloudEvent]) -> None:
        seen.append(trace.format_trace_id(trace.get_current_span().get_span_context().trace_id))

    bus = InProcessBus()
    bus.subscribe_batch(TOPIC, "reporting", handler)
    await bus.publish([OutgoingMessage(TOPIC, event.subject, event.to_json())])

    expected = trace.format_trace_id(request.get_span_context().trace_id)
    assert seen == [expected]
    (process,) = spans.finished(f"process {TOPIC}")
    assert process.kind == trace.SpanKind.CONSUMER
    assert process.attributes is not None
    assert process.attributes["messaging.consumer.group.name"] == "reporting"


async def test_a_batch_of_several_traces_gets_a_span_in_each_and_a_linked_batch_span(
    spans: Spans,
) -> None:
    events: list[CloudEvent] = []
    for version in (1, 2):
        with spans.tracer.start_as_current_span("request"):
            events.extend(tracing.stamped([envelope(version)]))
    untraced = envelope(3)

    async def handler(batch: Sequence[CloudEvent]) -> None:
        return None

    bus = InProcessBus()
    bus.subscribe_batch(TOPIC, "reporting", handler)
    await bus.publish([OutgoingMessage(TOPIC, e.subject, e.to_json()) for e in [*events, untraced]])

    process = spans.finished(f"process {TOPIC}")
    traces = {e.traceparent.split("-")[1] for e in events if e.traceparent}
    assert len(traces) == 2
    children = [s for s in process if s.parent is not None]
    assert {_hex(s) for s in children} == traces
    (batch,) = [s for s in process if s.parent is None]
    assert len(batch.links) == 2


def test_the_relay_reads_the_trace_context_of_the_envelope_not_of_its_data() -> None:
    """An escaped quote cannot close a JSON string: a value that looks like the attribute
    is not taken for it."""
    decoy = '{"data":{"note":"\\"traceparent\\":\\"00-' + "1" * 32 + "-" + "2" * 16 + '-01\\""}}'
    assert tracing._payload_context(decoy.encode()) is None
    real = envelope().model_copy(
        update={"traceparent": "00-" + "3" * 32 + "-" + "4" * 16 + "-01", "tracestate": "a=b"}
    )
    found = tracing._payload_context(real.to_json())
    assert found is not None
    context = trace.get_current_span(found).get_span_context()
    assert trace.format_trace_id(context.trace_id) == "3" * 32
    assert context.trace_state.get("a") == "b"


def test_log_records_inside_a_span_name_its_trace(spans: Spans) -> None:
    from shared.infra import logs

    record = logging.LogRecord("t", logging.INFO, __file__, 1, "m", None, None)
    with (
        logs.bind(trace_id="corr-1"),
        spans.tracer.start_as_current_span("work") as work,
    ):
        ContextFilter("needs").filter(record)
    fields = vars(record)
    assert fields["trace_id"] == trace.format_trace_id(work.get_span_context().trace_id)
    assert fields["span_id"] == trace.format_span_id(work.get_span_context().span_id)
    assert fields["correlation_id"] == "corr-1"


def test_logs_keep_the_correlation_id_as_trace_id_when_tracing_is_off() -> None:
    from shared.infra import logs

    record = logging.LogRecord("t", logging.INFO, __file__, 1, "m", None, None)
    with logs.bind(trace_id="corr-1"):
        ContextFilter("needs").filter(record)
    assert vars(record)["trace_id"] == "corr-1"
    assert "span_id" not in vars(record)


@pytest.mark.parametrize(
    "environment",
    [
        {},
        {"OTEL_TRACES_EXPORTER": "none"},
        {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"},
    ],
)
def test_tracing_stays_off_unless_the_environment_asks(
    environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert tracing.configure_from_env("needs") is False
    assert not tracing.enabled()


def test_otlp_over_http_is_switched_on_by_the_standard_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    installed: list[trace.TracerProvider] = []
    monkeypatch.setattr(trace, "set_tracer_provider", installed.append)  # once per process
    for name in ("OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                 "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_SDK_DISABLED"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    try:
        assert tracing.configure_from_env("needs") is True
        assert "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL" not in os.environ
        (provider,) = installed
        assert isinstance(provider, TracerProvider)
        assert provider.resource.attributes["service.name"] == "needs"
        processors = provider._active_span_processor._span_processors
        exporter = type(processors[0].span_exporter).__module__  # type: ignore[attr-defined]
        assert exporter == "opentelemetry.exporter.otlp.proto.http.trace_exporter"
    finally:
        tracing.uninstall()
        for provider in installed:
            if isinstance(provider, TracerProvider):
                provider.shutdown()
