"""A consumer waiting out a long outage keeps waiting 30 s between attempts, for ever."""

from shared.infra.kafka_retry import backoff


def test_the_backoff_doubles_up_to_thirty_seconds_and_stays_there() -> None:
    assert [backoff(a) for a in (1, 2, 3)] == [0.4, 0.8, 1.6]
    assert backoff(8) == 30.0
    # ~8.5 hours of attempts in a row: a float power of 2 would have overflowed by now.
    assert backoff(1_100) == 30.0
    assert backoff(10**9) == 30.0
