"""Kafka adapter: the outbox relay's producer (acks=all, idempotent) and FastStream
subscribers that acknowledge only after the consumer's database transaction committed.

FastStream's default `ACK_FIRST` is at-most-once; we use `AckPolicy.MANUAL` and ack
ourselves. A poison event (unparseable, unknown type, conflicting duplicate, or failing
after several attempts) goes to `<topic>.dlq` with the reason in headers, so the
partition keeps flowing; infrastructure errors are retried with backoff, never skipped.
"""

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError

from shared.contract.envelope import CloudEvent
from shared.infra.kafka_auth import NO_AUTH, KafkaAuth
from shared.infra.outbox import OutgoingMessage, Publisher
from shared.infra.transport import BatchHandler, EnvelopeHandler
from shared.infra.uow import ConflictingDuplicate

log = logging.getLogger(__name__)

RETRIES_BEFORE_DEAD_LETTER = 5
"""Attempts for an event whose handler keeps failing for a reason other than infrastructure."""


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
        futures = [
            await producer.send(m.topic, value=m.payload, key=m.key.encode()) for m in messages
        ]
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


async def ensure_topics(
    bootstrap: str, topics: Sequence[str], partitions: int = 3, auth: KafkaAuth = NO_AUTH
) -> None:
    """Create the topics if missing: several partitions, unlimited retention, no compaction.

    Raises the broker's error (e.g. `TopicAuthorizationFailedError` when ACLs do not let this
    principal create a missing topic) instead of starting consumers on a topic that is not there.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **auth.client_options())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name=t,
                num_partitions=partitions,
                replication_factor=1,
                topic_configs={"retention.ms": "-1", "cleanup.policy": "delete"},
            )
            for t in topics
            if t not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                response = await admin.create_topics(missing)
                for error in response.to_object()["topic_errors"]:
                    code = error["error_code"]
                    if code not in (0, TopicAlreadyExistsError.errno):
                        raise for_code(code)(f"creating topic {error['topic']}")
    finally:
        await admin.close()


def _is_infrastructure_error(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError | DBAPIError | OSError | TimeoutError)


class KafkaTransport:
    """Kafka for the relay and for the service's consumers."""

    def __init__(
        self,
        bootstrap: str,
        client_id: str,
        *,
        replication_factor: int = 1,
        auth: KafkaAuth = NO_AUTH,
    ) -> None:
        self._bootstrap = bootstrap
        self._auth = auth
        self.broker = KafkaBroker(
            bootstrap,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            log_level=logging.DEBUG,
            security=auth.faststream_security(),
        )
        self._publisher = KafkaPublisher(bootstrap, client_id, auth)
        self._topics: set[str] = set()
        self._replication_factor = replication_factor

    def publisher(self) -> Publisher:
        return self._publisher

    def declare(self, *topics: str) -> None:
        """Topics this service produces to; created on start if missing."""
        self._topics.update(topics)

    def subscribe(self, topic: str, group: str, handler: EnvelopeHandler) -> None:
        self._topics.update((topic, f"{topic}.dlq"))
        subscriber = self.broker.subscriber(
            topic,
            group_id=group,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )

        async def on_message(msg: KafkaMessage) -> None:
            # The raw bytes: FastStream's own decoding would fail before our dead-lettering.
            await self._deliver(topic, group, msg.body, handler)
            await msg.ack()

        subscriber(on_message)

    async def _deliver(self, topic: str, group: str, body: bytes, handler: EnvelopeHandler) -> None:
        try:
            envelope = CloudEvent.from_json(body)
        except ValidationError as exc:
            await self._dead_letter(topic, group, body, f"invalid envelope: {exc.errors()[:3]}")
            return
        attempt = 0
        while True:
            try:
                await handler(envelope)
                return
            except (ValidationError, KeyError, ConflictingDuplicate) as exc:
                await self._dead_letter(topic, group, body, f"{type(exc).__name__}: {exc}")
                return
            except Exception as exc:
                attempt += 1
                if not _is_infrastructure_error(exc) and attempt >= RETRIES_BEFORE_DEAD_LETTER:
                    await self._dead_letter(topic, group, body, f"{type(exc).__name__}: {exc}")
                    return
                delay = min(0.2 * 2**attempt, 30.0)
                log.warning(
                    "handling %s failed (attempt %d); retry in %.1fs",
                    envelope.id,
                    attempt,
                    delay,
                    exc_info=True,
                )
                await asyncio.sleep(delay)

    async def _dead_letter(self, topic: str, group: str, body: bytes, reason: str) -> None:
        log.error("dead-lettering a message of %s for %s: %s", topic, group, reason)
        await self.broker.publish(
            body,
            topic=f"{topic}.dlq",
            headers={"x-dlq-reason": reason[:1000], "x-dlq-group": group, "x-dlq-topic": topic},
        )

    async def caught_up(self, topic: str, group: str) -> bool:
        """Compare the group's committed offsets with the partitions' ends. Offsets are
        committed only after processing, so equality means every event was processed."""
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self._bootstrap, **self._auth.client_options()
        )
        probe = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            enable_auto_commit=False,
            isolation_level="read_committed",
            **self._auth.client_options(),
        )
        await admin.start()
        await probe.start()
        try:
            committed = await admin.list_consumer_group_offsets(group)
            await probe.topics()
            partitions = [TopicPartition(topic, p) for p in probe.partitions_for_topic(topic) or ()]
            ends = await probe.end_offsets(partitions) if partitions else {}
        finally:
            await probe.stop()
            await admin.close()
        for tp, end in ends.items():
            done = committed.get(tp)
            if end > 0 and (done is None or done.offset < end):
                return False
        return True

    async def start(self) -> None:
        await ensure_topics(self._bootstrap, sorted(self._topics), auth=self._auth)
        await self.broker.start()

    async def stop(self) -> None:
        await self.broker.stop()
        await self._publisher.close()


class BatchingKafkaTransport(KafkaTransport):
    """KafkaTransport that can also deliver events in batches (`subscribe_batch`).

    Each batch subscription is one aiokafka consumer in the group (manual commit,
    read_committed, from the earliest offset). A batch is what one `getmany` returns (at most
    `max_records`, across the consumer's partitions, each partition in order); its offsets are
    committed only after the handler returned. Infrastructure errors retry the batch with
    backoff; any other error retries it one event at a time through `_deliver`, which
    dead-letters only the poison event.
    """

    def __init__(
        self,
        bootstrap: str,
        client_id: str,
        *,
        replication_factor: int = 1,
        auth: KafkaAuth = NO_AUTH,
    ) -> None:
        super().__init__(bootstrap, client_id, replication_factor=replication_factor, auth=auth)
        self._batch_subscriptions: list[tuple[str, str, BatchHandler, int]] = []
        self._batch_consumers: list[AIOKafkaConsumer] = []
        self._batch_tasks: list[asyncio.Task[None]] = []

    def subscribe_batch(
        self, topic: str, group: str, handler: BatchHandler, *, max_records: int = 5000
    ) -> None:
        self._topics.update((topic, f"{topic}.dlq"))
        self._batch_subscriptions.append((topic, group, handler, max_records))

    async def start(self) -> None:
        await super().start()
        for topic, group, handler, max_records in self._batch_subscriptions:
            consumer = AIOKafkaConsumer(
                topic,
                bootstrap_servers=self._bootstrap,
                group_id=group,
                client_id=f"{group}-batch",
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                isolation_level="read_committed",
                max_poll_records=max_records,
                fetch_max_bytes=64 * 1024 * 1024,
                max_partition_fetch_bytes=16 * 1024 * 1024,
                **self._auth.client_options(),
            )
            await consumer.start()
            self._batch_consumers.append(consumer)
            self._batch_tasks.append(
                asyncio.create_task(
                    self._consume_batches(consumer, topic, group, handler, max_records),
                    name=f"batch-consumer-{topic}",
                )
            )

    async def stop(self) -> None:
        for task in self._batch_tasks:
            task.cancel()
        for task in self._batch_tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for consumer in self._batch_consumers:
            try:
                await consumer.stop()
            except Exception:
                log.warning("stopping a batch consumer failed", exc_info=True)
        self._batch_tasks.clear()
        self._batch_consumers.clear()
        await super().stop()

    async def _consume_batches(
        self,
        consumer: AIOKafkaConsumer,
        topic: str,
        group: str,
        handler: BatchHandler,
        max_records: int,
    ) -> None:
        while True:
            fetched = await consumer.getmany(timeout_ms=500, max_records=max_records)
            if not fetched:
                continue
            records = [r for part in fetched.values() for r in part]
            envelopes: list[CloudEvent] = []
            bodies: list[bytes] = []
            for record in records:
                try:
                    envelopes.append(CloudEvent.from_json(record.value))
                    bodies.append(record.value)
                except ValidationError as exc:
                    await self._dead_letter(
                        topic, group, record.value, f"invalid envelope: {exc.errors()[:3]}"
                    )
            if envelopes:
                await self._handle_batch(topic, group, handler, envelopes, bodies)
            offsets = {tp: part[-1].offset + 1 for tp, part in fetched.items()}
            try:
                await consumer.commit(offsets)
            except Exception:
                # A rebalance took the partitions: their new owner gets the batch again and
                # the handler's idempotence absorbs it.
                log.warning("committing offsets of %s failed", topic, exc_info=True)

    async def _handle_batch(
        self,
        topic: str,
        group: str,
        handler: BatchHandler,
        envelopes: list[CloudEvent],
        bodies: list[bytes],
    ) -> None:
        attempt = 0
        while True:
            try:
                await handler(envelopes)
                return
            except Exception as exc:
                if not _is_infrastructure_error(exc):
                    log.warning("a batch of %s failed (%s); one event at a time", topic, exc)
                    break
                attempt += 1
                delay = min(0.2 * 2**attempt, 30.0)
                log.warning("batch of %s failed; retry in %.1fs", topic, delay, exc_info=True)
                await asyncio.sleep(delay)

        async def single(envelope: CloudEvent) -> None:
            await handler([envelope])

        for body in bodies:
            await self._deliver(topic, group, body, single)
