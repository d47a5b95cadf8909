"""The outbox relay's Kafka producer: acks=all and idempotent, so a published event is
neither lost nor duplicated by a retry."""

import asyncio
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from shared.infra import tracing
from shared.infra.kafka_auth import NO_AUTH, KafkaAuth
from shared.infra.outbox import OutgoingMessage

log = logging.getLogger(__name__)


class KafkaPublisher:
    """aiokafka producer with the settings that do not lose data."""

    def __init__(self, bootstrap: str, client_id: str, auth: KafkaAuth = NO_AUTH) -> None:
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._auth = auth
        self._producer: AIOKafkaProducer | None = None

    async def _get(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                client_id=self._client_id,
                acks="all",
                enable_idempotence=True,
                linger_ms=5,
                request_timeout_ms=30000,
                **self._auth.client_options(),
            )
            await producer.start()
            self._producer = producer
        return self._producer

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        producer = await self._get()
        futures = []
        for m in messages:
            if m.context is None:  # tracing off
                futures.append(await producer.send(m.topic, value=m.payload, key=m.key.encode()))
                continue
            # Inside the relay's span of the message, so that the Kafka instrumentation's send
            # span (and the record's `traceparent` header) follow it.
            with tracing.attached(m.context):
                futures.append(await producer.send(m.topic, value=m.payload, key=m.key.encode()))
        await asyncio.gather(*futures)

    async def reset(self) -> None:
        await self.close()

    async def close(self) -> None:
        """Flush and close the producer."""
        if self._producer is not None:
            producer, self._producer = self._producer, None
            try:
                await producer.stop()
            except Exception:
                log.warning("closing the Kafka producer failed", exc_info=True)
