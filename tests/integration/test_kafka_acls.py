"""Kafka security on the real broker: SASL/SCRAM identities and ACLs that deny by default.

The broker is `secure_kafka` (`KAFKA_SECURE=1 deploy/local/kafka.sh start`: SCRAM-SHA-512,
StandardAuthorizer, `allow.everyone.if.no.acl.found=false`). Everything granted here is
granted by `deploy/kafka/acls.sh`, the way deploy/README.md tells operators to: the services'
ACLs, then for each agency its SCRAM user, its ACLs and its two topics. Agency A is
`agency-SO_Y_TE`, agency B `agency-NAM_GIANG`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import uuid
from dataclasses import dataclass

import pytest
from aiokafka import (  # type: ignore[import-untyped, unused-ignore]
    AIOKafkaConsumer,
    AIOKafkaProducer,
    TopicPartition,
)
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped, unused-ignore]
from aiokafka.admin.config_resource import (  # type: ignore[import-untyped, unused-ignore]
    ConfigResource,
    ConfigResourceType,
)
from aiokafka.errors import (  # type: ignore[import-untyped, unused-ignore]
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)

from shared.contract.envelope import CloudEvent
from shared.contract.topics import NEEDS_TOPIC, PLACEMENTS_TOPIC
from shared.infra.kafka import KafkaTransport
from shared.infra.kafka_auth import NO_AUTH, KafkaAuth
from shared.infra.kafka_producer import KafkaPublisher
from shared.infra.kafka_topics import ensure_topics
from shared.infra.outbox import OutgoingMessage
from tests.infra import SecureKafka

pytestmark = pytest.mark.integration

A, B = "SO_Y_TE", "NAM_GIANG"
SUBSCRIBER = "subscriber-stats-office"


def commands(code: str) -> str:
    return f"secondment.commands.v1.{code}"


def replies(code: str) -> str:
    return f"secondment.replies.v1.{code}"


@dataclass(frozen=True)
class Cluster:
    """The secure broker after the operators' steps, and everyone's credentials."""

    bootstrap: str
    passwords: dict[str, str]

    def auth(self, user: str) -> KafkaAuth:
        return KafkaAuth("SASL_PLAINTEXT", "SCRAM-SHA-512", user, self.passwords[user])


@pytest.fixture(scope="module")
async def cluster(secure_kafka: SecureKafka) -> Cluster:
    """What an operator does (deploy/README.md), then the topics the services create."""
    passwords = dict(secure_kafka.passwords)

    def onboard(code: str) -> None:  # deploy/README.md, "Adding an agency"
        user = f"agency-{code}"
        secure_kafka.acls("user", user, env={"KAFKA_USER_PASSWORD": passwords[user]})
        secure_kafka.acls("agency", code)

    def subscribe() -> None:  # deploy/README.md, "Adding an event subscriber"
        env = {"KAFKA_USER_PASSWORD": passwords[SUBSCRIBER]}
        secure_kafka.acls("user", SUBSCRIBER, env=env)
        secure_kafka.acls("subscriber", SUBSCRIBER)

    for user in (*(f"agency-{code}" for code in (A, B)), SUBSCRIBER):
        passwords[user] = secrets.token_urlsafe(18)
    # Independent steps, run side by side (each one runs the Kafka tools' JVMs).
    await asyncio.gather(
        asyncio.to_thread(secure_kafka.acls, "services"),
        *(asyncio.to_thread(onboard, code) for code in (A, B)),
        asyncio.to_thread(subscribe),
    )
    c = Cluster(secure_kafka.bootstrap, passwords)
    # Each service creates what it declares at start, as itself (ensure_topics, as in start()).
    needs_topics = [NEEDS_TOPIC, PLACEMENTS_TOPIC, f"{PLACEMENTS_TOPIC}.dlq"]
    await ensure_topics(c.bootstrap, needs_topics, auth=c.auth("needs"))
    placement_topics = [PLACEMENTS_TOPIC, NEEDS_TOPIC, f"{NEEDS_TOPIC}.dlq"]
    await ensure_topics(c.bootstrap, placement_topics, auth=c.auth("placement"))
    return c


# --------------------------------------------------------------------------- helpers


async def produce(bootstrap: str, auth: KafkaAuth, topic: str, value: bytes) -> None:
    """One message, acknowledged by all replicas, as the principal `auth` names."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=10000,
        **auth.client_options(),
    )
    try:
        await producer.start()
        await producer.send_and_wait(topic, value, key=b"k")
    finally:
        await producer.stop()


async def read_until(
    bootstrap: str, auth: KafkaAuth, topic: str, group: str, wanted: bytes
) -> list[bytes]:
    """What `topic` holds from its beginning until `wanted`, read in consumer group `group`."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **auth.client_options(),
    )
    values: list[bytes] = []
    try:
        await consumer.start()
        async with asyncio.timeout(20):
            while wanted not in values:
                batch = await consumer.getmany(timeout_ms=500)
                values += [r.value for records in batch.values() for r in records]
    finally:
        await consumer.stop()
    return values


def unique(group: str) -> str:
    """A consumer group of its own under the prefix a principal may use."""
    return f"{group}-{uuid.uuid4().hex[:8]}"


# --------------------------------------------------------------------------- what is allowed


async def test_an_agency_sends_commands_and_reads_replies_on_its_own_topics(
    cluster: Cluster,
) -> None:
    command, reply = f"command {uuid.uuid4()}".encode(), f"reply {uuid.uuid4()}".encode()
    await produce(cluster.bootstrap, cluster.auth(f"agency-{A}"), commands(A), command)
    # The services read every agency's commands (PREFIXED) in groups of their own...
    for service in ("needs", "placement"):
        auth = cluster.auth(service)
        await read_until(cluster.bootstrap, auth, commands(A), unique(service), command)
    # ...and answer on the agency's replies topic (PREFIXED), which the agency reads.
    await produce(cluster.bootstrap, cluster.auth("needs"), replies(A), reply)
    agency = cluster.auth(f"agency-{A}")
    await read_until(cluster.bootstrap, agency, replies(A), unique(f"agency-{A}"), reply)


async def test_the_services_park_unreadable_commands_in_the_agencys_command_dlq(
    cluster: Cluster,
) -> None:
    dlq = f"{commands(A)}.dlq"
    for service in ("needs", "placement"):
        parked = f"unreadable command {uuid.uuid4()} via {service}".encode()
        await produce(cluster.bootstrap, cluster.auth(service), dlq, parked)
        admin = cluster.auth("admin")
        await read_until(cluster.bootstrap, admin, dlq, unique("admin"), parked)
    # The agency neither writes nor reads its parked commands.
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(cluster.bootstrap, cluster.auth(f"agency-{A}"), dlq, b"forged")


async def test_the_needs_service_produces_to_its_own_topic_and_no_other(cluster: Cluster) -> None:
    publisher = KafkaPublisher(cluster.bootstrap, "needs", cluster.auth("needs"))
    try:
        await publisher.publish([OutgoingMessage(NEEDS_TOPIC, "need-1", b"{}")])
        with pytest.raises(TopicAuthorizationFailedError):
            await publisher.publish([OutgoingMessage(PLACEMENTS_TOPIC, "sec-1", b"{}")])
    finally:
        await publisher.close()


async def test_a_service_consumes_and_dead_letters_through_faststream(cluster: Cluster) -> None:
    """The services' own transport (FastStream subscriber, its producer for the DLQ) works
    under the reporting service's ACLs: its group, its topics, the `.dlq` it may write."""
    event = CloudEvent(
        id=uuid.uuid4(),
        source="/services/needs",
        type="NeedRaised",
        subject="need-acl",
        time=dt.datetime.now(dt.UTC),
        data={},
        aggregateversion=1,
        correlationid="c",
        causationid="c",
        actor="needs",
    )
    poison = f"not an event {uuid.uuid4()}".encode()
    await produce(cluster.bootstrap, cluster.auth("needs"), NEEDS_TOPIC, event.to_json())
    await produce(cluster.bootstrap, cluster.auth("needs"), NEEDS_TOPIC, poison)

    arrived = asyncio.Event()

    async def handler(envelope: CloudEvent) -> None:
        if envelope.id == event.id:
            arrived.set()

    transport = KafkaTransport(cluster.bootstrap, "reporting", auth=cluster.auth("reporting"))
    transport.subscribe(NEEDS_TOPIC, unique("reporting"), handler)
    await transport.start()
    try:
        await asyncio.wait_for(arrived.wait(), 30)
        # The poison event goes to the dead-letter topic (read by the super user: no one else
        # may read it).
        admin = cluster.auth("admin")
        await read_until(cluster.bootstrap, admin, f"{NEEDS_TOPIC}.dlq", unique("admin"), poison)
    finally:
        await transport.stop()


# --------------------------------------------------------------------------- what is refused


async def test_an_agency_cannot_read_another_agencys_replies(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    secret = f"reply for {B} {uuid.uuid4()}".encode()
    await produce(cluster.bootstrap, cluster.auth("placement"), replies(B), secret)
    agency_a = cluster.auth(f"agency-{A}")
    # In its own group: the topic is refused.
    with pytest.raises(TopicAuthorizationFailedError):
        await read_until(cluster.bootstrap, agency_a, replies(B), unique(f"agency-{A}"), secret)
    # In B's group, even on A's own topic: the group is refused.
    with pytest.raises(GroupAuthorizationFailedError):
        await read_until(cluster.bootstrap, agency_a, replies(A), unique(f"agency-{B}"), secret)
    # Without a group, partitions assigned by hand: the broker gives it nothing.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=cluster.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **agency_a.client_options(),
    )
    try:
        with caplog.at_level(logging.ERROR, logger="aiokafka"):
            await consumer.start()
            consumer.assign([TopicPartition(replies(B), p) for p in range(3)])
            batch = await consumer.getmany(timeout_ms=2000)
    finally:
        await consumer.stop()
    assert not any(records for records in batch.values())
    assert f"Topic {replies(B)} is not authorized" in caplog.text
    # B itself reads it: the reply was there to be stolen.
    agency_b = cluster.auth(f"agency-{B}")
    await read_until(cluster.bootstrap, agency_b, replies(B), unique(f"agency-{B}"), secret)


@pytest.mark.parametrize(
    "topic", [commands(B), NEEDS_TOPIC, PLACEMENTS_TOPIC, f"{NEEDS_TOPIC}.dlq", replies(A)]
)
async def test_an_agency_cannot_write_another_agencys_commands_nor_the_event_topics(
    cluster: Cluster, topic: str
) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(cluster.bootstrap, cluster.auth(f"agency-{A}"), topic, b"forged")


@pytest.mark.parametrize("topic", [NEEDS_TOPIC, PLACEMENTS_TOPIC, commands(B)])
async def test_an_agency_cannot_read_the_event_topics_nor_another_agencys_commands(
    cluster: Cluster, topic: str
) -> None:
    """The domain events carry officials' personal data: no agency reads them from Kafka."""
    agency_a = cluster.auth(f"agency-{A}")
    with pytest.raises(TopicAuthorizationFailedError):
        await read_until(cluster.bootstrap, agency_a, topic, unique(f"agency-{A}"), b"anything")


async def test_an_approved_subscriber_reads_the_events_and_nothing_else(cluster: Cluster) -> None:
    event = f"event {uuid.uuid4()}".encode()
    await produce(cluster.bootstrap, cluster.auth("needs"), NEEDS_TOPIC, event)
    subscriber = cluster.auth(SUBSCRIBER)
    await read_until(cluster.bootstrap, subscriber, NEEDS_TOPIC, unique(SUBSCRIBER), event)
    # No write anywhere: refused before any topic (the idempotent producer needs a write grant).
    with pytest.raises((TopicAuthorizationFailedError, ClusterAuthorizationFailedError)):
        await produce(cluster.bootstrap, subscriber, NEEDS_TOPIC, b"forged")
    with pytest.raises(TopicAuthorizationFailedError):
        await read_until(cluster.bootstrap, subscriber, replies(A), unique(SUBSCRIBER), b"x")
    with pytest.raises(GroupAuthorizationFailedError):
        await read_until(cluster.bootstrap, subscriber, PLACEMENTS_TOPIC, unique("reporting"), b"x")


@pytest.mark.parametrize(
    ("user", "password"),
    [
        ("nobody", "whatever"),  # unknown user
        (f"agency-{A}", "wrong-password"),
        ("needs", "placement-secret"),  # another principal's password
        ("", ""),  # no authentication at all (a PLAINTEXT client)
    ],
)
async def test_an_unknown_user_or_a_wrong_password_cannot_connect(
    cluster: Cluster, caplog: pytest.LogCaptureFixture, user: str, password: str
) -> None:
    auth = KafkaAuth("SASL_PLAINTEXT", "SCRAM-SHA-512", user, password) if user else NO_AUTH
    with caplog.at_level(logging.ERROR, logger="aiokafka"), pytest.raises(KafkaConnectionError):
        await produce(cluster.bootstrap, auth, commands(A), b"from an impostor")
    if user:
        assert "SaslAuthenticationFailed" in caplog.text


async def test_an_agencys_topics_keep_commands_days_not_for_ever(cluster: Cluster) -> None:
    """Commands name officials: `acls.sh agency` keeps its topics 7 days (COMMAND_RETENTION_MS)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=cluster.bootstrap, **cluster.auth("admin").client_options()
    )
    await admin.start()
    try:
        topics = [commands(A), replies(A), f"{commands(A)}.dlq"]
        described = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, t) for t in topics]
        )
    finally:
        await admin.close()
    retention = {
        r["resource_name"]: {c["config_names"]: c["config_value"] for c in r["config_entries"]}[
            "retention.ms"
        ]
        for response in described
        for r in response.to_object()["resources"]
    }
    assert retention == dict.fromkeys(topics, "604800000")
