"""A dead-letter publish that fails (the broker unreachable for a moment) is tried again until
it succeeds: the batch consumer's loop must not end on it, or the partition stops for good."""

import pytest

from shared.infra.kafka import KafkaTransport


async def test_a_failed_dead_letter_publish_is_retried_until_it_goes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    transport = KafkaTransport("127.0.0.1:1", "test")  # never started: publish is replaced
    published: list[tuple[bytes, str, dict[str, str]]] = []
    failures = [ConnectionError("broker down"), TimeoutError()]

    async def publish(body: bytes, *, topic: str, headers: dict[str, str]) -> None:
        if failures:
            raise failures.pop(0)
        published.append((body, topic, headers))

    waits: list[float] = []

    async def no_wait(delay: float) -> None:
        waits.append(delay)

    monkeypatch.setattr(transport.broker, "publish", publish)
    monkeypatch.setattr("shared.infra.kafka.asyncio.sleep", no_wait)

    await transport._dead_letter("p.needs", "placement", b"poison", "invalid envelope")

    assert published == [
        (
            b"poison",
            "p.needs.dlq",
            {
                "x-dlq-reason": "invalid envelope",
                "x-dlq-group": "placement",
                "x-dlq-topic": "p.needs",
            },
        )
    ]
    assert len(waits) == 2
    assert waits[1] > waits[0]
