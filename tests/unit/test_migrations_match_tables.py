"""The tables the code declares are the tables the migrations make: a column, an index or a
constraint declared in `tables.py` but missing from a migration (or the other way round) would
pass every test on a database built from the declarations and fail, or run slowly, on one
built by the migrations, which is every real one (`make run`, the deployed services)."""

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from services.embedded.app import create_embedded_app, keys_dir
from services.needs.adapters.tables import metadata as needs_tables
from services.placement.adapters.tables import metadata as placement_tables
from services.placement.adapters.vault import VERSION_TABLE as VAULT_VERSIONS
from services.placement.adapters.vault import vault_metadata
from services.reporting.adapters.tables import metadata as reporting_tables
from shared.infra.audit import VERSION_TABLE as AUDIT_VERSIONS
from shared.infra.audit_tables import audit_metadata


@pytest.fixture(scope="module")
async def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded default's databases, each migrated to its newest revision."""
    data = tmp_path_factory.mktemp("migrated") / "var"
    app = create_embedded_app(data)
    async with app.router.lifespan_context(app):
        pass
    return data


@pytest.mark.parametrize(
    ("database", "tables", "versions"),
    [
        ("needs", needs_tables, "alembic_version"),
        ("placement", placement_tables, "alembic_version"),
        ("reporting", reporting_tables, "alembic_version"),
        ("audit", audit_metadata, AUDIT_VERSIONS),
        ("vault", vault_metadata, VAULT_VERSIONS),
    ],
)
def test_the_migrated_database_has_the_declared_tables(
    migrated: Path, database: str, tables: sa.MetaData, versions: str
) -> None:
    folder = keys_dir(migrated) if database == "vault" else migrated
    engine = sa.create_engine(f"sqlite:///{folder / database}.db")
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"version_table": versions})
            differences = compare_metadata(context, tables)
    finally:
        engine.dispose()
    assert differences == []
