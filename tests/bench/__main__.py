"""`make bench`: 1,000,000 realistic lifecycle events through real Kafka into PostgreSQL.

Measures in one run: raw aiokafka consumption of the messages (no processing), projection by
the reporting service (batch consumer, batched upserts, claims) into a fresh database, a full
rebuild, and evaluation latency (default filters, random `as_of`). Needs the broker and the
database of the tests: SECONDMENT_TEST_KAFKA_BOOTSTRAP and SECONDMENT_TEST_PG_DSN (defaults:
127.0.0.1:9092 and the local cluster on 55432). `--events N` for a smaller run.
"""

import argparse
import asyncio
import datetime as dt
import os
import platform
import random
import statistics
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import func, select

from services.reporting.__main__ import create_app
from services.reporting.adapters.queries import evaluate
from services.reporting.adapters.rebuild import KafkaSource
from services.reporting.adapters.tables import core, rm_secondments
from services.reporting.config import ReportingSettings
from services.reporting.domain.evaluation import Filters
from services.reporting.service_layer.rebuild import rebuild
from shared.contract.topics import NEEDS_TOPIC, PLACEMENTS_TOPIC, topic_name
from shared.infra.db import make_engine, make_sessions
from shared.infra.kafka import ensure_topics
from shared.phases import DEFAULT_PHASES
from tests.bench.generator import generate
from tests.infra import LOCAL_PG_DSN, create_database, drop_database, unique_name

EVENTS_PER_NEED = 7.68  # what the generator's lifecycle mix yields on average


def _say(text: str) -> None:
    print(text, flush=True)


async def _publish(bootstrap: str, prefix: str, messages: list[tuple[str, str, bytes]]) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=50, max_batch_size=1024 * 1024
    )
    await producer.start()
    started = time.monotonic()
    try:
        for i in range(0, len(messages), 20_000):
            futures = [
                await producer.send(topic_name(t, prefix), value=m, key=k.encode())
                for t, k, m in messages[i : i + 20_000]
            ]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.monotonic() - started


async def _raw_consume(bootstrap: str, topics: list[str]) -> tuple[int, int, float]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_poll_records=5000,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()
        parts = [
            TopicPartition(t, p) for t in topics for p in cluster.partitions_for_topic(t) or ()
        ]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        total = sum(ends.values())
        count = size = 0
        started = time.monotonic()
        while count < total:
            for records in (await consumer.getmany(timeout_ms=1000, max_records=5000)).values():
                count += len(records)
                size += sum(len(r.value or b"") for r in records)
        return count, size, time.monotonic() - started
    finally:
        await consumer.stop()


async def main(events: int, queries: int) -> None:
    bootstrap = os.environ.get("SECONDMENT_TEST_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    pg = os.environ.get("SECONDMENT_TEST_PG_DSN", LOCAL_PG_DSN)
    _say(f"# Reporting benchmark — {dt.datetime.now().isoformat(timespec='seconds')}")
    _say(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}")
    t0 = time.monotonic()
    generated = generate(1, needs=int(events / EVENTS_PER_NEED))
    messages = generated.messages
    _say(
        f"generated {len(messages):,} events ({generated.needs:,} needs, "
        f"{generated.secondments:,} secondments) in {time.monotonic() - t0:.1f} s"
    )
    name = unique_name("bench")
    prefix = f"{name}."
    topics = [topic_name(t, prefix) for t in (NEEDS_TOPIC, PLACEMENTS_TOPIC)]
    await ensure_topics(bootstrap, topics)
    seconds = await _publish(bootstrap, prefix, messages)
    _say(f"published to Kafka in {seconds:.1f} s ({len(messages) / seconds:,.0f} events/s)")

    count, size, raw = await _raw_consume(bootstrap, topics)
    raw_rate = count / raw
    _say(f"raw aiokafka consumption: {count:,} messages, {size / 1e6:,.0f} MB in {raw:.1f} s")

    db = await create_database(pg, name)
    settings = ReportingSettings(
        database_url=db, kafka_bootstrap=bootstrap, topic_prefix=prefix, consumer_group="bench"
    )
    engine = make_engine(db)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        started = time.monotonic()
        while True:
            async with engine.connect() as conn:
                done = int(await conn.scalar(select(func.count()).select_from(core.processed)) or 0)
            if done >= len(messages):
                break
            await asyncio.sleep(0.25)
        projection = time.monotonic() - started
    projection_rate = len(messages) / projection

    source = KafkaSource(bootstrap, topics)
    try:
        report = await rebuild(engine, source)
    finally:
        await source.close()

    sessions = make_sessions(engine)
    async with sessions() as session:
        secondments = int(
            await session.scalar(select(func.count()).select_from(rm_secondments)) or 0
        )
    rng = random.Random(3)
    latencies: dict[str, list[float]] = {}
    for phase in DEFAULT_PHASES:
        span = (phase.ends_on - phase.starts_on).days
        times = []
        for _ in range(queries):
            as_of = phase.starts_on + dt.timedelta(days=rng.randrange(span + 60))
            async with sessions() as session:
                q0 = time.perf_counter()
                await evaluate(session, phase, as_of, Filters())
                times.append((time.perf_counter() - q0) * 1000)
        latencies[phase.phase_id] = times
    await engine.dispose()
    await drop_database(pg, name)

    _say("")
    _say("| measure | result |")
    _say("|---|---|")
    _say(f"| events | {len(messages):,} ({generated.secondments:,} secondments) |")
    _say(f"| raw aiokafka consumption | {raw_rate:,.0f} events/s ({raw:.1f} s) |")
    _say(
        f"| projection into PostgreSQL (batch consumer, claims, upserts) | "
        f"{projection_rate:,.0f} events/s ({projection:.1f} s) |"
    )
    _say(f"| projection / raw consumption | {projection_rate / raw_rate:.2f} |")
    _say(f"| full rebuild (offset 0, fresh tables, swap) | {report.seconds:.1f} s |")
    for phase_id, times in latencies.items():
        p95 = statistics.quantiles(times, n=20)[18]
        _say(
            f"| evaluation {phase_id}, default filters, random as_of ({len(times)} queries, "
            f"{secondments:,} secondments in the table) | p50 {statistics.median(times):.1f} ms, "
            f"p95 {p95:.1f} ms |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.queries))
