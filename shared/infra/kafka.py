"""Kafka adapter: the transport's FastStream subscribers, which acknowledge only after the
consumer's database transaction committed, and the relay's producer (`kafka_producer.py`).

FastStream's default `ACK_FIRST` is at-most-once; we use `AckPolicy.MANUAL` and ack
ourselves. A poison event (unparseable, unknown type, conflicting duplicate, or failing
after several attempts) goes to `<topic>.dlq` with the reason in headers, so the
partition keeps flowing; infrastructure errors are retried with backoff, never skipped.
Topics are created by `kafka_topics.py`; batch consumption is `kafka_batches.py`.
"""

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from shared.contract.envelope import CloudEvent
from shared.infra import logs, tracing
from shared.infra.kafka_auth import NO_AUTH, KafkaAuth, TopicPolicy
from shared.infra.kafka_producer import KafkaPublisher
from shared.infra.kafka_retry import INFRASTRUCTURE_ERRORS, backoff, deliver
from shared.infra.kafka_topics import (
    DEFAULT_TOPICS,
    ForgetLagOnRevoke,
    bootstrap_hosts,
    ensure_topics,
    topic_partitions,
)
from shared.infra.metrics import dead_lettered, observe_lag
from shared.infra.outbox import Publisher
from shared.infra.personal_data import KeyUnavailable
from shared.infra.redact import describe, validation_issues
from shared.infra.transport import EnvelopeHandler
from shared.infra.uow import ConflictingDuplicate

log = logging.getLogger(__name__)

EVENT_INFRASTRUCTURE_ERRORS = (*INFRASTRUCTURE_ERRORS, KeyUnavailable)
"""An event's handler also waits out the key vault (a sealed event it cannot open yet)."""


def is_infrastructure_error(exc: BaseException) -> bool:
    """Errors of the database, the network or the key vault: retried, never dead-lettered."""
    return isinstance(exc, EVENT_INFRASTRUCTURE_ERRORS)


class KafkaTransport:
    """Kafka for the relay and for the service's consumers."""

    def __init__(
        self,
        bootstrap: str,
        client_id: str,
        *,
        topics: TopicPolicy = DEFAULT_TOPICS,
        auth: KafkaAuth = NO_AUTH,
    ) -> None:
        self._bootstrap = bootstrap
        self._auth = auth
        self.broker = KafkaBroker(
            # A list: FastStream takes a comma-separated string for one host name.
            bootstrap_hosts(bootstrap),
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            log_level=logging.DEBUG,
            security=auth.faststream_security(),
        )
        self._publisher = KafkaPublisher(bootstrap, client_id, auth)
        self._topics: set[str] = set()
        self._policy = topics

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
            listener=ForgetLagOnRevoke(group),
        )

        async def on_message(msg: KafkaMessage) -> None:
            # The raw bytes: FastStream's own decoding would fail before our dead-lettering.
            await self._deliver(topic, group, msg.body, handler)
            await msg.ack()
            _observe_lag(subscriber, group, msg.raw_message)

        subscriber(on_message)

    async def _deliver(self, topic: str, group: str, body: bytes, handler: EnvelopeHandler) -> None:
        try:
            envelope = CloudEvent.from_json(body)
        except ValidationError as exc:
            await self._dead_letter(
                topic, group, body, f"invalid envelope: {validation_issues(exc)}"
            )
            return
        with (
            tracing.handling((envelope,), topic, group),
            logs.bind(event_id=str(envelope.id), trace_id=envelope.correlationid),
        ):
            await self._handle(topic, group, body, envelope, handler)

    async def _handle(
        self, topic: str, group: str, body: bytes, envelope: CloudEvent, handler: EnvelopeHandler
    ) -> None:
        async def dead_letter(reason: str) -> None:
            await self._dead_letter(topic, group, body, reason)

        await deliver(
            lambda: handler(envelope),
            dead_letter,
            poison=(ValidationError, KeyError, ConflictingDuplicate),
            poison_reason=describe,
            infrastructure=EVENT_INFRASTRUCTURE_ERRORS,
            what=f"handling {envelope.id}",
            log_to=log,
        )

    async def _dead_letter(self, topic: str, group: str, body: bytes, reason: str) -> None:
        """Park the record on `<topic>.dlq`; a failed publish (the broker unreachable) is
        retried with backoff until it succeeds: the partition waits, the record is neither
        skipped nor lost, and the consumer's loop does not end on it."""
        log.error("dead-lettering a message of %s for %s: %s", topic, group, reason)
        headers = {"x-dlq-reason": reason[:1000], "x-dlq-group": group, "x-dlq-topic": topic}
        attempt = 0
        while True:
            try:
                await self.broker.publish(body, topic=f"{topic}.dlq", headers=headers)
                break
            except Exception as exc:  # noqa: BLE001 - any failure: wait, then again
                attempt += 1
                delay = backoff(attempt)
                log.warning(
                    "dead-lettering to %s.dlq failed (%s); retry in %.1fs",
                    topic, describe(exc), delay,
                )  # fmt: skip
                await asyncio.sleep(delay)
        dead_lettered(group, topic)

    async def consuming(self) -> bool:
        """FastStream's subscribers keep going on their own."""
        return True

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
            # No partitions raises (TopicUnknown): an empty list would read as "caught up"
            # (NEED_UNKNOWN for a need still on its way).
            ends = await probe.end_offsets(await topic_partitions(admin, topic))
        finally:
            await probe.stop()
            await admin.close()
        for tp, end in ends.items():
            done = committed.get(tp)
            if end > 0 and (done is None or done.offset < end):
                return False
        return True

    async def start(self) -> None:
        await ensure_topics(
            self._bootstrap, sorted(self._topics), auth=self._auth, policy=self._policy
        )
        await self.broker.start()

    async def stop(self) -> None:
        await self.broker.stop()
        await self._publisher.close()


def _observe_lag(subscriber: Any, group: str, record: Any) -> None:
    """The group's lag on the record's partition once it is processed: the partition's high
    watermark (as of the consumer's last fetch) minus the next offset."""
    consumer = getattr(subscriber, "consumer", None)
    if consumer is None or not hasattr(record, "partition"):
        return
    end = consumer.highwater(TopicPartition(record.topic, record.partition))
    if end is not None:
        observe_lag(group, record.topic, record.partition, end - record.offset - 1)
