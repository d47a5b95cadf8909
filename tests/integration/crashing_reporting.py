"""A reporting process that dies (`os._exit`, no clean-up) right after its first database
commit and before acknowledging the event to Kafka: the window a crash can hit.

Run by tests as `python -m tests.integration.crashing_reporting`, configured by the same
`REPORTING_*` environment variables as the real service.
"""

import asyncio
import os

from services.reporting.bootstrap import ReportingService
from services.reporting.config import ReportingSettings
from services.reporting.service_layer import projections
from services.reporting.service_layer.ports import ReportingUnitOfWork
from shared.contract.envelope import CloudEvent
from shared.infra.kafka import KafkaTransport

CRASH_EXIT_CODE = 86
real_project = projections.project


async def project_then_die(envelope: CloudEvent, uow: ReportingUnitOfWork) -> bool:
    """The real projection, committed; then the process dies before the offset commit."""
    changed = await real_project(envelope, uow)
    if changed:
        os._exit(CRASH_EXIT_CODE)
    return changed


async def main() -> None:
    projections.project = project_then_die
    settings = ReportingSettings()
    transport = KafkaTransport(settings.kafka_bootstrap, client_id="reporting-crashing")
    service = ReportingService(settings, transport)
    await service.migrate()
    await transport.start()
    await asyncio.sleep(60)  # the crash ends the process long before


if __name__ == "__main__":
    asyncio.run(main())
