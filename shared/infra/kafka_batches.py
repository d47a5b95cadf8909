"""Batch consumption from Kafka (`BatchingKafkaTransport.subscribe_batch`): one aiokafka
consumer per group, pipelined batches, offsets committed in order after the handlers returned,
and the garbage collector tuned for it (`collector.tune_gc`)."""

import asyncio
import collections
import logging
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from pydantic import ValidationError

from shared.contract.envelope import CloudEvent
from shared.infra import tracing
from shared.infra.collector import tune_gc
from shared.infra.kafka import KafkaTransport, is_infrastructure_error
from shared.infra.kafka_auth import NO_AUTH, KafkaAuth, TopicPolicy
from shared.infra.kafka_retry import backoff, stop_consuming
from shared.infra.kafka_topics import DEFAULT_TOPICS
from shared.infra.metrics import forget_lag, observe_lag
from shared.infra.redact import describe, validation_issues
from shared.infra.transport import BatchHandler

log = logging.getLogger(__name__)

_Item = tuple[TopicPartition, CloudEvent, bytes]
"""One record of a batch: where it came from, its decoded envelope, its bytes."""


@dataclass
class _BatchGroup:
    """The batch subscriptions of one consumer group: one aiokafka consumer for all its topics.

    One member per group and process, not one per topic: two members of one group subscribed
    to different topics rebalance each other whenever either joins, and every rebalance stops
    both while they re-join."""

    group: str
    max_records: int
    in_flight: int
    handlers: dict[str, BatchHandler] = field(default_factory=dict)


@dataclass
class _InFlight:
    """A batch handed to its handlers: the task applying it and the offsets to commit after."""

    task: asyncio.Task[None]
    offsets: dict[TopicPartition, int]


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Before partitions move to another member: let the batch in flight finish and commit it,
    so that the new owner does not apply it again (it would change nothing, but cost time)."""

    def __init__(self, transport: "BatchingKafkaTransport", group: str) -> None:
        self._transport = transport
        self._group = group

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._transport._settle(self._group)
        done = self._transport._done[self._group]
        for tp in revoked:  # their lag is their next owner's to report
            done.pop(tp, None)
            forget_lag(self._group, tp.topic, tp.partition)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        return None


def _said_if_failed(task: "asyncio.Task[None]") -> None:
    """A batch consumer's supervisor that ended on an error is logged (by the error's kind
    only: its message may carry a record's data); `/readyz` then answers 503 (`consuming`)."""
    error = None if task.cancelled() else task.exception()
    if error is not None:
        log.error("%s stopped: %s", task.get_name(), type(error).__name__)


STEADY_AFTER = 60.0
"""Seconds a restarted loop must run before a new failure starts the backoff from the first
delay again."""


class BatchingKafkaTransport(KafkaTransport):
    """KafkaTransport that can also deliver events in batches (`subscribe_batch`).

    All batch subscriptions of one group share one aiokafka consumer (manual commit,
    read_committed, from the earliest offset, large fetches) subscribed to all their topics.
    A batch is what one `getmany` returns (at most `max_records`, across the consumer's
    partitions, each partition in order); subscriptions that share one handler get their
    topics' events in one call, hence one transaction.

    The loop is pipelined: while batches are being applied (mostly waiting for the database),
    the next one is fetched and its envelopes decoded. With `in_flight=1` a batch's handler
    starts only after the previous one returned; with `in_flight=2` (the default) it may
    start while the previous one still waits for the database, so one batch's Python work
    overlaps the other's database work: the handler must then tolerate overlapping calls (be
    commutative, and lock shared rows in a fixed order), as the reporting projections do.
    Either way, offsets are committed in order, only after the batch's handler and every
    earlier batch's handler returned, and before a rebalance takes partitions away the
    batches in flight are finished and committed. Infrastructure errors retry the batch with
    backoff; any other error retries it one event at a time through `_deliver`, which
    dead-letters only the poison event.
    """

    def __init__(
        self,
        bootstrap: str,
        client_id: str,
        *,
        topics: TopicPolicy = DEFAULT_TOPICS,
        auth: KafkaAuth = NO_AUTH,
        in_flight: int = 2,
    ) -> None:
        super().__init__(bootstrap, client_id, topics=topics, auth=auth)
        if in_flight < 1:
            raise ValueError("in_flight must be at least 1")
        self._default_in_flight = in_flight
        self._batch_groups: dict[str, _BatchGroup] = {}
        self._batch_consumers: dict[str, AIOKafkaConsumer] = {}
        self._batch_tasks: list[asyncio.Task[None]] = []
        self._in_flight: dict[str, collections.deque[_InFlight]] = {}
        self._failing: set[str] = set()
        """Groups whose loop failed and has not fetched again since (not ready meanwhile)."""
        self.restarts = 0
        """Loops restarted after an error, all groups (for tests and the log)."""
        self._done: dict[str, dict[TopicPartition, int]] = collections.defaultdict(dict)
        """Per group, the next offset to process of each partition seen (for the lag)."""

    def subscribe_batch(
        self,
        topic: str,
        group: str,
        handler: BatchHandler,
        *,
        max_records: int = 5000,
        in_flight: int | None = None,
    ) -> None:
        self._topics.update((topic, f"{topic}.dlq"))
        spec = self._batch_groups.setdefault(
            group, _BatchGroup(group, max_records, self._default_in_flight)
        )
        spec.max_records = max(spec.max_records, max_records)
        if in_flight is not None:
            spec.in_flight = min(spec.in_flight, in_flight)
        spec.handlers[topic] = handler

    async def start(self) -> None:
        await super().start()
        if self._batch_groups:
            tune_gc()
        for spec in self._batch_groups.values():
            self._in_flight[spec.group] = collections.deque()
            await self._join(spec)  # the first start's errors are the caller's to see
            task = asyncio.create_task(self._supervise(spec), name=f"batch-consumer-{spec.group}")
            task.add_done_callback(_said_if_failed)
            self._batch_tasks.append(task)

    async def _join(self, spec: _BatchGroup) -> AIOKafkaConsumer:
        """A started consumer of the group, subscribed to its topics."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=spec.group,
            client_id=f"{spec.group}-batch",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_records=spec.max_records,
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=16 * 1024 * 1024,
            # A batch (and a rebalance waiting for it) may take a while on a busy database.
            max_poll_interval_ms=600_000,
            **self._auth.client_options(),
        )
        await consumer.start()
        consumer.subscribe(sorted(spec.handlers), listener=_CommitOnRevoke(self, spec.group))
        self._batch_consumers[spec.group] = consumer
        return consumer

    async def _supervise(self, spec: _BatchGroup) -> None:
        """Run the group's loop; when it ends on an error, leave the group (its partitions go
        to another member, or come back to us: what was not committed is delivered again) and
        join again after a backoff. Without this a failed loop would keep its partitions, its
        consumer still heart-beating, and consume nothing until someone restarts the process."""
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            consumer = self._batch_consumers.get(spec.group)
            started = loop.time()
            try:
                if consumer is None:
                    consumer = await self._join(spec)
                await self._consume_batches(consumer, spec)
            except Exception as exc:  # noqa: BLE001 - every error restarts the loop
                self._failing.add(spec.group)
                attempt = 1 if loop.time() - started > STEADY_AFTER else attempt + 1
                delay = backoff(attempt)
                # By its kind only: the message may carry a record's data (`redact`).
                log.error(
                    "batch consumer %s stopped (%s); joining again in %.1fs",
                    spec.group,
                    describe(exc),
                    delay,
                )
                self.restarts += 1
                left = self._batch_consumers.get(spec.group)
                if left is not None:
                    try:
                        await left.stop()  # leaves the group: its partitions are reassigned
                    except Exception:  # noqa: BLE001 - it is being replaced
                        log.warning("stopping the failed consumer of %s failed", spec.group)
                    self._batch_consumers.pop(spec.group, None)
                await asyncio.sleep(delay)

    async def consuming(self) -> bool:
        """Every batch consumer's loop runs (a readiness check): none is waiting to join again
        after an error, and no supervisor ended."""
        return not self._failing and not any(task.done() for task in self._batch_tasks)

    async def stop(self) -> None:
        await stop_consuming(self._batch_tasks, self._batch_consumers.values(), "batch")
        self._batch_tasks.clear()
        self._batch_consumers.clear()
        self._in_flight.clear()
        self._failing.clear()
        await super().stop()

    async def _settle(self, group: str, keep: int = 0) -> None:
        """Wait for the group's oldest batches until at most `keep` are in flight, committing
        the offsets of each (in order) once it returned."""
        queue = self._in_flight.get(group)
        while queue and len(queue) > keep:
            oldest = queue[0]
            await oldest.task
            if not queue or queue[0] is not oldest:
                continue  # settled meanwhile by the other caller (loop or rebalance listener)
            queue.popleft()
            self._done[group].update(oldest.offsets)
            try:
                await self._batch_consumers[group].commit(oldest.offsets)
            except Exception:
                # A rebalance took the partitions: their new owner gets the batch again and
                # the handler's idempotence absorbs it.
                log.warning("committing offsets of %s failed", group, exc_info=True)

    async def _consume_batches(self, consumer: AIOKafkaConsumer, spec: _BatchGroup) -> None:
        queue = self._in_flight[spec.group]
        try:
            while True:
                fetched = await consumer.getmany(timeout_ms=500, max_records=spec.max_records)
                self._failing.discard(spec.group)
                done = self._done[spec.group]
                for tp, records in fetched.items():
                    done.setdefault(tp, records[0].offset)
                self._observe_lag(consumer, spec.group)
                if not fetched:
                    await self._settle(spec.group)
                    continue
                # Decoding overlaps the database work of the batches in flight.
                decoded: list[_Item] = []
                for tp, records in fetched.items():
                    for record in records:
                        try:
                            decoded.append((tp, CloudEvent.from_json(record.value), record.value))
                        except ValidationError as exc:
                            await self._dead_letter(
                                tp.topic,
                                spec.group,
                                record.value,
                                f"invalid envelope: {validation_issues(exc)}",
                            )
                offsets = {tp: records[-1].offset + 1 for tp, records in fetched.items()}
                await self._settle(spec.group, keep=spec.in_flight - 1)
                # A rebalance while earlier batches finished may have taken partitions: their
                # new owner starts from the committed offsets, leave their records to it.
                owned = consumer.assignment()
                if any(tp not in owned for tp in offsets):
                    decoded = [item for item in decoded if item[0] in owned]
                    offsets = {tp: o for tp, o in offsets.items() if tp in owned}
                queue.append(_InFlight(asyncio.create_task(self._apply(spec, decoded)), offsets))
        finally:
            # Not acknowledged: batches cut short are delivered again after a restart.
            cut_short = [queue.popleft().task for _ in range(len(queue))]
            for task in cut_short:
                task.cancel()
            await asyncio.gather(*cut_short, return_exceptions=True)

    def _observe_lag(self, consumer: AIOKafkaConsumer, group: str) -> None:
        """The group's lag on each partition it has seen: the high watermark of the last
        fetch minus the next offset to process (batches in flight count as not processed)."""
        done = self._done[group]
        for tp in consumer.assignment():
            end = consumer.highwater(tp)
            if end is not None and tp in done:
                observe_lag(group, tp.topic, tp.partition, end - done[tp])

    async def _apply(self, spec: _BatchGroup, decoded: list[_Item]) -> None:
        """Hand the batch to its handlers: one call per distinct handler."""
        calls: list[tuple[BatchHandler, list[_Item]]] = []
        for item in decoded:
            handler = spec.handlers[item[0].topic]
            for known, items in calls:
                if known == handler:
                    items.append(item)
                    break
            else:
                calls.append((handler, [item]))
        for handler, items in calls:
            await self._handle_batch(spec.group, handler, items)

    async def _handle_batch(
        self,
        group: str,
        handler: BatchHandler,
        items: list[_Item],
    ) -> None:
        envelopes = [envelope for _, envelope, _ in items]
        topics = ", ".join(sorted({tp.topic for tp, _, _ in items})) if tracing.enabled() else ""
        with tracing.handling(envelopes, topics, group):
            await self._handle_envelopes(group, handler, items, envelopes)

    async def _handle_envelopes(
        self, group: str, handler: BatchHandler, items: list[_Item], envelopes: list[CloudEvent]
    ) -> None:
        """Apply the batch, or (a failure other than infrastructure) each event on its own."""
        attempt = 0
        while True:
            try:
                await handler(envelopes)
                return
            except Exception as exc:
                if not is_infrastructure_error(exc):
                    log.warning(
                        "a batch for %s failed (%s); one event at a time", group, describe(exc)
                    )
                    break
                attempt += 1
                delay = backoff(attempt)
                log.warning("batch for %s failed; retry in %.1fs", group, delay, exc_info=True)
                await asyncio.sleep(delay)

        async def single(envelope: CloudEvent) -> None:
            await handler([envelope])

        for tp, _, body in items:
            await self._deliver(tp.topic, group, body, single)
