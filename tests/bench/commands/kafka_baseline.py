"""The hand-written baseline for commands over Kafka: aiokafka reads each command, the
product's `RaiseNeed` model validates its `data`, and one asyncpg transaction writes the event
row and the outbox row (`baseline.PostgresStore`); offsets are committed after each batch.
Nothing else: no reply, no remembered answer, no audit, no rules.

`python -m tests.bench.commands.kafka_baseline --bootstrap B --topic T --postgres DSN --group G`
"""

import argparse
import asyncio
import contextlib
import json
import uuid

from aiokafka import AIOKafkaConsumer

from services.needs.domain.commands import RaiseNeed
from tests.bench.commands.baseline import Event, PostgresStore


async def consume(bootstrap: str, topic: str, dsn: str, group: str) -> None:
    store = PostgresStore(dsn)
    await store.open()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=500, max_records=500)
            for records in batch.values():
                for record in records:
                    envelope = json.loads(record.value or b"{}")
                    command = RaiseNeed.model_validate(envelope["data"])
                    need_id = str(uuid.uuid4())
                    data = command.model_dump(mode="json")
                    await store.write(need_id, None, Event(need_id, "NeedRaised", "needs", data))
            if batch:
                await consumer.commit()
    finally:
        await consumer.stop()
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--postgres", required=True)
    parser.add_argument("--group", required=True)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(consume(args.bootstrap, args.topic, args.postgres, args.group))


if __name__ == "__main__":
    main()
