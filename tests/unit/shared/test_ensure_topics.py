"""A service starts while a broker of its cluster is down: creating its topics tries again on
a retriable error instead of exiting (found by the fault suite: a replica started during a
broker kill asked the dead node for metadata, got NodeNotReadyError and exited), and still
fails at once on an error that waiting does not cure."""

from typing import Any, ClassVar

import pytest
from aiokafka.errors import NodeNotReadyError, TopicAuthorizationFailedError

from shared.infra import kafka_topics


class FlakyAdmin:
    """An admin client whose `list_topics` fails as scripted, then answers."""

    failures: ClassVar[list[Exception]] = []
    created: ClassVar[list[str]] = []

    def __init__(self, **_: Any) -> None:
        pass

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def list_topics(self) -> list[str]:
        if FlakyAdmin.failures:
            raise FlakyAdmin.failures.pop(0)
        return ["present"]

    async def create_topics(self, topics: list[Any]) -> Any:
        FlakyAdmin.created.extend(t.name for t in topics)

        class Response:
            def to_object(self) -> dict[str, Any]:
                return {"topic_errors": [{"topic": t.name, "error_code": 0} for t in topics]}

        return Response()


@pytest.fixture(autouse=True)
def flaky_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka_topics, "AIOKafkaAdminClient", FlakyAdmin)
    FlakyAdmin.created = []


async def test_a_broker_down_for_a_while_delays_the_start_but_does_not_end_it() -> None:
    FlakyAdmin.failures = [NodeNotReadyError("node 1"), NodeNotReadyError("node 1")]
    await kafka_topics.ensure_topics("k1:9092,k2:9092", ["present", "missing"], within=10)
    assert FlakyAdmin.created == ["missing"]


async def test_a_broker_down_for_longer_than_allowed_fails_the_start() -> None:
    FlakyAdmin.failures = [NodeNotReadyError("node 1")] * 10
    with pytest.raises(NodeNotReadyError):
        await kafka_topics.ensure_topics("k1:9092", ["missing"], within=1)


async def test_an_error_waiting_cannot_cure_fails_at_once() -> None:
    FlakyAdmin.failures = [TopicAuthorizationFailedError("no ACL")]
    with pytest.raises(TopicAuthorizationFailedError):
        await kafka_topics.ensure_topics("k1:9092", ["missing"], within=30)
    assert FlakyAdmin.created == []
