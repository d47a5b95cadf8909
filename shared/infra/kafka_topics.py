"""Kafka topics: created on a service's start when missing (partitions, replication and
retention as the deployment's policy says), tried again while a broker of the cluster is down.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from shared.infra.kafka_auth import NO_AUTH, KafkaAuth, TopicPolicy
from shared.infra.metrics import forget_lag

log = logging.getLogger(__name__)

DEFAULT_TOPICS = TopicPolicy()


async def ensure_topics(
    bootstrap: str,
    topics: Sequence[str],
    partitions: int = 3,
    auth: KafkaAuth = NO_AUTH,
    policy: TopicPolicy = DEFAULT_TOPICS,
    within: float = 60.0,
    retention_ms: int = -1,
) -> None:
    """Create the topics if missing: several partitions, no compaction, replicated as
    `policy` says (the brokers' defaults where it says nothing), kept for `retention_ms`
    (unlimited by default: the event topics are the history).

    Raises the broker's error (e.g. `TopicAuthorizationFailedError` when ACLs do not let this
    principal create a missing topic) instead of starting consumers on a topic that is not there.
    A retriable one (a broker of the cluster down or restarting, the controller moving) is
    tried again for up to `within` seconds: a service must start while one broker is down.
    """
    deadline = time.monotonic() + within
    delay = 0.5
    while True:
        try:
            await _ensure_topics_once(bootstrap, topics, partitions, auth, policy, retention_ms)
            return
        except KafkaError as exc:
            if not exc.retriable or time.monotonic() + delay > deadline:
                raise
            log.warning("creating topics: %s; trying again in %.1fs", type(exc).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def _ensure_topics_once(
    bootstrap: str,
    topics: Sequence[str],
    partitions: int,
    auth: KafkaAuth,
    policy: TopicPolicy,
    retention_ms: int,
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **auth.client_options())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        configs = {"retention.ms": str(retention_ms), "cleanup.policy": "delete"}
        if policy.min_insync_replicas is not None:
            configs["min.insync.replicas"] = str(policy.min_insync_replicas)
        missing = [
            NewTopic(
                name=t,
                num_partitions=partitions,
                # -1: the broker's `default.replication.factor` (CreateTopics v4+, KIP-464);
                # aiokafka accepts -1 only beside an (empty) replica assignment.
                replication_factor=policy.replication_factor or -1,
                replica_assignments=None if policy.replication_factor else {},
                topic_configs=configs,
            )
            for t in topics
            if t not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                response = await admin.create_topics(missing)
                for error in response.to_object()["topic_errors"]:
                    code = error["error_code"]
                    if code not in (0, TopicAlreadyExistsError.errno):
                        raise for_code(code)(f"creating topic {error['topic']}")
    finally:
        await admin.close()


def bootstrap_hosts(bootstrap: str) -> list[str]:
    """`host:port,host:port` as a list of addresses."""
    return [h.strip() for h in bootstrap.split(",") if h.strip()]


class TopicUnknown(RuntimeError):
    """The cluster's metadata has no partition of the topic (not created, or not yet in
    every broker's metadata): a caller must not read that as "nothing in it"."""


async def topic_partitions(admin: AIOKafkaAdminClient, topic: str) -> list[TopicPartition]:
    """The topic's partitions, in order, as the cluster's metadata has them: the admin's
    answer, not a consumer's `partitions_for_topic`, which reads the consumer's own metadata
    cache (only subscribed topics there). TopicUnknown when there are none."""
    (described,) = await admin.describe_topics([topic])
    if described["error_code"] != 0 or not described["partitions"]:
        raise TopicUnknown(f"no topic {topic} (error {described['error_code']})")
    return [
        TopicPartition(topic, p) for p in sorted(p["partition"] for p in described["partitions"])
    ]


class ForgetLagOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Drops the lag gauge of partitions taken from this member: their lag is their next
    owner's to report, and a gauge left behind would show the lag it had when it moved, for
    as long as the process lives (a lag alert that never clears)."""

    def __init__(self, group: str) -> None:
        self._group = group

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        for tp in revoked:
            forget_lag(self._group, tp.topic, tp.partition)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        return None
