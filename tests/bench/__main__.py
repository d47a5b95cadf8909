"""`make bench`: 1,000,000 realistic lifecycle events through real Kafka into PostgreSQL.

Measures in one run: raw aiokafka consumption of the messages (no processing), projection by
the reporting service (batch consumer, batched merges, claims) into a fresh database, a full
rebuild, and evaluation latency (default filters, random `as_of`). Needs the broker and the
database of the tests: SECONDMENT_TEST_KAFKA_BOOTSTRAP and SECONDMENT_TEST_PG_DSN (defaults:
127.0.0.1:9092 and the local cluster on 55432). `--events N` for a smaller run.

The machine is usually shared, so each phase also reports the load average and the CPU time
spent by this process and by the PostgreSQL server (from /proc, when it runs on this
machine): CPU per event does not depend on what else runs, wall-clock rates do. `--json FILE`
appends the figures as one JSON line, to take medians over several runs.
"""

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import resource
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from sqlalchemy import func, select, text

from services.reporting.__main__ import create_app
from services.reporting.adapters.queries import evaluate
from services.reporting.adapters.rebuild import KafkaSource, SqlFreshReadModels
from services.reporting.adapters.snapshot import SnapshotCache
from services.reporting.adapters.tables import LIVE, core, rm_secondments
from services.reporting.adapters.writer import write
from services.reporting.config import ReportingSettings
from services.reporting.domain.evaluation import Filters
from services.reporting.service_layer.projections import changes_of, parsed
from services.reporting.service_layer.rebuild import rebuild
from shared.contract.topics import NEEDS_TOPIC, PLACEMENTS_TOPIC, topic_name
from shared.infra.db import make_engine, make_sessions
from shared.infra.kafka_topics import ensure_topics
from shared.phases import DEFAULT_PHASES
from tests.bench.generator import generate
from tests.infra import LOCAL_PG_DSN, create_database, drop_database, unique_name

EVENTS_PER_NEED = 7.68  # what the generator's lifecycle mix yields on average
PG_SETTINGS = (
    "server_version",
    "fsync",
    "synchronous_commit",
    "full_page_writes",
    "shared_buffers",
    "work_mem",
    "jit",
)


def _say(text: str) -> None:
    print(text, flush=True)


# ----- what else the machine is doing ------------------------------------------------------


def _clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


def _postgres_cpu() -> float | None:
    """CPU seconds used so far by every process named `postgres` on this machine, including
    the backends that exited (their time is added to the postmaster's children's time).
    Every database of the cluster counts: other users of the cluster show up here too."""
    total = 0
    found = False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        if name != "postgres":
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        found = True
    return total / _clock_ticks() if found else None


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Phase:
    """Wall time, CPU and load of one measured phase."""

    name: str
    seconds: float = 0.0
    own_cpu: float = 0.0
    pg_cpu: float | None = None
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass
class Meter:
    """Measures phases: wall clock, this process's CPU, PostgreSQL's CPU, load average."""

    phases: list[Phase] = field(default_factory=list)

    def start(self, name: str) -> "Running":
        return Running(self, Phase(name))


class Running:
    def __init__(self, meter: Meter, phase: Phase) -> None:
        self.meter, self.phase = meter, phase
        self.t0, self.cpu0, self.pg0 = time.monotonic(), _own_cpu(), _postgres_cpu()

    def stop(self) -> Phase:
        p = self.phase
        p.seconds = time.monotonic() - self.t0
        p.own_cpu = _own_cpu() - self.cpu0
        pg1 = _postgres_cpu()
        p.pg_cpu = pg1 - self.pg0 if pg1 is not None and self.pg0 is not None else None
        p.load = os.getloadavg()
        self.meter.phases.append(p)
        return p


def _cpu_note(p: Phase, events: int) -> str:
    pg = f", PostgreSQL {p.pg_cpu:.1f} s" if p.pg_cpu is not None else ""
    per = f" ({p.own_cpu / events * 1e6:.0f} µs/event here)" if events else ""
    load = ", ".join(f"{x:.1f}" for x in p.load)
    return f"CPU: bench process {p.own_cpu:.1f} s{per}{pg}; load average {load}"


def _machine() -> dict[str, Any]:
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(pages * page_size / 2**30, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


# ----- the phases ----------------------------------------------------------------------------


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


async def _delete_topics(bootstrap: str, topics: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([*topics, *(f"{t}.dlq" for t in topics)])
    except KafkaError as exc:  # the figures matter more than the clean-up
        _say(f"(could not delete the bench topics: {exc})")
    finally:
        await admin.close()


async def _pg_facts(engine: Any) -> dict[str, str]:
    async with engine.connect() as conn:
        return {
            name: str(await conn.scalar(text(f"SELECT current_setting('{name}')")))
            for name in PG_SETTINGS
        }


def p95(values: list[float]) -> float:
    """The 95th percentile (inclusive method: within the observed range)."""
    return statistics.quantiles(values, n=20, method="inclusive")[18]


async def main(events: int, queries: int, json_out: Path | None) -> None:
    bootstrap = os.environ.get("SECONDMENT_TEST_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    pg = os.environ.get("SECONDMENT_TEST_PG_DSN", LOCAL_PG_DSN)
    machine = _machine()
    started_at = dt.datetime.now().astimezone()
    _say(f"# Reporting benchmark — {started_at.isoformat(timespec='seconds')}")
    _say(
        f"machine: {machine['cpus']} × {machine['cpu_model']}, {machine['memory_gib']} GiB, "
        f"Linux {machine['kernel']}, Python {machine['python']}; "
        f"load average at start {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    meter = Meter()
    t0 = time.monotonic()
    generated = generate(1, needs=int(events / EVENTS_PER_NEED))
    messages = generated.messages
    count_sent = len(messages)
    _say(
        f"generated {count_sent:,} events ({generated.needs:,} needs, "
        f"{generated.secondments:,} secondments) in {time.monotonic() - t0:.1f} s"
    )
    name = unique_name("bench")
    prefix = f"{name}."
    topics = [topic_name(t, prefix) for t in (NEEDS_TOPIC, PLACEMENTS_TOPIC)]
    await ensure_topics(bootstrap, topics)
    seconds = await _publish(bootstrap, prefix, messages)
    _say(f"published to Kafka in {seconds:.1f} s ({count_sent / seconds:,.0f} events/s)")
    # The projection below runs in this process: do not make it carry a million messages.
    secondments_generated = generated.secondments
    del messages, generated

    run = meter.start("raw consumption")
    count, size, raw = await _raw_consume(bootstrap, topics)
    raw_phase = run.stop()
    raw_rate = count / raw
    _say(f"raw aiokafka consumption: {count:,} messages, {size / 1e6:,.0f} MB in {raw:.1f} s")
    _say(f"  {_cpu_note(raw_phase, count)}")

    db = await create_database(pg, name)
    settings = ReportingSettings(
        database_url=db, kafka_bootstrap=bootstrap, topic_prefix=prefix, consumer_group="bench"
    )
    engine = make_engine(db)
    pg_facts = await _pg_facts(engine)
    _say("postgresql: " + ", ".join(f"{k}={v}" for k, v in pg_facts.items()))
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        run = meter.start("projection")
        while True:
            async with engine.connect() as conn:
                done = int(await conn.scalar(select(func.count()).select_from(core.processed)) or 0)
            if done >= count_sent:
                break
            await asyncio.sleep(0.25)
        projection_phase = run.stop()
    projection = projection_phase.seconds
    projection_rate = count_sent / projection
    _say(f"projection: {count_sent:,} events in {projection:.1f} s")
    _say(f"  {_cpu_note(projection_phase, count_sent)}")

    source = KafkaSource(bootstrap, topics)
    run = meter.start("rebuild")
    try:
        report = await rebuild(SqlFreshReadModels(engine), source)
    finally:
        await source.close()
    rebuild_phase = run.stop()
    _say(
        f"rebuild: {report.events:,} events ({report.distinct:,} distinct) "
        f"in {report.seconds:.1f} s"
    )
    _say(f"  {_cpu_note(rebuild_phase, report.events)}")

    sessions = make_sessions(engine)
    async with sessions() as session:
        secondments = int(
            await session.scalar(select(func.count()).select_from(rm_secondments)) or 0
        )
        per_phase = {
            p.phase_id: int(
                await session.scalar(
                    select(func.count())
                    .select_from(rm_secondments)
                    .where(
                        rm_secondments.c.start_date.between(p.starts_on, p.ends_on),
                        rm_secondments.c.cancelled_on.is_(None),
                    )
                )
                or 0
            )
            for p in DEFAULT_PHASES
        }
    rng = random.Random(3)
    latencies: dict[str, list[float]] = {}
    cache = SnapshotCache()
    async with sessions() as session:
        await evaluate(
            session, DEFAULT_PHASES[0], DEFAULT_PHASES[0].ends_on, Filters(), cache=cache
        )
    load_s = cache.last.seconds
    _say(f"first evaluation: read models loaded into memory in {load_s:.1f} s")
    run = meter.start("queries")
    for phase in DEFAULT_PHASES:
        span = (phase.ends_on - phase.starts_on).days
        times = []
        for _ in range(queries):
            as_of = phase.starts_on + dt.timedelta(days=rng.randrange(span + 60))
            async with sessions() as session:
                q0 = time.perf_counter()
                await evaluate(session, phase, as_of, Filters(), cache=cache)
                times.append((time.perf_counter() - q0) * 1000)
        latencies[phase.phase_id] = times
    queries_phase = run.stop()
    _say(f"queries: {_cpu_note(queries_phase, 0)}")
    # Under live traffic: each evaluation right after a projected batch of 5,000 events
    # (replayed from the topics: the same rows again, logged as changes) reads those first.
    after_batch: list[float] = []
    touched: list[int] = []
    replay = KafkaSource(bootstrap, topics, batch=5000)
    try:
        async for batch in replay.batches():
            async with sessions() as session, session.begin():
                await write(session, LIVE, changes_of(parsed(batch)))
            async with sessions() as session:
                q0 = time.perf_counter()
                await evaluate(
                    session, DEFAULT_PHASES[0], DEFAULT_PHASES[0].ends_on, Filters(), cache=cache
                )
                after_batch.append((time.perf_counter() - q0) * 1000)
            touched.append(cache.last.aggregates)
            if len(after_batch) == 20:
                break
    finally:
        await replay.close()
    _say(
        f"after a batch of 5,000 events ({statistics.median(touched):,.0f} aggregates re-read): "
        f"p50 {statistics.median(after_batch):.1f} ms, p95 {p95(after_batch):.1f} ms"
    )
    await engine.dispose()
    await drop_database(pg, name)
    await _delete_topics(bootstrap, topics)

    _say("")
    _say("| measure | result |")
    _say("|---|---|")
    _say(f"| events | {count_sent:,} ({secondments_generated:,} secondments) |")
    _say(f"| raw aiokafka consumption | {raw_rate:,.0f} events/s ({raw:.1f} s) |")
    _say(
        f"| projection into PostgreSQL (batch consumer, claims, merges) | "
        f"{projection_rate:,.0f} events/s ({projection:.1f} s) |"
    )
    _say(f"| projection / raw consumption | {projection_rate / raw_rate:.2f} |")
    _say(f"| full rebuild (offset 0, fresh tables, swap) | {report.seconds:.1f} s |")
    for phase_id, times in latencies.items():
        _say(
            f"| evaluation {phase_id}, default filters, random as_of ({len(times)} queries, "
            f"{per_phase[phase_id]:,} of the {secondments:,} secondments in the phase) | "
            f"p50 {statistics.median(times):.1f} ms, p95 {p95(times):.1f} ms |"
        )
    _say(f"| first evaluation (loads the read models into memory) | {load_s * 1000:,.0f} ms |")
    _say(
        f"| evaluation 2024-2025 right after a projected batch of 5,000 events "
        f"({len(after_batch)} batches) | p50 {statistics.median(after_batch):.1f} ms, "
        f"p95 {p95(after_batch):.1f} ms |"
    )
    if json_out is not None:
        record = {
            "started_at": started_at.isoformat(timespec="seconds"),
            "machine": machine,
            "postgresql": pg_facts,
            "events": count_sent,
            "secondments": secondments,
            "secondments_per_phase": per_phase,
            "raw_events_per_s": raw_rate,
            "projection_events_per_s": projection_rate,
            "projection_s": projection,
            "ratio": projection_rate / raw_rate,
            "rebuild_s": report.seconds,
            "queries": {
                k: {"n": len(v), "p50_ms": statistics.median(v), "p95_ms": p95(v)}
                for k, v in latencies.items()
            },
            "first_evaluation_load_s": load_s,
            "after_batch_ms": {"p50": statistics.median(after_batch), "p95": p95(after_batch)},
            "phases": [p.__dict__ for p in meter.phases],
        }
        with json_out.open("a") as f:
            f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=100, help="per phase")
    parser.add_argument("--json", type=Path, default=None, help="append the figures here")
    args = parser.parse_args()
    asyncio.run(main(args.events, args.queries, args.json))
