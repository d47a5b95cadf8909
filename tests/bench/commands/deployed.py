"""The deployed shape of `tests.bench.commands`: the three services as processes (the fault
suite's `ServiceProcess`), PostgreSQL and the test Kafka broker, against the asyncpg baseline;
then commands over Kafka against an aiokafka → asyncpg baseline.

Each PostgreSQL cluster is measured in turn: the test cluster (`SECONDMENT_TEST_PG_DSN`, on this
machine `fsync=off`, `synchronous_commit=off`) and a durable one of the bench's own (`fsync=on`,
`synchronous_commit=on`, `full_page_writes=on`), started and stopped with the fault suite's
`Postgres` (`deploy/local/postgres.sh`, `PG_DURABLE=1`) on its own port. The settings each run
met are read from the server and printed with the figures.
"""

import asyncio
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.contract.commands import commands_topic, replies_topic
from shared.contract.crypto import b64, new_key
from shared.http.tokens import DevIssuer
from tests.bench.commands.__main__ import (
    HOME_SCOPES,
    HOST_SCOPES,
    PYTHON_M,
    Report,
    Server,
    compare,
    free_port,
    latency_summary,
    say,
    servers,
)
from tests.bench.commands.measure import Target, cpu_seconds, rss_mib
from tests.faults.cluster import Postgres, ServiceProcess
from tests.infra import LOCAL_PG_DSN, create_database, drop_database
from tests.samples import agency_command, need_body

SERVICES = ("needs", "placement", "reporting")
PG_FACTS = ("fsync", "synchronous_commit", "full_page_writes", "shared_buffers", "server_version")
AGENCY = "SO_Y_TE"


def plain(url: str) -> str:
    """An asyncpg DSN from a SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def pg_facts(dsn: str) -> dict[str, str]:
    conn = await asyncpg.connect(plain(dsn))
    try:
        return {name: str(await conn.fetchval(f"SHOW {name}")) for name in PG_FACTS}
    finally:
        await conn.close()


async def scalar(dsn: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(plain(dsn))
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


class Deployment:
    """The services' processes on one cluster, and the baseline beside them."""

    def __init__(self, label: str, admin_dsn: str, bootstrap: str, work: Path) -> None:
        self.label = label
        self.admin = admin_dsn
        self.bootstrap = bootstrap
        self.work = work
        self.tag = f"benchcmd_{uuid.uuid4().hex[:8]}"
        self.prefix = f"{self.tag}."
        self.dbs: dict[str, str] = {}
        self.issuer = DevIssuer(work / "keys").ensure()
        self.processes: list[ServiceProcess] = []

    async def create(self) -> None:
        for name in (*SERVICES, "audit", "baseline"):
            self.dbs[name] = await create_database(self.admin, f"{self.tag}_{name}")

    async def drop(self) -> None:
        for name in self.dbs:
            await drop_database(self.admin, f"{self.tag}_{name}")

    def start(self) -> None:
        keys = {"programme": b64(new_key()), "master": b64(new_key())}
        for name in SERVICES:
            port = free_port()
            env = {
                "DATABASE_URL": self.dbs[name],
                "KAFKA_BOOTSTRAP": self.bootstrap,
                "TOPIC_PREFIX": self.prefix,
                "HTTP_HOST": "127.0.0.1",
                "HTTP_PORT": str(port),
                "AUTH_ISSUERS_FILE": str(self.issuer.issuers_file),
                "AUDIT_DATABASE_URL": self.dbs["audit"],
                "PROGRAMME_KEY": keys["programme"],
                "MASTER_KEY": keys["master"],
                "KAFKA_ALLOW_PLAINTEXT": "true",  # the test broker has no users
            }
            prefix = name.upper() + "_"
            process = ServiceProcess(
                name, 1, port, {prefix + k: v for k, v in env.items()}, self.work / f"{name}.log"
            )
            process.start()
            run(process.ready())  # one at a time: the first migrates the audit store
            self.processes.append(process)

    def stop(self) -> None:
        for p in self.processes:
            p.terminate(grace=15.0)

    def url(self, name: str) -> str:
        return next(p.url for p in self.processes if p.name == name)

    def pids(self) -> list[int]:
        return [p.process.pid for p in self.processes if p.process is not None]


class PgSettle:
    """Until the needs outbox is empty and the placement service knows the fresh needs."""

    def __init__(self, d: Deployment, product: Target, within: float = 120.0) -> None:
        self._d = d
        self._product = product
        self._within = within

    def __call__(self) -> None:
        run(self._settle())

    async def _settle(self) -> None:
        deadline = time.monotonic() + self._within
        needs = plain(self._d.dbs["needs"])
        placement = plain(self._d.dbs["placement"])
        wanted = self._product.fresh_needs
        while time.monotonic() < deadline:
            pending = await scalar(needs, "SELECT count(*) FROM outbox WHERE published_at IS NULL")
            known = await scalar(
                placement, "SELECT count(*) FROM needs_view WHERE need_id = ANY($1)", wanted
            )
            if pending == 0 and known == len(wanted):
                return
            await asyncio.sleep(0.1)


class PgChangeLog(threading.Thread):
    """`ChangeLogWatcher` on the reporting service's PostgreSQL database."""

    def __init__(self, dsn: str, every: float = 0.005) -> None:
        super().__init__(daemon=True)
        self._dsn = plain(dsn)
        self._every = every
        self.seen: dict[str, float] = {}
        self._halt = threading.Event()
        self.ready = threading.Event()

    def run(self) -> None:
        asyncio.run(self._poll())

    async def _poll(self) -> None:
        conn = await asyncpg.connect(self._dsn)
        try:
            revision = await conn.fetchval("SELECT coalesce(max(revision), 0) FROM rm_changes")
            self.ready.set()
            while not self._halt.is_set():
                now = time.time()
                rows = await conn.fetch(
                    "SELECT revision, need_ids FROM rm_changes WHERE revision > $1"
                    " ORDER BY revision",
                    revision,
                )
                for row in rows:
                    revision = max(revision, row["revision"])
                    for need_id in json.loads(row["need_ids"]):
                        self.seen.setdefault(need_id, now)
                await asyncio.sleep(self._every)
        finally:
            await conn.close()

    def stop(self) -> None:
        self._halt.set()
        self.join()


def visible_on_postgres(
    d: Deployment, product: Target, rate: float, seconds: float
) -> dict[str, Any]:
    """Needs raised at a steady rate; from each answer to its first row in reporting's change
    log; and the needs outbox's publish lag (commit to acknowledged by Kafka)."""
    watcher = PgChangeLog(d.dbs["reporting"])
    watcher.start()
    watcher.ready.wait(30)
    started = time.time()
    try:
        stats = product.phase("needs", int(rate * seconds), 8, rate=rate)
        answered = product.last_answered_at
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not set(answered) <= set(watcher.seen):
            time.sleep(0.05)
    finally:
        watcher.stop()
    delays = [watcher.seen[i] - t for i, t in answered.items() if i in watcher.seen]
    lags = run(
        _lags(
            d.dbs["needs"],
            "SELECT extract(epoch FROM published_at - created_at) FROM outbox"
            " WHERE published_at IS NOT NULL AND created_at >= to_timestamp($1)",
            started,
        )
    )
    return {
        "rate": rate,
        "achieved_per_second": round(stats.per_second, 1),
        "command_p50_ms": round(stats.p50_ms, 1),
        "command_p99_ms": round(stats.p99_ms, 1),
        "never_seen": len(answered) - len(delays),
        "visible": latency_summary(delays),
        "outbox_publish_lag": latency_summary(lags),
    }


async def _lags(dsn: str, sql: str, since: float) -> list[float]:
    conn = await asyncpg.connect(plain(dsn))
    try:
        return [float(r[0]) for r in await conn.fetch(sql, since)]
    finally:
        await conn.close()


# ----- commands over Kafka -----------------------------------------------------------------


def _command(command_id: str) -> bytes:
    return agency_command(AGENCY, "RaiseNeed", need_body(), command_id)


async def _produce(bootstrap: str, topic: str, count: int) -> float:
    """Write `count` RaiseNeed commands; returns when the first was written (epoch)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        first = time.time()
        futures = []
        for _ in range(count):
            command_id = str(uuid.uuid4())
            futures.append(
                await producer.send(topic, _command(command_id), key=command_id.encode())
            )
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return first


async def _replies(bootstrap: str, topic: str, count: int, within: float) -> tuple[int, float]:
    """Read the replies topic until `count` replies arrived; (accepted, time of the last)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    seen = accepted = 0
    last = time.time()
    deadline = time.monotonic() + within
    try:
        while seen < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            for records in batch.values():
                for record in records:
                    seen += 1
                    accepted += b"CommandAccepted" in (record.value or b"")
                    last = time.time()
    finally:
        await consumer.stop()
    return accepted, last


def kafka_commands(d: Deployment, count: int, product_pids: Sequence[int]) -> dict[str, Any]:
    """`count` RaiseNeed commands on the agency's commands topic, until every reply is out;
    the same commands on a topic of their own through the hand-written consumer."""
    from shared.infra.kafka_topics import ensure_topics

    commands = commands_topic(AGENCY, d.prefix)
    replies = replies_topic(AGENCY, d.prefix)
    baseline_topic = f"{d.prefix}bench.baseline.commands"
    run(ensure_topics(d.bootstrap, [commands, replies, baseline_topic]))
    time.sleep(6)  # the services' pattern subscriptions notice the new topic (refresh 5 s)

    async def product_run() -> dict[str, Any]:
        reading = asyncio.create_task(_replies(d.bootstrap, replies, count, 300))
        cpu0 = cpu_seconds(product_pids)
        first = await _produce(d.bootstrap, commands, count)
        accepted, last = await reading
        return {
            "commands": count,
            "accepted": accepted,
            "per_second": round(count / (last - first), 1),
            "cpu_ms_per_command": round((cpu_seconds(product_pids) - cpu0) / count * 1000, 2),
        }

    product = run(product_run())
    baseline_db = d.dbs["baseline"]
    consumer = Server(
        "kafka baseline",
        [
            *PYTHON_M,
            "tests.bench.commands.kafka_baseline",
            "--bootstrap",
            d.bootstrap,
            "--topic",
            baseline_topic,
            "--postgres",
            plain(baseline_db),
            "--group",
            f"{d.prefix}baseline",
        ],
        0,
        d.work / "kafka-baseline.log",
        {},
    )
    with servers(consumer):
        before = run(scalar(baseline_db, "SELECT count(*) FROM events"))
        cpu0 = cpu_seconds([consumer.process.pid])
        first = run(_produce(d.bootstrap, baseline_topic, count))
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if run(scalar(baseline_db, "SELECT count(*) FROM events")) - before >= count:
                break
            time.sleep(0.02)
        last = time.time()
        baseline = {
            "commands": count,
            "per_second": round(count / (last - first), 1),
            "cpu_ms_per_command": round(
                (cpu_seconds([consumer.process.pid]) - cpu0) / count * 1000, 2
            ),
        }
    return {
        "product": product,
        "baseline": baseline,
        "ratio": round(product["per_second"] / baseline["per_second"], 3),
    }


# ----- the section ---------------------------------------------------------------------------


def one_cluster(
    report: Report,
    label: str,
    admin_dsn: str,
    bootstrap: str,
    concurrencies: Sequence[int],
    requests: int,
    rate: float,
    seconds: float,
    kafka_count: int,
) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-commands-deployed-"))
    d = Deployment(label, admin_dsn, bootstrap, work)
    run(d.create())
    facts = run(pg_facts(d.dbs["needs"]))
    say(f"  {label}: PostgreSQL {facts}")
    baseline_port = free_port()
    baseline_server = Server(
        "baseline",
        [
            *PYTHON_M,
            "tests.bench.commands.baseline",
            "--port",
            str(baseline_port),
            "--postgres",
            plain(d.dbs["baseline"]),
            "--log-level",
            "info",  # as the services run (`shared.http.main.serve`: access log on)
        ],
        baseline_port,
        work / "baseline.log",
        {},
    )
    try:
        d.start()
        with servers(baseline_server):
            baseline_server.ready("/healthz")
            tokens = {
                "host": d.issuer.mint(AGENCY, HOST_SCOPES),
                "home": d.issuer.mint("NAM_GIANG", HOME_SCOPES),
            }
            placement = d.url("placement")
            product = Target(
                "product",
                d.url("needs"),
                d.pids(),
                tokens,
                urls={"secondments": placement, "endings": placement},
            )
            baseline = Target(
                "baseline", baseline_server.url, [baseline_server.process.pid], tokens
            )
            settle = PgSettle(d, product)
            for target in (product, baseline):
                target.phase("needs", 200, 4)
            section = f"deployed ({label})"
            compare(report, section, product, baseline, concurrencies, requests, settle)
            settle()
            say(
                f"  {section}: command → visible in reporting at {rate:.0f}/s for {seconds:.0f} s …"
            )
            extra = visible_on_postgres(d, product, rate, seconds)
            say(f"  {section}: commands over Kafka ({kafka_count}) …")
            extra["kafka_commands"] = kafka_commands(d, kafka_count, d.pids())
            extra["postgres"] = facts
            extra["rss_mib"] = {
                **{p.name: rss_mib(p.process.pid) for p in d.processes if p.process},
                "baseline": rss_mib(baseline_server.process.pid),
            }
            report.extra[section] = extra
            say(f"  {json.dumps(extra)}")
    finally:
        d.stop()
        run(d.drop())


def deployed(
    report: Report,
    concurrencies: Sequence[int],
    requests: int,
    rate: float,
    seconds: float,
    kafka_count: int = 2000,
    durable_port: int = 55462,
) -> None:
    """The test cluster, then a durable cluster of the bench's own (stopped afterwards)."""
    bootstrap = os.environ.get("SECONDMENT_TEST_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    test_dsn = os.environ.get("SECONDMENT_TEST_PG_DSN", LOCAL_PG_DSN)
    args = (concurrencies, requests, rate, seconds, kafka_count)
    one_cluster(report, "PostgreSQL test cluster", test_dsn, bootstrap, *args)
    durable = Postgres(durable_port)
    durable.start()
    try:
        one_cluster(report, "PostgreSQL durable", durable.dsn, bootstrap, *args)
    finally:
        durable.stop()


if __name__ == "__main__":  # pragma: no cover - run through `python -m tests.bench.commands`
    sys.exit("run: python -m tests.bench.commands --sections deployed")
