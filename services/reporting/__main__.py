"""`python -m services.reporting`: projections and dashboard on Kafka and PostgreSQL.

`python -m services.reporting rebuild` replays both topics from offset 0 into fresh read-model
tables and swaps them in while the service keeps running; `… rebuild --event-stores var`
does the same for the embedded default from the services' SQLite event stores.
"""

import argparse
import asyncio
import sys
from pathlib import Path

from fastapi import FastAPI

from services.reporting.bootstrap import ReportingService
from services.reporting.config import ReportingSettings
from shared.http.app import compose_app
from shared.http.main import run_service
from shared.infra.deployment import plaintext_kafka
from shared.infra.kafka_batches import BatchingKafkaTransport


def create_app(settings: ReportingSettings | None = None) -> FastAPI:
    """The reporting service's app (uvicorn factory): projections consume in batches."""
    s = settings or ReportingSettings()
    transport = BatchingKafkaTransport(
        s.kafka_bootstrap, client_id="reporting", auth=s.kafka_auth(), topics=s.kafka_topic_policy()
    )
    return compose_app(
        "reporting",
        [ReportingService(s, transport)],
        transport,
        verifier=s.verifier(),
        audit=s.audit_log(),
        max_body_bytes=s.max_body_bytes,
    )


async def run_rebuild(settings: ReportingSettings, event_stores: Path | None) -> int:
    """The rebuild command; prints a progress bar and the final count."""
    from services.reporting.adapters.rebuild import (
        EventStoreSource,
        KafkaSource,
        SqlFreshReadModels,
    )
    from services.reporting.bootstrap import MIGRATIONS
    from services.reporting.service_layer.ports import EventSource
    from services.reporting.service_layer.rebuild import ProgressBar, rebuild
    from shared.contract.topics import NEEDS_TOPIC, PLACEMENTS_TOPIC, topic_name
    from shared.infra.db import make_engine
    from shared.infra.migrations import upgrade_to_head

    source: EventSource
    url = settings.database_url
    if event_stores is not None:

        def sqlite(name: str) -> str:
            return f"sqlite+aiosqlite:///{(event_stores / f'{name}.db').resolve()}"

        url = sqlite("reporting")
        source = EventStoreSource([sqlite("needs"), sqlite("placement")])
    else:
        topics = [topic_name(t, settings.topic_prefix) for t in (NEEDS_TOPIC, PLACEMENTS_TOPIC)]
        source = KafkaSource(settings.kafka_bootstrap, topics, auth=settings.kafka_auth())
    engine = make_engine(url)
    try:
        await upgrade_to_head(engine, MIGRATIONS)
        report = await rebuild(SqlFreshReadModels(engine), source, progress=ProgressBar)
    finally:
        await source.close()
        await engine.dispose()
    print(
        f"Rebuilt the read models from {report.events:,} events in {report.seconds:.1f} s "
        f"({report.final_events:,} in the final catch-up); new tables swapped in.",
        file=sys.stderr,
    )
    return report.events


def main(argv: list[str] | None = None) -> None:
    """Serve (default) or rebuild."""
    parser = argparse.ArgumentParser(prog="python -m services.reporting", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="projections, API and dashboard (default)")
    sub.add_parser("migrate", help="bring the reporting database to its newest revision, exit")
    rebuilding = sub.add_parser("rebuild", help="replay every event into fresh tables, swap")
    rebuilding.add_argument(
        "--event-stores",
        type=Path,
        default=None,
        help="embedded default: the data directory holding needs.db, placement.db, reporting.db",
    )
    args = parser.parse_args(argv)
    settings = ReportingSettings()
    if args.command == "rebuild":
        plaintext = plaintext_kafka(settings) if args.event_stores is None else None
        if plaintext is not None:  # it reads both event topics whole: the service's rule
            raise SystemExit(f"reporting rebuild: not starting: {plaintext} (deploy/README.md)")
        asyncio.run(run_rebuild(settings, args.event_stores))
    else:
        command = ["migrate"] if args.command == "migrate" else ["serve"]
        run_service("reporting", settings, ("programme_key",), create_app, command)


if __name__ == "__main__":
    main()
