"""Issue 12's tracing on the embedded default: on the in-process bus too, one command's spans,
from the HTTP request through the needs service's event store and relay to the placement and
reporting consumers, share one trace id."""

from pathlib import Path

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.embedded.app import create_embedded_app, settled
from shared.contract.topics import NEEDS_TOPIC
from tests.auth import HOST_SCOPES
from tests.samples import need_body
from tests.spans import trace_of

pytestmark = pytest.mark.e2e


async def test_one_command_is_one_trace_on_the_in_process_bus(
    exporter: InMemorySpanExporter, tmp_path: Path
) -> None:
    app = create_embedded_app(tmp_path / "var")
    async with app.router.lifespan_context(app):
        await settled(app)
        exporter.clear()  # the start-up's own work
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://e") as client:
            token = app.state.dev_issuer.mint("SO_Y_TE", HOST_SCOPES)
            raised = await client.post(
                "/api/needs", json=need_body(), headers={"Authorization": f"Bearer {token}"}
            )
            assert raised.status_code == 201, raised.text
            await settled(app)

    spans = exporter.get_finished_spans()
    (request,) = [s for s in spans if s.kind == trace.SpanKind.SERVER and "/api/needs" in s.name]
    ours = [s for s in spans if trace_of(s) == trace_of(request)]
    names = {s.name for s in ours}
    assert {"event store append", f"publish {NEEDS_TOPIC}"} <= names
    consumers = {
        (s.attributes or {}).get("messaging.consumer.group.name")
        for s in ours
        if s.name == f"process {NEEDS_TOPIC}"
    }
    assert {"placement", "reporting"} <= consumers
