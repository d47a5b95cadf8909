"""Build the embedded default's single app."""

import asyncio
from pathlib import Path

from fastapi import FastAPI

from services.needs.bootstrap import NeedsService
from services.needs.config import NeedsSettings
from services.placement.bootstrap import PlacementService
from services.placement.config import PlacementSettings
from services.reporting.bootstrap import ReportingService
from services.reporting.config import ReportingSettings
from services.reporting.entrypoints.login import DemoAccount
from shared.http.app import RunningService, compose_app
from shared.http.auth import TokenVerifier, load_issuers
from shared.http.tokens import DEMO_SIGN_INS, DevIssuer
from shared.infra.audit import AuditLog
from shared.infra.transport import InProcessBus

RELAY_LINGER = 0.05
"""Seconds an outbox relay waits after a commit before delivering: the commands of that moment
reach the placement and reporting projections (on this same event loop) as one batch, one
transaction each, instead of one transaction per command (docs/performance.md, "Commands")."""


def sqlite_url(data_dir: Path, name: str) -> str:
    """The SQLite file of one service."""
    return f"sqlite+aiosqlite:///{(data_dir / f'{name}.db').resolve()}"


def keys_dir(data_dir: Path) -> Path:
    """Where the embedded default keeps its keys: beside the data folder, not in it
    (`var` → `var-keys`), so that copying or backing up the data copies no key; the key
    vault's SQLite file lives there too. Keys of an older layout (`var/keys`) are moved."""
    keys = data_dir.with_name(f"{data_dir.name}-keys")
    old = data_dir / "keys"
    if old.is_dir() and not keys.exists():
        old.rename(keys)
    return keys


def create_embedded_app(data_dir: Path) -> FastAPI:
    """Needs, placement and reporting on one bus, each with its own SQLite file; the keys
    and the key vault in `keys_dir(data_dir)`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    bus = InProcessBus()
    keys_folder = keys_dir(data_dir)
    issuer = DevIssuer(keys_folder).ensure()
    keys = issuer.secrets()
    programme = keys["programme_key"]
    needs = NeedsService(
        NeedsSettings(database_url=sqlite_url(data_dir, "needs"), programme_key=programme), bus
    )
    placement = PlacementService(
        PlacementSettings(
            database_url=sqlite_url(data_dir, "placement"),
            programme_key=programme,
            master_key=keys["master_key"],
            vault_url=sqlite_url(keys_folder, "vault"),
        ),
        bus,
    )
    reporting = ReportingService(
        ReportingSettings(database_url=sqlite_url(data_dir, "reporting"), programme_key=programme),
        bus,
    )
    bus.register_source(needs.topic, needs.runtime.relay.pending)
    services: list[RunningService] = [needs, placement, reporting]
    verifier = TokenVerifier(load_issuers(issuer.issuers_file))
    audit = AuditLog(sqlite_url(data_dir, "audit"))
    app = compose_app("Biệt phái cán bộ — embedded", services, bus, verifier, audit)
    app.state.dev_issuer = issuer
    passwords = issuer.demo_passwords()
    app.state.demo_accounts = [
        DemoAccount(user, passwords[user], label, agency, scopes)
        for user, (label, agency, scopes) in DEMO_SIGN_INS.items()
    ]
    app.state.relays = [needs.runtime.relay, placement.runtime.relay]
    for relay in app.state.relays:
        relay.linger = RELAY_LINGER
    return app


async def settled(app: FastAPI) -> None:
    """Wait until every outbox is delivered (tests and the demo loader use it).

    Two quiet passes in a row: a delivery finishing between two reads of one pass may
    have queued an event in an outbox that pass had already read.
    """
    quiet = 0
    while quiet < 2:
        busy = [await relay.pending() for relay in app.state.relays]
        quiet = 0 if any(busy) else quiet + 1
        await asyncio.sleep(0.005)
