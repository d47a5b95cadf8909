"""Every Prometheus metric of the platform, defined once (docs/operations.md, "Metrics").

Module-level objects in prometheus_client's default registry: a process registers them once
however many apps it builds (tests build dozens), and the embedded default, which runs the
three services in one process, tells them apart by the `service` label. Labels are codes and
templates only — service, channel, command type, outcome, rule code, route template, method,
status, consumer group, topic, partition — never an id, a name or any value a caller sent.

Counters are bumped where the thing happens (the HTTP middleware, the Kafka command processor,
the consumers, the reporting projection); the outbox backlog and readiness are read when
`/metrics` is scraped (`observe_outbox`, `observe_ready`), never on a command's path.
"""

import contextlib
import datetime as dt

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

COMMANDS = Counter(
    "secondment_commands",
    "Commands handled, by service, channel (http, kafka), command type and outcome "
    "(accepted, refused, replayed, error); `rule` is the refusal's rule code.",
    ["service", "channel", "command", "outcome", "rule"],
)
COMMAND_SECONDS = Histogram(
    "secondment_command_duration_seconds",
    "Time to handle a command, from its arrival to its answer.",
    ["service", "channel", "command", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
HTTP_REQUESTS = Counter(
    "secondment_http_requests",
    "HTTP requests by service, method, route template and status.",
    ["service", "method", "route", "status"],
)
IDEMPOTENCY_HITS = Counter(
    "secondment_idempotency_hits",
    "Commands answered from memory (an Idempotency-Key or a Kafka command id seen before).",
    ["service", "channel"],
)
CONSUMER_LAG = Gauge(
    "secondment_consumer_lag",
    "Events of a topic-partition not yet processed by a consumer group (the partition's "
    "high watermark minus the group's position; the in-process bus: the batch in delivery).",
    ["group", "topic", "partition"],
)
EVENTS_PROJECTED = Counter(
    "secondment_events_projected",
    "Events applied to the read models (rate() of it: events projected per second).",
    ["service"],
)
DEAD_LETTERS = Counter(
    "secondment_dead_letters",
    "Records this process put in a dead-letter topic (`<topic>.dlq`), by group and topic.",
    ["group", "topic"],
)
OUTBOX_BACKLOG = Gauge(
    "secondment_outbox_backlog_rows",
    "Outbox rows not yet published (read when /metrics is scraped).",
    ["service"],
)
OUTBOX_OLDEST_AGE = Gauge(
    "secondment_outbox_oldest_age_seconds",
    "Age of the oldest unpublished outbox row, 0 when none (read when /metrics is scraped).",
    ["service"],
)
AUDIT_BACKLOG = Gauge(
    "secondment_audit_outbox_backlog_rows",
    "Commands' audit entries not yet forwarded to the audit store (read when scraped).",
    ["service"],
)
AUDIT_OLDEST_AGE = Gauge(
    "secondment_audit_outbox_oldest_age_seconds",
    "Age of the oldest audit entry not yet in the audit store, 0 when none (read when scraped).",
    ["service"],
)
READY = Gauge(
    "secondment_ready",
    "1 when every dependency answers (as /readyz), 0 otherwise (checked when scraped).",
    ["service"],
)

METRIC_NAMES = frozenset(
    {
        "secondment_commands_total",
        "secondment_command_duration_seconds_bucket",
        "secondment_command_duration_seconds_count",
        "secondment_command_duration_seconds_sum",
        "secondment_http_requests_total",
        "secondment_idempotency_hits_total",
        "secondment_consumer_lag",
        "secondment_events_projected_total",
        "secondment_dead_letters_total",
        "secondment_outbox_backlog_rows",
        "secondment_outbox_oldest_age_seconds",
        "secondment_audit_outbox_backlog_rows",
        "secondment_audit_outbox_oldest_age_seconds",
        "secondment_ready",
    }
)
"""The series names as scraped (counters gain `_total`), for docs and tests."""

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
"""The text format every Prometheus version reads (what `exposition` writes)."""


def exposition() -> bytes:
    """The default registry in Prometheus' text format."""
    return generate_latest(REGISTRY)


def observe_command(
    service: str, channel: str, command: str, outcome: str, rule: str | None, seconds: float
) -> None:
    """One command handled: counted, timed, and a replay counted as an idempotency hit."""
    COMMANDS.labels(service, channel, command, outcome, rule or "").inc()
    COMMAND_SECONDS.labels(service, channel, command, outcome).observe(seconds)
    if outcome == "replayed":
        IDEMPOTENCY_HITS.labels(service, channel).inc()


def observe_lag(group: str, topic: str, partition: int, lag: int) -> None:
    """A consumer group's lag on one partition (never below 0)."""
    CONSUMER_LAG.labels(group, topic, str(partition)).set(max(lag, 0))


def forget_lag(group: str, topic: str, partition: int) -> None:
    """A partition no longer assigned to this process: its lag is another member's."""
    with contextlib.suppress(KeyError):
        CONSUMER_LAG.remove(group, topic, str(partition))


def dead_lettered(group: str, topic: str) -> None:
    """One record parked in `<topic>.dlq`."""
    DEAD_LETTERS.labels(group, topic).inc()


def observe_outbox(
    service: str,
    rows: int,
    oldest: dt.datetime | None,
    now: dt.datetime | None = None,
    *,
    audit: bool = False,
) -> None:
    """An outbox's backlog as just read: its row count and when its oldest row was written
    (`audit`: the audit entries' outbox, `shared.infra.audit_outbox`)."""
    (AUDIT_BACKLOG if audit else OUTBOX_BACKLOG).labels(service).set(rows)
    aged = (AUDIT_OLDEST_AGE if audit else OUTBOX_OLDEST_AGE).labels(service)
    if oldest is None:
        aged.set(0)
        return
    if oldest.tzinfo is None:  # SQLite gives back naive UTC
        oldest = oldest.replace(tzinfo=dt.UTC)
    age = ((now or dt.datetime.now(dt.UTC)) - oldest).total_seconds()
    aged.set(max(age, 0.0))


def observe_ready(service: str, ready: bool) -> None:
    """The outcome of the readiness checks."""
    READY.labels(service).set(1 if ready else 0)
