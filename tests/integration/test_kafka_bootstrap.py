"""A service given several bootstrap addresses (`*_KAFKA_BOOTSTRAP=k1:9092,k2:9092`, as every
cluster deployment is configured) connects through any one that answers, and creates its
topics with the brokers' replication defaults unless told otherwise."""

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from shared.infra.kafka import KafkaTransport
from shared.infra.kafka_auth import TopicPolicy
from tests.infra import unique_topic

pytestmark = pytest.mark.integration


async def test_a_service_starts_with_a_list_of_brokers_whose_first_is_down(
    kafka_bootstrap: str,
) -> None:
    # Found by the fault-injection suite: FastStream read "a,b" as one host name, so no
    # service could start on a cluster bootstrap list.
    topic = unique_topic("bootstrap")
    transport = KafkaTransport(f"127.0.0.1:1,{kafka_bootstrap}", client_id="bootstrap-test")
    transport.declare(topic)
    await transport.start()
    try:
        await transport.broker.publish(b"{}", topic=topic)
    finally:
        await transport.stop()


async def test_topics_take_the_replication_policy_they_are_given(kafka_bootstrap: str) -> None:
    topic = unique_topic("policy")
    transport = KafkaTransport(
        kafka_bootstrap, client_id="policy-test", topics=TopicPolicy(1, min_insync_replicas=1)
    )
    default = unique_topic("default")
    transport.declare(topic)
    await transport.start()
    await transport.stop()
    plain = KafkaTransport(kafka_bootstrap, client_id="policy-test")
    plain.declare(default)
    await plain.start()
    await plain.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = {t["topic"]: t for t in await admin.describe_topics([topic, default])}
    finally:
        await admin.close()
    for name in (topic, default):
        assert [len(p["replicas"]) for p in described[name]["partitions"]] == [1, 1, 1]
