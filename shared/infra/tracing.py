"""OpenTelemetry tracing: off unless the standard `OTEL_*` variables switch it on.

`configure_from_env` (called by `shared.http.app.compose_app`, the start-up path of every
service and of the embedded default) builds the SDK from the environment the way the SDK reads
it: `OTEL_TRACES_EXPORTER` names the exporters (unset or `none`: tracing stays off),
`OTEL_SDK_DISABLED=true` turns it off again, and the exporter, batch processor, sampler and
resource read their own variables (`OTEL_EXPORTER_OTLP_*`, `OTEL_BSP_*`, `OTEL_TRACES_SAMPLER*`,
`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`). Tests `install` a provider of their own.

Spans: HTTP requests (FastAPI instrumentation), SQL statements inside a span (SQLAlchemy
instrumentation), the event store's append, the outbox relay's publish of each event, Kafka
sends and receives (aiokafka instrumentation), and each consumer's handling of events. The
W3C trace context of the append span travels with each event as the CloudEvents
distributed-tracing attributes `traceparent`/`tracestate` (docs/contract.md): stored in the
event store and the outbox, so the relay, later, publishes it, and consumers start their
handling span as its child.

Off, every helper here returns at its first test of `_state`: a command pays one attribute
read, nothing is serialised, no span object is made. The SDK and the instrumentations are
imported only when tracing is switched on (`shared.infra.logs` imports this module).
"""

import contextlib
import logging
import os
import re
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.contract.envelope import CloudEvent

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

TRACER: Final = "secondment"
EXCLUDED_URLS: Final = "/healthz,/readyz,/metrics"
"""Not traced unless `OTEL_PYTHON_FASTAPI_EXCLUDED_URLS` says otherwise: probes and scrapes
would be most of the traces and tell nothing."""

_W3C = TraceContextTextMapPropagator()
_TRACEPARENT = re.compile(rb'"traceparent":"([0-9a-f-]{55})"')
_TRACESTATE = re.compile(rb'"tracestate":"([^"\\]*)"')


class _ChildSpansOnly:
    """The tracer the SQLAlchemy instrumentation gets: a statement outside any span (the
    relay's polls, a consumer's offset bookkeeping) would each start a trace of its own."""

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer

    def start_span(self, name: str, *args: Any, **kwargs: Any) -> Span:
        if not trace.get_current_span().get_span_context().is_valid:
            return trace.INVALID_SPAN
        return self._tracer.start_span(name, *args, **kwargs)


@dataclass
class _Tracing:
    provider: trace.TracerProvider
    tracer: Tracer
    engines: "weakref.WeakSet[AsyncEngine]"
    """Engines traced already (an app composed twice must not trace them twice)."""


_state: _Tracing | None = None


def enabled() -> bool:
    """True once a tracer provider is installed (by the environment or a test)."""
    return _state is not None


def configure_from_env(service: str) -> bool:
    """Install the SDK as the `OTEL_*` variables ask, once per process; False when they leave
    tracing off. `service` names the resource unless `OTEL_SERVICE_NAME` (or `service.name` in
    `OTEL_RESOURCE_ATTRIBUTES`) does. Exporter names are resolved by the SDK's own functions
    (private ones of the pinned release: tests/unit/shared/test_tracing.py covers them)."""
    if _state is not None:
        return True
    from opentelemetry.sdk._configuration import _get_exporter_names, _import_exporters
    from opentelemetry.sdk.environment_variables import (
        OTEL_EXPORTER_OTLP_PROTOCOL,
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    )
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    default_protocol = not (
        os.environ.get(OTEL_EXPORTER_OTLP_TRACES_PROTOCOL)
        or os.environ.get(OTEL_EXPORTER_OTLP_PROTOCOL)
    )
    if default_protocol:
        # The specification's default, for resolving `otlp` only: the SDK's own (gRPC) is
        # not installed here.
        os.environ[OTEL_EXPORTER_OTLP_TRACES_PROTOCOL] = "http/protobuf"
    try:
        names = _get_exporter_names("traces")  # OTEL_TRACES_EXPORTER; unset or `none`: []
    finally:
        if default_protocol:
            del os.environ[OTEL_EXPORTER_OTLP_TRACES_PROTOCOL]
    if not names:
        return False
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service}))
    provider = TracerProvider(resource=resource)  # sampler and limits from the environment
    if isinstance(provider.get_tracer(TRACER), trace.NoOpTracer):  # OTEL_SDK_DISABLED=true
        return False
    exporters, _, _ = _import_exporters(names, [], [])
    for exporter in exporters.values():
        provider.add_span_processor(BatchSpanProcessor(exporter()))
    trace.set_tracer_provider(provider)
    install(provider)
    log.info("tracing on: exporting to %s", ", ".join(exporters))
    return True


def install(provider: trace.TracerProvider) -> None:
    """Trace with `provider` from now on (apps and engines set up after this call)."""
    from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor

    global _state
    uninstall()
    AIOKafkaInstrumentor().instrument(tracer_provider=provider)
    _state = _Tracing(provider, provider.get_tracer(TRACER), weakref.WeakSet())


def uninstall() -> None:
    """Stop tracing what `install` instrumented (for tests; apps already built keep theirs)."""
    global _state
    if _state is None:
        return
    from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    _state = None
    AIOKafkaInstrumentor().uninstrument()
    EngineTracer.remove_all_event_listeners()  # type: ignore[no-untyped-call]


def instrument_app(app: "FastAPI") -> None:
    """Trace the app's requests (server spans; the W3C headers of callers are honoured)."""
    if _state is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    excluded = os.environ.get("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS") or EXCLUDED_URLS
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=_state.provider,
        excluded_urls=excluded,
        exclude_spans=["receive", "send"],  # one span per ASGI message says nothing more
    )


def trace_engine(engine: "AsyncEngine") -> None:
    """Trace the engine's statements that run inside a span."""
    if _state is None or engine in _state.engines:
        return
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import get_meter

    _state.engines.add(engine)
    usage = get_meter(TRACER).create_up_down_counter("db.client.connections.usage")
    EngineTracer(_ChildSpansOnly(_state.tracer), engine.sync_engine, usage)  # type: ignore[no-untyped-call]


@contextlib.contextmanager
def span(name: str, attributes: Mapping[str, str | int] | None = None) -> Iterator[Span | None]:
    """A span (current inside the block) when tracing is on, else nothing at all."""
    if _state is None:
        yield None
        return
    with _state.tracer.start_as_current_span(name, attributes=attributes) as current:
        yield current


def stamped(envelopes: Sequence[CloudEvent]) -> Sequence[CloudEvent]:
    """The envelopes carrying the current span's W3C trace context (unchanged when tracing is
    off or no span is current)."""
    if _state is None or not trace.get_current_span().get_span_context().is_valid:
        return envelopes
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    update = {"traceparent": carrier["traceparent"], "tracestate": carrier.get("tracestate")}
    return [e.model_copy(update=update) for e in envelopes]


def _context_of(envelope: CloudEvent) -> Context | None:
    if envelope.traceparent is None:
        return None
    carrier = {"traceparent": envelope.traceparent}
    if envelope.tracestate:
        carrier["tracestate"] = envelope.tracestate
    extracted = _W3C.extract(carrier)
    return extracted if trace.get_current_span(extracted).get_span_context().is_valid else None


def _payload_context(payload: bytes) -> Context | None:
    """The trace context an outbox row's envelope carries, read without parsing the envelope
    (the relay holds only its bytes). In JSON a quote inside a string is escaped, so the
    pattern matches attribute names only; the envelope's own attributes come after `data`."""
    found = _TRACEPARENT.findall(payload)
    if not found:
        return None
    carrier = {"traceparent": found[-1].decode()}
    state = _TRACESTATE.findall(payload)
    if state:
        carrier["tracestate"] = state[-1].decode()
    return _W3C.extract(carrier)


class Outgoing(Protocol):
    """What the relay publishes (`shared.infra.outbox.OutgoingMessage`)."""

    @property
    def topic(self) -> str: ...

    @property
    def payload(self) -> bytes: ...


@contextlib.contextmanager
def relaying(messages: Sequence[Outgoing]) -> Iterator[list[Context] | None]:
    """A producer span per outbox row, child of the trace context its envelope carries, for as
    long as the block publishes them; yields each message's span as a context (for the
    publisher to send it inside), or None when tracing is off."""
    if _state is None:
        yield None
        return
    tracer = _state.tracer
    spans: list[Span] = []
    for message in messages:
        parent = _payload_context(message.payload)
        spans.append(
            tracer.start_span(
                f"publish {message.topic}",
                context=parent,
                kind=SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.destination.name": message.topic,
                },
            )
        )
    with _ending(spans):
        yield [trace.set_span_in_context(one) for one in spans]


@contextlib.contextmanager
def attached(context: Context | None) -> Iterator[None]:
    """Make `context` current inside the block (nothing when None)."""
    if context is None:
        yield
        return
    token = otel_context.attach(context)
    try:
        yield
    finally:
        otel_context.detach(token)


@contextlib.contextmanager
def handling(envelopes: Sequence[CloudEvent], topic: str, group: str) -> Iterator[None]:
    """The consumer spans of handling `envelopes` of `topic` as `group`.

    One span per distinct trace context the events carry, child of it: each trace shows its
    events' handling. When the events carry one context (or none), that span is current, so
    the handler's SQL nests under it; when they carry several, a batch span linked to each is
    current instead (a span has one parent)."""
    if _state is None:
        yield
        return
    tracer = _state.tracer
    attributes: dict[str, str | int] = {
        "messaging.system": "kafka",
        "messaging.destination.name": topic,
        "messaging.consumer.group.name": group,
        "messaging.batch.message_count": len(envelopes),
    }
    parents: dict[str, Context] = {}
    for envelope in envelopes:
        if envelope.traceparent is not None and envelope.traceparent not in parents:
            found = _context_of(envelope)
            if found is not None:
                parents[envelope.traceparent] = found
    name = f"process {topic}"
    spans = [
        tracer.start_span(name, context=p, kind=SpanKind.CONSUMER, attributes=attributes)
        for p in parents.values()
    ]
    if len(spans) == 1:
        current = spans[0]
    else:
        links = [Link(s.get_span_context()) for s in spans]
        current = tracer.start_span(
            name, kind=SpanKind.CONSUMER, attributes=attributes, links=links
        )
        spans.append(current)
    with _ending(spans), trace.use_span(current, end_on_exit=False, record_exception=False):
        yield


@contextlib.contextmanager
def consuming_record(
    headers: Sequence[tuple[str, bytes]] | None, topic: str, group: str
) -> Iterator[None]:
    """The consumer span of one Kafka record (an agency's command), child of the W3C trace
    context in its headers when the sender put one there."""
    if _state is None:
        yield
        return
    carrier = {k: v.decode("latin-1") for k, v in headers or () if k in _W3C.fields}
    parent = _W3C.extract(carrier) if carrier else None
    with _state.tracer.start_as_current_span(
        f"process {topic}",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": topic,
            "messaging.consumer.group.name": group,
        },
    ):
        yield


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) in hex of the current span, for the logs; None when off or none."""
    if _state is None:
        return None
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return trace.format_trace_id(ctx.trace_id), trace.format_span_id(ctx.span_id)


@contextlib.contextmanager
def _ending(spans: Sequence[Span]) -> Iterator[None]:
    """End every span when the block ends; an exception marks them failed first."""
    try:
        yield
    except BaseException as exc:
        for one in spans:
            one.record_exception(exc)
            one.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        raise
    finally:
        for one in spans:
            one.end()
