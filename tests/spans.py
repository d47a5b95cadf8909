"""Tracing into memory for a test (issue 12): the spans its apps make, and their trace ids."""

import contextlib
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.infra import tracing


@contextlib.contextmanager
def tracing_into_memory() -> Iterator[tuple[InMemorySpanExporter, TracerProvider]]:
    """Tracing on (as `OTEL_TRACES_EXPORTER` would switch it on) into memory, then off."""
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    tracing.install(provider)
    try:
        yield spans, provider
    finally:
        tracing.uninstall()
        provider.shutdown()


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    """Tracing on for the apps this test builds, into memory."""
    with tracing_into_memory() as (spans, _):
        yield spans


def trace_of(span: ReadableSpan) -> str:
    """The span's trace id as W3C writes it."""
    assert span.context is not None
    return trace.format_trace_id(span.context.trace_id)
