"""Commands over Kafka survive a crash of the service taking them: the needs service, a real
process, is killed (SIGKILL) while an agency's RaiseNeed commands stream in, then started
again. Every command is applied exactly once and answered; a command handled before the kill
but not yet committed (offsets are committed per fetch) comes again and is answered from the
command log with the need it created, never a second need (two runs on 4 Dec: 336 replies for
the 300 commands, 36 of them such answers again). One command in ten is refused: its
rejection commits with the run of commands a fetch takes together
(`CommandProcessor.handle_many`), and a redelivered run is cut where the command log already
has an answer (two runs since: 2,048 and 2,062 replies for 2,000 commands, 17 s each)."""

import asyncio
import uuid
from collections import defaultdict
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.contract.commands import CommandReply, commands_topic, replies_topic
from shared.contract.crypto import b64, new_key
from shared.http.tokens import DevIssuer
from shared.infra.kafka_topics import ensure_topics
from tests.bench.commands.__main__ import free_port
from tests.faults.cluster import ServiceProcess
from tests.infra import create_database, drop_database, unique_name
from tests.samples import agency_command, need_body

pytestmark = pytest.mark.integration

AGENCY = "SO_Y_TE"
COMMANDS = 2000
KILL_AFTER = 60
REFUSED_EVERY = 10
"""Replies seen before the kill: the process is mid-stream, a fetch partly handled."""


async def test_a_killed_service_applies_each_kafka_command_once_and_answers_all(
    kafka_bootstrap: str, pg_dsn: str, tmp_path: Path
) -> None:
    tag = unique_name("kcrash").replace("-", "_")
    prefix = f"{tag}."
    dbs = {name: await create_database(pg_dsn, f"{tag}_{name}") for name in ("needs", "audit")}
    issuer = DevIssuer(tmp_path / "keys").ensure()
    env = {
        "DATABASE_URL": dbs["needs"],
        "KAFKA_BOOTSTRAP": kafka_bootstrap,
        "TOPIC_PREFIX": prefix,
        "HTTP_HOST": "127.0.0.1",
        "AUTH_ISSUERS_FILE": str(issuer.issuers_file),
        "AUDIT_DATABASE_URL": dbs["audit"],
        "PROGRAMME_KEY": b64(new_key()),
        "MASTER_KEY": b64(new_key()),
        "KAFKA_ALLOW_PLAINTEXT": "true",
    }
    port = free_port()
    env["HTTP_PORT"] = str(port)
    needs = ServiceProcess(
        "needs", 1, port, {f"NEEDS_{k}": v for k, v in env.items()}, tmp_path / "needs.log"
    )
    commands, replies = commands_topic(AGENCY, prefix), replies_topic(AGENCY, prefix)
    await ensure_topics(kafka_bootstrap, [commands, replies])
    reader = AIOKafkaConsumer(
        replies, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest", group_id=None
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5)
    needs.start()
    try:
        await needs.ready()
        await reader.start()
        await producer.start()
        ids = [str(uuid.uuid4()) for _ in range(COMMANDS)]
        refused = set(ids[REFUSED_EVERY - 1 :: REFUSED_EVERY])
        for command_id in ids:
            body = need_body(sector="NOPE") if command_id in refused else need_body()
            await producer.send(
                commands,
                agency_command(AGENCY, "RaiseNeed", body, command_id),
                key=command_id.encode(),
            )
        await producer.flush()

        answered: dict[str, set[str | None]] = defaultdict(set)
        killed = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 180
        while len(answered) < COMMANDS and loop.time() < deadline:
            batch = await reader.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    reply = CommandReply.model_validate_json(record.value or b"")
                    accepted, rejected = reply.accepted(), reply.rejected()
                    if reply.causationid in refused:
                        assert rejected is not None, reply.data
                        assert rejected.rule == "UNKNOWN_CODE"
                        answered[reply.causationid].add(None)
                    else:
                        assert accepted is not None, reply.data
                        answered[reply.causationid].add(accepted.record_id)
            if not killed and len(answered) >= KILL_AFTER:
                assert len(answered) < COMMANDS / 2, "killed too late to be mid-stream"
                needs.kill()
                killed = True
                needs.start()
                await needs.ready()
        assert killed
        assert set(answered) == set(ids), f"{COMMANDS - len(answered)} commands unanswered"
        # A command answered twice (handled again after the kill) names the same need.
        assert all(len(records) == 1 for records in answered.values())
        created = {next(iter(r)) for r in answered.values()} - {None}
        assert len(created) == COMMANDS - len(refused)

        connection = await asyncpg.connect(dbs["needs"].replace("+asyncpg", ""))
        try:
            raised = await connection.fetchval(
                "SELECT count(*) FROM event_store WHERE event_type = 'NeedRaised'"
            )
            streams = await connection.fetchval(
                "SELECT count(DISTINCT stream_id) FROM event_store WHERE event_type = 'NeedRaised'"
            )
        finally:
            await connection.close()
        assert (raised, streams) == (len(created), len(created))
    finally:
        await producer.stop()
        await reader.stop()
        needs.terminate(grace=15.0)
        for name in dbs:
            await drop_database(pg_dsn, f"{tag}_{name}")
