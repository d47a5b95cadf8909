"""Settings of the reporting service, from `REPORTING_*` environment variables."""

import os
from typing import Any

from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from shared.http.settings import BaseServiceSettings
from shared.phases import DEFAULT_PHASES, Phase


class ReportingSettings(BaseServiceSettings):
    """Configuration by environment; defaults suit the embedded default."""

    model_config = SettingsConfigDict(env_prefix="REPORTING_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/reporting.db"
    consumer_group: str = "reporting"
    http_port: int = 8003

    @property
    def phases(self) -> tuple[Phase, ...]:
        """The plan's phases: the reference data's, as every service reads them."""
        return DEFAULT_PHASES

    @model_validator(mode="before")
    @classmethod
    def _no_phases_of_its_own(cls, values: Any) -> Any:
        """`REPORTING_PHASES` let the evaluations count other phases than the caps the needs
        and placement services enforced; the phases now live in the reference data alone."""
        if (isinstance(values, dict) and "phases" in values) or "REPORTING_PHASES" in os.environ:
            raise ValueError(
                "REPORTING_PHASES is no longer read: the phases live in the reference data "
                "(shared/reference/data/phases.json), shared by every service"
            )
        return values

    login_max_failures: int = 5
    """Failed dashboard sign-ins allowed per user name and per client address within
    `login_window_seconds`; beyond, 429 until the oldest leaves the window. 0: no limit."""
    login_window_seconds: float = 15 * 60
    """The sliding window of `login_max_failures` (counted in memory, per replica)."""
    small_cell_threshold: int = 5
    """Ethnicity breakdowns withhold counts from 1 to this − 1 (0 or 1: withhold nothing)."""
    batch_max_records: int = 5000
    """Most events projected in one transaction when consuming Kafka in batches."""
    memory_refresh_seconds: float = 1.0
    """How often the in-memory read models catch up with the change log in the background
    (evaluations catch up themselves anyway; this keeps their wait short). 0: never."""
    memory_reload_seconds: float = 3600.0
    """How often the in-memory read models are read again whole, aside, as a safety net for
    writes that bypassed the change log. 0: never."""
