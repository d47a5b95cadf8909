"""A batch consumer whose supervisor ended (its loop is restarted after any error:
`test_batch_consumer_restarts.py`) consumes nothing more: the service says so on `/readyz`
(503), and the error is logged by its kind, not its message."""

import asyncio
import logging
from typing import ClassVar

import httpx
import pytest

from shared.http.app import compose_app
from shared.infra import kafka_batches
from shared.infra.kafka_batches import BatchingKafkaTransport


class _Service:
    routers: ClassVar[list[object]] = []

    async def migrate(self) -> None:
        return None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def ready(self) -> bool:
        return True


async def _ended(error: Exception) -> None:
    raise error


async def test_a_batch_loop_that_ended_makes_the_service_not_ready(
    caplog: pytest.LogCaptureFixture,
) -> None:
    transport = BatchingKafkaTransport("127.0.0.1:1", "test")  # never started
    app = compose_app("test", [_Service()], transport)  # type: ignore[list-item]
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    async with client:
        assert (await client.get("/readyz")).status_code == 200

        with caplog.at_level(logging.ERROR, logger="shared.infra.kafka_batches"):
            task = asyncio.create_task(
                _ended(KeyError("Nguyễn Văn A")), name="batch-consumer-needs"
            )
            task.add_done_callback(kafka_batches._said_if_failed)
            transport._batch_tasks.append(task)
            await asyncio.gather(task, return_exceptions=True)
            await asyncio.sleep(0)  # the done callback runs

        assert (await client.get("/readyz")).status_code == 503
    assert "batch-consumer-needs stopped: KeyError" in caplog.text
    assert "Nguyễn" not in caplog.text
