"""One fault-injection run: set up, drive and break, converge, check."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shared.contract.crypto import b64, new_key
from shared.contract.topics import NEEDS_TOPIC, PLACEMENTS_TOPIC, topic_name
from shared.http.tokens import DevIssuer
from tests.faults.cluster import Kafka, Postgres, ServiceProcess
from tests.faults.schedule import Fault, draw
from tests.faults.workload import AS_OF, Driver, Endpoints, Ledger, compare, expected

FAULT_GRACE = 20.0
"""Seconds after a fault ends during which 5xx answers are put down to it."""
PORTS = {"needs": 18110, "placement": 18120, "reporting": 18130}
CONSUMERS = {"needs": ("placement", "reporting"), "placements": ("needs", "reporting")}
"""Who consumes each event topic (each dead-letters a poison event on its own)."""
PLACEMENT_EVENTS = {
    "OfficerSeconded": "seconded",
    "OfficialReceived": "received",
    "SecondmentExtended": "extended",
    "SecondmentEnded": "ended",
    "PostSecondmentArranged": "arranged",
    "SecondmentCancelled": "cancelled",
}


@dataclass(frozen=True)
class Options:
    seed: int
    duration: float
    brokers: int
    replicas: int
    workers: int
    kafka_port: int
    pg_port: int
    converge_within: float
    logs: Path
    keep: bool = False


@dataclass
class Result:
    options: Options
    faults: Counter[str] = field(default_factory=Counter)
    accepted: int = 0
    lost: int = 0
    duplicated: int = 0
    converged_in: float | None = None
    problems: list[str] = field(default_factory=list)
    ledger: Ledger | None = None
    unexplained_5xx: int = 0
    server_errors: int = 0
    audit_missing: int = 0
    """Accepted needs and secondments without their command's ACCEPTED audit entry."""
    audit_doubled: int = 0
    """… or with more than one."""

    @property
    def ok(self) -> bool:
        return (
            not self.problems
            and self.lost == 0
            and self.duplicated == 0
            and self.audit_missing == 0
            and self.audit_doubled == 0
            and self.converged_in is not None
        )

    def summary(self) -> str:
        f = self.faults
        converged = f"{self.converged_in:.1f} s" if self.converged_in is not None else "never"
        return (
            f"faults: {f['process_kill']} process kills, {f['broker_kill']} broker kills, "
            f"{f['postgres_restart']} postgres restarts, {f['rebalance']} rebalances; "
            f"accepted {self.accepted}; lost {self.lost}; duplicated {self.duplicated}; "
            f"converged in {converged}"
        )

    def as_json(self) -> dict[str, Any]:
        o = self.options
        return {
            "seed": o.seed,
            "brokers": o.brokers,
            "replicas": o.replicas,
            "duration_s": o.duration,
            "faults": dict(self.faults),
            "accepted": self.accepted,
            "accepted_by_kind": dict(self.ledger.accepted) if self.ledger else {},
            "lost": self.lost,
            "duplicated": self.duplicated,
            "audit_missing": self.audit_missing,
            "audit_doubled": self.audit_doubled,
            "converged_s": self.converged_in,
            "server_errors_retried": self.server_errors,
            "unexplained_5xx": self.unexplained_5xx,
            "retries": self.ledger.retries if self.ledger else 0,
            "problems": self.problems[:20],
            "ok": self.ok,
        }


class Deployment:
    """The services' processes and the infrastructure under them."""

    def __init__(self, options: Options) -> None:
        self.o = options
        self.tag = f"chaos{options.seed}_{uuid.uuid4().hex[:6]}"
        self.prefix = f"{self.tag}."
        self.kafka = Kafka(options.brokers, options.kafka_port, options.logs / "kafka")
        self.pg = Postgres(options.pg_port)
        self.issuer = DevIssuer(options.logs / "keys").ensure()
        self.dbs: dict[str, str] = {}
        self.processes: list[ServiceProcess] = []
        self.down: dict[str, float] = {}
        """Processes the schedule holds down, until when (monotonic)."""
        self.restarts_after_own_exit = 0

    async def start(self) -> None:
        self.o.logs.mkdir(parents=True, exist_ok=True)
        self.pg.start()
        for name in ("needs", "placement", "reporting", "audit"):
            self.dbs[name] = await self.pg.database(f"{self.tag}_{name}")
        self.kafka.start()
        keys = {"master": b64(new_key()), "programme": b64(new_key())}
        for name in ("needs", "placement", "reporting"):
            for replica in range(1, self.o.replicas + 1):
                self.processes.append(self._process(name, replica, keys))
        self._keys = keys
        # One replica of each first (it migrates and creates the topics), then the others.
        for p in self.processes:
            if p.replica == 1:
                p.start()
                await p.ready()
        for p in self.processes:
            if p.replica > 1:
                p.start()
        for p in self.processes:
            await p.ready()

    def _process(self, name: str, replica: int, keys: dict[str, str]) -> ServiceProcess:
        prefix = name.upper() + "_"
        port = PORTS[name] + replica
        env = {
            "DATABASE_URL": self.dbs[name],
            "KAFKA_BOOTSTRAP": self.kafka.bootstrap,
            "TOPIC_PREFIX": self.prefix,
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(port),
            "AUTH_ISSUERS_FILE": str(self.issuer.issuers_file),
            "AUDIT_DATABASE_URL": self.dbs["audit"],
            "PROGRAMME_KEY": keys["programme"],
            "MASTER_KEY": keys["master"],
            "KAFKA_ALLOW_PLAINTEXT": "true",  # the harness's own local brokers
        }
        return ServiceProcess(
            name,
            replica,
            port,
            {prefix + k: v for k, v in env.items()},
            self.o.logs / f"{name}-{replica}.log",
        )

    def extra_replica(self, name: str) -> ServiceProcess:
        """A replica that joins for a while (the rebalance fault)."""
        return self._process(name, 9, self._keys)

    def urls(self, name: str) -> list[str]:
        return [p.url for p in self.processes if p.name == name]

    def find(self, label: str) -> ServiceProcess:
        return next(p for p in self.processes if p.label == label)

    async def supervise(self) -> None:
        """As an orchestrator would: a process that died on its own starts again after 1 s;
        one the schedule killed starts when its pause is over."""
        while True:
            now = time.monotonic()
            for p in self.processes:
                if p.reap():
                    self.restarts_after_own_exit += 1
                    self.down[p.label] = now + 1.0
                if not p.alive() and self.down.get(p.label, 0.0) <= now:
                    self.down.pop(p.label, None)
                    p.start()
            await asyncio.sleep(0.3)

    async def stop(self) -> None:
        for p in self.processes:
            p.terminate(grace=10.0)
        with contextlib.suppress(Exception):
            self.kafka.stop()
        if not self.o.keep:
            for name in self.dbs:
                with contextlib.suppress(Exception):
                    await self.pg.drop(f"{self.tag}_{name}")
            shutil.rmtree(self.o.logs / "kafka", ignore_errors=True)
            with contextlib.suppress(Exception):
                self.pg.stop()  # nothing of the run is left running


class Faults:
    """Carries out the schedule against a deployment; notes each fault's window."""

    def __init__(self, d: Deployment, result: Result) -> None:
        self.d = d
        self.result = result
        self.windows: list[tuple[float, float]] = []
        self.poisons: list[tuple[str, bytes]] = []
        """(topic kind, the poison's bytes) of every poison published."""
        self.last_end = 0.0
        self._broker = asyncio.Lock()
        """One broker fault at a time: a kill drawn while the last one's node is still
        restarting would kill the restart itself, which is not a fault the schedule meant."""

    async def play(self, schedule: list[Fault], t0: float) -> None:
        tasks = []
        for fault in schedule:
            delay = t0 + fault.at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self._one(fault)))
        await asyncio.gather(*tasks)

    async def _one(self, fault: Fault) -> None:
        began = time.time()
        print(f"  fault {fault.describe()}", flush=True)
        try:
            await getattr(self, f"_{fault.kind}")(fault)
            self.result.faults[fault.kind] += 1
        except Exception as exc:  # noqa: BLE001 - not injected: say so, keep going
            self.result.problems.append(f"fault {fault.describe()} not injected: {exc!r}"[:500])
        finally:
            self.windows.append((began, time.time() + FAULT_GRACE))
            self.last_end = max(self.last_end, time.monotonic())

    async def _process_kill(self, fault: Fault) -> None:
        p = self.d.find(fault.target)
        self.d.down[p.label] = time.monotonic() + fault.pause
        p.kill()
        await asyncio.sleep(fault.pause)

    async def _broker_kill(self, fault: Fault) -> None:
        async with self._broker:
            await self._kill_broker(fault)

    async def _kill_broker(self, fault: Fault) -> None:
        node = int(fault.target.split("-")[1])
        if fault.mode == "leader":
            leader = await self.d.kafka.leader_of(topic_name(PLACEMENTS_TOPIC, self.d.prefix))
            node = leader or node
        await asyncio.to_thread(self.d.kafka.kill_node, node)
        await asyncio.sleep(fault.pause)
        await asyncio.to_thread(self.d.kafka.start_node, node)

    async def _postgres_restart(self, fault: Fault) -> None:
        await asyncio.to_thread(self.d.pg.restart, fault.mode)

    async def _rebalance(self, fault: Fault) -> None:
        extra = self.d.extra_replica(fault.target)
        deadline = time.monotonic() + 90.0
        try:
            while True:  # as an orchestrator would: a replica that exits is started again
                extra.start()
                try:
                    await extra.ready(within=max(1.0, deadline - time.monotonic()))
                    break
                except RuntimeError:
                    if time.monotonic() > deadline:
                        raise
                    extra.reap()
                    await asyncio.sleep(1.0)
            await asyncio.sleep(fault.pause)
        finally:
            await asyncio.to_thread(extra.terminate)

    async def _poison(self, fault: Fault) -> None:
        topic = topic_name(
            NEEDS_TOPIC if fault.target == "needs" else PLACEMENTS_TOPIC, self.d.prefix
        )
        marker = uuid.uuid4().hex
        if fault.mode == "garbage":
            body = f'{{"poison": "{marker}", not json'.encode()
        else:
            body = json.dumps(
                {
                    "specversion": "1.0",
                    "id": str(uuid.uuid4()),
                    "source": "/services/needs"
                    if fault.target == "needs"
                    else "/services/placement",
                    "type": "FutureEventNobodyKnows",
                    "subject": marker,
                    "time": "2024-08-01T00:00:00Z",
                    "datacontenttype": "application/json",
                    "data": {"poison": marker},
                }
            ).encode()
        deadline = time.monotonic() + 90.0
        while True:  # a broker fault may be in progress: an outside producer retries too
            producer = AIOKafkaProducer(
                bootstrap_servers=self.d.kafka.bootstrap, acks="all", enable_idempotence=True
            )
            try:
                await producer.start()
                await producer.send_and_wait(topic, body, key=marker.encode())
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1.0)
            finally:
                await producer.stop()
        self.poisons.append((fault.target, body))

    def explains(self, at: float) -> bool:
        return any(start <= at <= end for start, end in self.windows)


async def run(o: Options) -> Result:
    result = Result(o)
    schedule = draw(o.seed, o.duration, replicas=o.replicas, brokers=o.brokers)
    print(
        f"chaos: seed {o.seed}, {o.brokers} broker(s), {o.replicas} replica(s) per service, "
        f"{o.duration:.0f}s of workload, logs in {o.logs}",
        flush=True,
    )
    for fault in schedule:
        print(f"  planned {fault.describe()}", flush=True)
    d = Deployment(o)
    supervisor: asyncio.Task[None] | None = None
    try:
        await d.start()
        faults = Faults(d, result)
        supervisor = asyncio.create_task(d.supervise())
        driver = Driver(
            Endpoints(d.urls("needs"), d.urls("placement")),
            lambda agency, scopes: d.issuer.mint(agency, scopes),
            o.seed,
            workers=o.workers,
        )
        t0 = time.monotonic()
        workload = asyncio.create_task(driver.run(t0 + o.duration))
        await faults.play(schedule, t0)
        ledger = await workload
        result.ledger = ledger
        result.accepted = ledger.total
        faults_over = max(faults.last_end, time.monotonic())
        checker = Checker(d, ledger, faults)
        converged = await checker.converge(o.converge_within)
        if converged:
            result.converged_in = round(time.monotonic() - faults_over, 1)
        try:
            await checker.final(result)
        except Exception as exc:  # noqa: BLE001 - a run that cannot be checked is not ok
            result.problems.append(f"final checks failed: {exc!r}")
    finally:
        if supervisor is not None:
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor
        await d.stop()
    return result


class Checker:
    """The invariants, read from the services' databases, HTTP APIs and Kafka."""

    def __init__(self, d: Deployment, ledger: Ledger, faults: Faults) -> None:
        self.d = d
        self.ledger = ledger
        self.faults = faults
        self.last: list[str] = []
        self.counts: dict[str, Counter[str]] = {}

    def _engine(self, service: str) -> AsyncEngine:
        return create_async_engine(self.d.dbs[service], pool_size=1, max_overflow=0)

    async def _scalar_rows(self, service: str, sql: str) -> list[Any]:
        engine = self._engine(service)
        try:
            async with engine.connect() as conn:
                return list((await conn.execute(text(sql))).all())
        finally:
            await engine.dispose()

    async def _event_counts(self, service: str) -> Counter[str]:
        rows = await self._scalar_rows(
            service, "SELECT event_type, count(*) FROM event_store GROUP BY event_type"
        )
        return Counter({str(t): int(n) for t, n in rows})

    def _want(self) -> dict[str, Counter[str]]:
        led = self.ledger
        secs = led.secondments.values()
        placement = Counter(
            {
                "OfficerSeconded": len(led.secondments),
                "OfficialReceived": sum(s.received for s in secs),
                "SecondmentExtended": sum(s.extended for s in secs),
                "SecondmentEnded": sum(1 for s in secs if s.ended),
                "PostSecondmentArranged": sum(1 for s in secs if s.arrangement),
                "SecondmentCancelled": sum(s.cancelled for s in secs),
            }
        )
        needs = Counter(
            {
                "NeedRaised": len(led.needs),
                "NeedWithdrawn": sum(n.withdrawn for n in led.needs.values()),
            }
        )
        return {"needs": needs, "placement": placement}

    async def problems(self) -> list[str]:
        """What does not hold yet (empty: converged)."""
        out: list[str] = []
        want = self._want()
        for service in ("needs", "placement"):
            got = await self._event_counts(service)
            self.counts[service] = got
            for kind, n in want[service].items():
                if got.get(kind, 0) != n:
                    out.append(
                        f"{service}: {kind} {got.get(kind, 0)} in the event store, {n} accepted"
                    )
            (pending,) = await self._scalar_rows(
                service, "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            )
            if pending[0]:
                out.append(f"{service}: {pending[0]} outbox rows unpublished")
            (waiting,) = await self._scalar_rows(service, "SELECT count(*) FROM audit_outbox")
            if waiting[0]:
                out.append(f"{service}: {waiting[0]} audit entries not yet in the audit store")
        figures = expected(self.ledger)
        async with httpx.AsyncClient(timeout=10.0) as client:
            token = self.d.issuer.mint("UBND_TINH", ("reports:read",))
            for url in self.d.urls("reporting"):
                try:
                    response = await client.get(
                        f"{url}/api/reports/phases/2024-2025/evaluation",
                        params={"as_of": AS_OF},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    evaluation = response.json()
                except (httpx.HTTPError, ValueError) as exc:
                    out.append(f"reporting {url}: {exc!r}")
                    continue
                out.extend(f"reporting {url}: {diff}" for diff in compare(figures, evaluation))
        out.extend(await self._dead_letters())
        self.last = out
        return out

    async def converge(self, within: float) -> bool:
        started = time.monotonic()
        deadline, report = started + within, started + 30.0
        while True:
            try:
                if not await self.problems():
                    return True
            except Exception as exc:  # noqa: BLE001 - a service still down: look again
                self.last = [f"checking failed: {exc!r}"]
            if time.monotonic() > deadline:
                return False
            if time.monotonic() > report:  # progress on long waits
                report += 30.0
                waited = time.monotonic() - started
                print(f"  converging for {waited:.0f}s: {'; '.join(self.last[:3])}", flush=True)
            await asyncio.sleep(1.0)

    async def _dead_letters(self) -> list[str]:
        """Every poison event is in its topic's DLQ, with a reason, for each consumer group."""
        if not self.faults.poisons:
            return []
        found: dict[str, set[tuple[bytes, str]]] = {}
        for kind in ("needs", "placements"):
            topic = topic_name(NEEDS_TOPIC if kind == "needs" else PLACEMENTS_TOPIC, self.d.prefix)
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.d.kafka.bootstrap,
                auto_offset_reset="earliest",
                enable_auto_commit=False,
            )
            await consumer.start()
            dlq = f"{topic}.dlq"
            partitions = await self.d.kafka.partitions(dlq)
            seen: set[tuple[bytes, str]] = set()
            try:
                if not partitions:  # no dead letter yet: the poison checks below say so
                    found[kind] = seen
                    continue
                consumer.assign(partitions)
                # To the end offsets as they are now (a short getmany may return nothing yet).
                await consumer.seek_to_beginning(*partitions)
                ends = await consumer.end_offsets(partitions)
                while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
                    batches = await consumer.getmany(timeout_ms=1000, max_records=10000)
                    for records in batches.values():
                        for r in records:
                            headers = {k: v.decode() for k, v in r.headers}
                            group = headers.get("x-dlq-group", "").removeprefix(self.d.prefix)
                            if headers.get("x-dlq-reason"):
                                seen.add((r.value or b"", group))
            finally:
                await consumer.stop()
            found[kind] = seen
        out = []
        for kind, body in self.faults.poisons:
            for group in CONSUMERS[kind]:
                if (body, group) not in found[kind]:
                    out.append(f"poison on {kind} not dead-lettered by {group}")
        return out

    async def final(self, result: Result) -> None:
        """Lost and duplicated counts, every record by id, versions, 5xx outside faults."""
        problems = self.last if result.converged_in is None else []
        want = self._want()
        for service in ("needs", "placement"):
            got = self.counts.get(service) or await self._event_counts(service)
            for kind, n in want[service].items():
                diff = got.get(kind, 0) - n
                result.lost += max(0, -diff)
                result.duplicated += max(0, diff)
            gaps = await self._scalar_rows(
                service,
                "SELECT stream_id FROM event_store GROUP BY stream_id "
                "HAVING count(*) <> max(version) - min(version) + 1 "
                "OR count(DISTINCT version) <> count(*) OR min(version) > 1",
            )
            if gaps:
                problems.append(
                    f"{service}: {len(gaps)} aggregates with missing or doubled versions"
                )
        result.lost += await self._by_id(problems)
        await self._audited_once(result, problems)
        led = self.ledger
        result.server_errors = len(led.server_errors)
        unexplained = [e for e in led.server_errors if not self.faults.explains(e[0])]
        result.unexplained_5xx = len(unexplained)
        if unexplained:
            problems.append(
                f"{len(unexplained)} 5xx answers outside any fault's window: {unexplained[:5]}"
            )
        if led.refused:
            problems.append(
                f"{len(led.refused)} refusals of rule-abiding commands: {led.refused[:5]}"
            )
        if led.unanswered:
            problems.append(f"{len(led.unanswered)} commands never answered: {led.unanswered[:5]}")
        if self.d.restarts_after_own_exit:
            print(
                f"  note: {self.d.restarts_after_own_exit} service exits not caused by a kill "
                "(restarted by the supervisor)",
                flush=True,
            )
        result.problems.extend(problems)
        for p in result.problems[:30]:
            print(f"  PROBLEM {p}", flush=True)

    async def _audited_once(self, result: Result, problems: list[str]) -> None:
        """Every accepted need and secondment has exactly one ACCEPTED entry of the command
        that made it: the entry commits with the command, so a kill between the two cannot
        lose it, and a forwarder killed half-way cannot write it twice."""
        for action, kind, made in (
            ("RaiseNeed", "need", set(self.ledger.needs)),
            ("SecondOfficial", "secondment", set(self.ledger.secondments)),
        ):
            rows = await self._scalar_rows(
                "audit",
                "SELECT r.record_id, count(*) FROM audit_log l JOIN audit_records r "
                f"ON r.position = l.position WHERE l.action = '{action}' "
                f"AND l.outcome = 'ACCEPTED' AND r.kind = '{kind}' GROUP BY r.record_id",
            )
            entries = {str(record): int(n) for record, n in rows}
            missing = [m for m in made if m not in entries]
            doubled = [m for m in made if entries.get(m, 0) > 1]
            result.audit_missing += len(missing)
            result.audit_doubled += len(doubled)
            print(
                f"  audit: {len(made)} {kind}s accepted; without their {action} entry "
                f"{len(missing)}, with more than one {len(doubled)}",
                flush=True,
            )
            if missing or doubled:
                problems.append(
                    f"{action}: {len(missing)} accepted without their audit entry "
                    f"{missing[:3]}, {len(doubled)} with more than one {doubled[:3]}"
                )

    async def _by_id(self, problems: list[str]) -> int:
        """GET every accepted need and secondment from its owning service, from whichever
        replica answers (one may still be starting after its last kill)."""
        missing = 0
        sem = asyncio.Semaphore(8)
        async with httpx.AsyncClient(timeout=10.0) as client:

            async def get(service: str, path: str, agency: str, scopes: tuple[str, ...]) -> int:
                token = self.d.issuer.mint(agency, scopes)
                urls = self.d.urls(service)
                deadline = time.monotonic() + 60.0
                async with sem:
                    for attempt in itertools.count():
                        url = urls[attempt % len(urls)]
                        try:
                            r = await client.get(
                                f"{url}{path}", headers={"Authorization": f"Bearer {token}"}
                            )
                        except httpx.TransportError:
                            if time.monotonic() > deadline:
                                return 0  # no replica answered
                            await asyncio.sleep(0.5)
                            continue
                        if r.status_code >= 500 and time.monotonic() < deadline:
                            await asyncio.sleep(0.5)
                            continue
                        return r.status_code
                raise AssertionError("unreachable")

            checks = [
                get("needs", f"/api/needs/{n.need_id}", n.host, ("needs:write",))
                for n in self.ledger.needs.values()
            ] + [
                get(
                    "placement",
                    f"/api/secondments/{s.secondment_id}",
                    s.home,
                    ("secondments:write",),
                )
                for s in self.ledger.secondments.values()
            ]
            statuses = await asyncio.gather(*checks)
        bad = Counter(s for s in statuses if s != 200)
        if bad:
            problems.append(f"accepted records not found by id (status: count): {dict(bad)}")
            missing = sum(bad.values())
        return missing
