"""The deployment under fault: its own PostgreSQL cluster, its own Kafka broker(s) and the
services as OS processes, each of which the suite may kill and start again.

The suite owns everything it breaks: PostgreSQL runs as a cluster of its own on its own port
(durable: `synchronous_commit=on`, so an immediate shutdown loses no acknowledged commit),
Kafka on ports of its own (`deploy/local/kafka.sh --brokers N`), so the test suite's broker
and database are never restarted under another run.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.infra import create_database, drop_database

REPO = Path(__file__).resolve().parents[2]
KAFKA_SH = REPO / "deploy" / "local" / "kafka.sh"
POSTGRES_SH = REPO / "deploy" / "local" / "postgres.sh"


def _run(cmd: list[str], env: dict[str, str], timeout: float = 300) -> str:
    done = subprocess.run(
        cmd, env=os.environ | env, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done.stdout


@dataclass
class Kafka:
    """One broker or a cluster of KRaft nodes, killed and restarted node by node."""

    brokers: int
    port: int
    data_dir: Path

    def _sh(self, *args: str, timeout: float = 300) -> str:
        env = {"KAFKA_PORT": str(self.port), "KAFKA_DATA_DIR": str(self.data_dir)}
        return _run([str(KAFKA_SH), "--brokers", str(self.brokers), *args], env, timeout)

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.port + 2 * i}" for i in range(self.brokers))

    def start(self) -> None:
        """A fresh cluster (its data is wiped)."""
        self._sh("install")
        self._sh("start")

    def stop(self) -> None:
        self._sh("stop")

    def kill_node(self, node: int) -> None:
        self._sh("kill-node", str(node))

    def start_node(self, node: int) -> None:
        self._sh("start-node", str(node))

    async def partitions(self, topic: str) -> list[TopicPartition]:
        """The topic's partitions as the cluster describes them (none if it does not exist).
        Not `consumer.partitions_for_topic`: that reads a cache of subscribed topics only."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=10000)
        try:
            await admin.start()
            (described,) = await admin.describe_topics([topic])
        finally:
            await admin.close()
        return [TopicPartition(topic, p["partition"]) for p in described["partitions"]]

    async def leader_of(self, topic: str, partition: int = 0) -> int | None:
        """The node leading a partition now (None if none does or the cluster does not say)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
        try:
            await admin.start()
            described = await admin.describe_topics([topic])
            for p in described[0]["partitions"]:
                if p["partition"] == partition and p["leader"] >= 0:
                    return int(p["leader"])
        except Exception:  # noqa: BLE001 - no answer mid-fault: any node will do
            return None
        finally:
            await admin.close()
        return None


@dataclass
class Postgres:
    """A durable PostgreSQL cluster of the suite's own (Debian's packages)."""

    port: int

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres:postgres@127.0.0.1:{self.port}/postgres"

    def _sh(self, *args: str) -> str:
        return _run([str(POSTGRES_SH), *args], {"PG_PORT": str(self.port), "PG_DURABLE": "1"})

    def start(self) -> None:
        self._sh("install")
        self._sh("start")
        self.check_durable()

    def check_durable(self) -> None:
        """Refuse a cluster that would lose acknowledged commits in an immediate restart
        (one created earlier on the same port for tests, with durability off): every loss
        the run then reported would be the cluster's, not the services'."""
        out = subprocess.run(
            ["psql", self.dsn, "-XAtc", "SELECT setting FROM pg_settings WHERE name IN "
             "('fsync', 'synchronous_commit', 'full_page_writes') ORDER BY name"],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        if out != ["on", "on", "on"]:
            raise RuntimeError(
                f"PostgreSQL on port {self.port} is not durable (fsync, full_page_writes, "
                f"synchronous_commit: {out}); the fault suite needs them on"
            )

    def stop(self) -> None:
        self._sh("stop")

    def restart(self, mode: str) -> None:
        """Stop `fast` (clients cut, clean) or `immediate` (crash recovery), then start."""
        self._sh("restart", mode)

    async def database(self, name: str) -> str:
        return await create_database(self.dsn, name)

    async def drop(self, name: str) -> None:
        await drop_database(self.dsn, name)


@dataclass
class ServiceProcess:
    """`python -m services.<name>` as one replica: started, killed (SIGKILL), started again.

    Its output (uvicorn's access log included) is appended to one log file across restarts,
    each start marked, so the suite can tell which 500s fell inside a fault's window."""

    name: str
    replica: int
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0
    exits: list[int] = field(default_factory=list)
    """Exit codes of deaths the suite did not cause (noticed by `reap`)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def label(self) -> str:
        return f"{self.name}-{self.replica}"

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            log.write(f"=== start {self.starts + 1} at {time.time():.3f}\n".encode())
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"services.{self.name}"],
                cwd=REPO,
                env=os.environ | self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def reap(self) -> bool:
        """True (and the exit noted) if the process died on its own since the last look."""
        if self.process is not None and self.process.poll() is not None:
            self.exits.append(self.process.returncode)
            self.process = None
            return True
        return False

    def kill(self) -> None:
        """SIGKILL: no clean-up, no offset commit, no relay stop; as a crashed node."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.kills += 1
        self.process = None

    def terminate(self, grace: float = 15.0) -> None:
        """SIGTERM and wait (a replica leaving its consumer groups cleanly)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    async def ready(self, within: float = 120.0) -> None:
        """Until `/readyz` answers 200 (migrated, connected)."""
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                try:
                    if (await client.get(f"{self.url}/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if not self.alive() and self.process is not None:
                    raise RuntimeError(f"{self.label} exited; see {self.log_path}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.label} not ready after {within:.0f}s")
                await asyncio.sleep(0.3)
