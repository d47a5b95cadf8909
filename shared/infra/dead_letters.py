"""`python -m shared.infra.dead_letters {list,replay,discard} --topic <topic>.dlq`: what an
operator does with dead-lettered records, one DLQ at a time, with `--dry-run` to see first.

- `list`: the records not yet handled — partition, offset, why (`x-dlq-reason`), for which
  consumer group, the event's id and type when it is an envelope. Never the body: it may hold
  an official's (sealed) identity, and a poison record may hold anything.
- `replay`: republish each record, bytes and key unchanged, to the topic it came from
  (`x-dlq-topic`), then mark it handled. Every consumer is idempotent (an event id already
  applied changes nothing), so a replay cannot count an event twice: fix the cause first, then
  replay; what still fails comes back to the DLQ.
- `discard`: mark the records handled without republishing; they stay in the DLQ topic (its
  retention is the audit trail).

"Handled" is the committed offset of the tool's own consumer group for that DLQ
(`<prefix>dead-letters`), committed after each record sent, so a run stopped half-way goes on
after the last record it sent. Run one at a time per DLQ: the tool reads by assignment, not
as a group member, so two runs at once would both send what neither had marked yet.
The connection comes from `DLQ_KAFKA_BOOTSTRAP` and the
usual Kafka security variables with the `DLQ_` prefix (`DLQ_KAFKA_SECURITY_PROTOCOL`,
`DLQ_KAFKA_USERNAME`, …): a user that may read the DLQ and write the source topic.
"""

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic_settings import SettingsConfigDict

from shared.infra.kafka_auth import KafkaSecuritySettings
from shared.infra.kafka_topics import TopicUnknown, topic_partitions

GROUP = "dead-letters"


class DeadLetterSettings(KafkaSecuritySettings):
    """Where the DLQ is and who reads it (`DLQ_*`)."""

    model_config = SettingsConfigDict(env_prefix="DLQ_", extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = ""


@dataclass(frozen=True)
class DeadLetter:
    """One record of a DLQ, described without its body."""

    partition: int
    offset: int
    source_topic: str | None
    group: str | None
    reason: str | None
    event_id: str | None
    event_type: str | None

    def line(self) -> str:
        """One line for an operator."""
        what = f"{self.event_type} {self.event_id}" if self.event_id else "not an envelope"
        return (
            f"{self.partition}:{self.offset}  {what}  from {self.source_topic} "
            f"for {self.group}: {self.reason}"
        )


def describe(record: ConsumerRecord[bytes, bytes]) -> DeadLetter:
    """The record's headers and, when it is an envelope, its id and type."""
    headers = {k: v.decode("utf-8", "replace") for k, v in record.headers or ()}
    event_id = event_type = None
    try:
        body = json.loads(record.value or b"")
        if isinstance(body, dict):
            event_id = str(body.get("id")) if body.get("id") is not None else None
            event_type = str(body.get("type")) if body.get("type") is not None else None
    except (ValueError, RecursionError):
        pass
    return DeadLetter(
        record.partition,
        record.offset,
        headers.get("x-dlq-topic"),
        headers.get("x-dlq-group"),
        headers.get("x-dlq-reason"),
        event_id,
        event_type,
    )


Action = Literal["list", "replay", "discard"]


async def _partitions(settings: DeadLetterSettings, topic: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap, **settings.kafka_auth().client_options()
    )
    await admin.start()
    try:
        return await topic_partitions(admin, topic)
    except TopicUnknown as unknown:
        raise SystemExit(str(unknown)) from None
    finally:
        await admin.close()


async def handle(
    settings: DeadLetterSettings, topic: str, action: Action, *, dry_run: bool = False
) -> list[DeadLetter]:
    """Do `action` to every record of `topic` (a DLQ) not yet handled; returns them."""
    options = settings.kafka_auth().client_options()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=f"{settings.topic_prefix}{GROUP}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        **options,
    )
    replaying = action == "replay" and not dry_run
    producer = (
        AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap,
            acks="all",
            enable_idempotence=True,
            **options,
        )
        if replaying
        else None
    )
    await consumer.start()
    if producer is not None:
        await producer.start()
    try:
        partitions = await _partitions(settings, topic)
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        pending: list[tuple[ConsumerRecord[bytes, bytes], DeadLetter]] = []
        for tp in partitions:
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                for record in batch.get(tp, []):
                    if record.offset < ends[tp]:
                        pending.append((record, describe(record)))
        if action != "list" and not dry_run:
            if producer is not None:
                for _, letter in pending:  # all checked before any is sent
                    if not letter.source_topic:
                        raise SystemExit(
                            f"{letter.partition}:{letter.offset} names no source topic"
                        )
            for record, letter in pending:
                if producer is not None:
                    await producer.send_and_wait(letter.source_topic, record.value, key=record.key)
                # Each record marked handled once sent: a run stopped half-way goes on after it.
                tp = TopicPartition(record.topic, record.partition)
                await consumer.commit({tp: record.offset + 1})
            await consumer.commit({tp: ends[tp] for tp in partitions})
        return [letter for _, letter in pending]
    finally:
        if producer is not None:
            await producer.stop()
        await consumer.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; prints one line per record and what was (or would be) done."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("action", choices=("list", "replay", "discard"))
    parser.add_argument("--topic", required=True, help="the DLQ, e.g. secondment.needs.v1.dlq")
    parser.add_argument("--dry-run", action="store_true", help="show, change nothing")
    args = parser.parse_args(argv)
    letters = asyncio.run(
        handle(DeadLetterSettings(), args.topic, args.action, dry_run=args.dry_run)
    )
    for letter in letters:
        print(letter.line())
    done: dict[str, Any] = {
        "list": "pending",
        "replay": "would be replayed" if args.dry_run else "replayed",
        "discard": "would be discarded" if args.dry_run else "discarded",
    }
    print(f"{len(letters)} record(s) {done[args.action]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
