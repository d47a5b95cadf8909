"""Read models of the reporting service, projected from both topics.

Rows keep business dates (raised, started, ended, cancelled …) rather than statuses, so an
evaluation can answer "as at the end of `as_of`" for any date. Every projection is an
idempotent upsert that touches only the columns its event carries, so events may arrive in
any order and more than once:

- `rm_needs` / `rm_secondments`: one row per aggregate; base columns are nullable because a
  later event may land before the one that creates the aggregate.
- Facts that change by effective date keep a history (`rm_need_amendments`, `rm_need_fills`,
  `rm_extensions`, `rm_arrangements`, `rm_promotions`: promotions after the return); the
  aggregate row also holds the latest such fact and a
  `*_multi` flag, so the common case (at most one) needs no look-up in the history.
- `rm_plan_versions`: every decision of a locality secondment plan (the adoption names the
  locality and the phase; each amendment the whole new schedule, `targets` as JSON).

`rm_revision` and `rm_changes` are the read models' change log (one row per committed
projection batch, naming the aggregates it touched): readers that keep the read models in
memory refresh from it (`adapters/snapshot.py`). They outlive rebuilds: a swap bumps the
generation instead.

`define_read_models(metadata, suffix, tag)` declares the same tables under other names: the
rebuild fills `rm_…__next` tables and swaps them in (see `adapters/rebuild.py`).
"""

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    false,
)

from shared.infra.schema import define_core_tables

metadata = MetaData()
core = define_core_tables(metadata)


@dataclass(frozen=True)
class ReadModels:
    """Handles on one generation of the read-model tables."""

    needs: Table
    need_amendments: Table
    need_fills: Table
    secondments: Table
    extensions: Table
    arrangements: Table
    promotions: Table
    plan_versions: Table

    def all(self) -> list[Table]:
        """Every table, parents first."""
        return [
            self.needs,
            self.need_amendments,
            self.need_fills,
            self.secondments,
            self.extensions,
            self.arrangements,
            self.promotions,
            self.plan_versions,
        ]


BASE_NAMES = (
    "rm_needs",
    "rm_need_amendments",
    "rm_need_fills",
    "rm_secondments",
    "rm_extensions",
    "rm_arrangements",
    "rm_promotions",
    "rm_plan_versions",
)


def _pk(tag: str | None, table: str, *cols: str) -> PrimaryKeyConstraint:
    return PrimaryKeyConstraint(*cols, name=f"pk_{table}_{tag}" if tag else None)


def _ix(tag: str | None, table: str, name: str, *cols: str) -> Index:
    return Index(f"ix_{table}_{name}_{tag}" if tag else f"ix_{table}_{name}", *cols)


def define_read_models(md: MetaData, suffix: str = "", tag: str | None = None) -> ReadModels:
    """Declare the read-model tables named `rm_…{suffix}`; `tag` names their constraints and
    indexes uniquely (PostgreSQL keeps index names per schema, also after a table rename)."""
    needs = Table(
        f"rm_needs{suffix}",
        md,
        Column("need_id", String(36)),
        Column("host_unit", String(64)),
        Column("host_unit_name", String(200)),
        Column("sector", String(64)),
        Column("positions", Integer),
        Column("raised_on", Date),
        Column("withdrawn_on", Date),
        # The highest-version NeedFilled; `reopened` sends queries to rm_need_fills.
        Column("filled_on", Date),
        Column("fill_version", Integer),
        Column("reopened", Boolean, nullable=False, server_default=false(), default=False),
        # The highest-version NeedAmended (only changed fields set); `am_multi` when several.
        Column("am_version", Integer),
        Column("amended_on", Date),
        Column("am_host_unit", String(64)),
        Column("am_host_unit_name", String(200)),
        Column("am_sector", String(64)),
        Column("am_positions", Integer),
        Column("am_raised_on", Date),
        Column("am_multi", Boolean, nullable=False, server_default=false(), default=False),
        Column("version", Integer),
        _pk(tag, "rm_needs", "need_id"),
        _ix(tag, "rm_needs", "raised_on", "raised_on"),
    )
    amendments = Table(
        f"rm_need_amendments{suffix}",
        md,
        Column("need_id", String(36)),
        Column("version", Integer),
        Column("amended_on", Date, nullable=False),
        Column("host_unit", String(64)),
        Column("host_unit_name", String(200)),
        Column("sector", String(64)),
        Column("positions", Integer),
        Column("raised_on", Date),
        _pk(tag, "rm_need_amendments", "need_id", "version"),
    )
    fills = Table(
        f"rm_need_fills{suffix}",
        md,
        Column("need_id", String(36)),
        Column("version", Integer),
        Column("kind", String(16), nullable=False),
        Column("on_date", Date, nullable=False),
        _pk(tag, "rm_need_fills", "need_id", "version"),
    )
    secondments = Table(
        f"rm_secondments{suffix}",
        md,
        Column("secondment_id", String(36)),
        Column("need_id", String(36)),
        Column("official_id", String(64)),
        Column("home_unit", String(64)),
        Column("home_unit_name", String(200)),
        Column("host_unit", String(64)),
        Column("host_unit_name", String(200)),
        Column("sector", String(64)),
        Column("ethnicity", String(64)),
        Column("gender", String(1)),
        Column("start_date", Date),
        Column("planned_end_date", Date),
        Column("received_on", Date),
        Column("ended_on", Date),
        Column("end_reason", String(32)),
        Column("rating", String(32)),
        Column("cancelled_on", Date),
        # The highest-version SecondmentExtended; `ext_multi` when several.
        Column("ext_version", Integer),
        Column("ext_decided_on", Date),
        Column("ext_planned_end", Date),
        Column("ext_multi", Boolean, nullable=False, server_default=false(), default=False),
        # The highest-version PostSecondmentArranged; `arr_multi` when several.
        Column("arr_version", Integer),
        Column("arrangement", String(32)),
        Column("new_position_rank", String(64)),
        Column("arr_effective", Date),
        Column("arr_destination", String(64)),
        Column("arr_multi", Boolean, nullable=False, server_default=false(), default=False),
        Column("version", Integer),
        _pk(tag, "rm_secondments", "secondment_id"),
        _ix(tag, "rm_secondments", "need_id", "need_id"),
        _ix(tag, "rm_secondments", "start_date", "start_date"),
    )
    extensions = Table(
        f"rm_extensions{suffix}",
        md,
        Column("secondment_id", String(36)),
        Column("version", Integer),
        Column("decided_on", Date, nullable=False),
        Column("new_planned_end_date", Date, nullable=False),
        _pk(tag, "rm_extensions", "secondment_id", "version"),
    )
    arrangements = Table(
        f"rm_arrangements{suffix}",
        md,
        Column("secondment_id", String(36)),
        Column("version", Integer),
        Column("arrangement", String(32), nullable=False),
        Column("new_position_rank", String(64)),
        Column("effective_date", Date, nullable=False),
        Column("destination_unit", String(64)),
        _pk(tag, "rm_arrangements", "secondment_id", "version"),
    )
    promotions = Table(
        f"rm_promotions{suffix}",
        md,
        Column("secondment_id", String(36)),
        Column("version", Integer),
        Column("new_position_rank", String(64), nullable=False),
        Column("promoted_on", Date, nullable=False),
        _pk(tag, "rm_promotions", "secondment_id", "version"),
    )
    plan_versions = Table(
        f"rm_plan_versions{suffix}",
        md,
        Column("plan_id", String(36)),
        Column("version", Integer),
        # The adoption (version 1) names the locality and the phase; amendments do not.
        Column("home_unit", String(64)),
        Column("phase_id", String(16)),
        Column("decided_on", Date, nullable=False),
        Column("decision_no", String(64), nullable=False),
        Column("targets", Text, nullable=False),
        _pk(tag, "rm_plan_versions", "plan_id", "version"),
    )
    return ReadModels(
        needs, amendments, fills, secondments, extensions, arrangements, promotions, plan_versions
    )


LIVE = define_read_models(metadata)
rm_needs = LIVE.needs
rm_need_amendments = LIVE.need_amendments
rm_need_fills = LIVE.need_fills
rm_secondments = LIVE.secondments
rm_extensions = LIVE.extensions
rm_arrangements = LIVE.arrangements
rm_promotions = LIVE.promotions
rm_plan_versions = LIVE.plan_versions

rm_revision = Table(
    "rm_revision",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("revision", BigInteger, nullable=False),
    Column("generation", String(36), nullable=False),
)
rm_changes = Table(
    "rm_changes",
    metadata,
    Column("revision", BigInteger, primary_key=True, autoincrement=False),
    Column("need_ids", Text, nullable=False),
    Column("secondment_ids", Text, nullable=False),
)

signed_out_sessions = Table(
    "signed_out_sessions",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
"""Dashboard sessions signed out before their token expired (SHA-256 of the token): refused
until then, on every replica. Rows past `expires_at` are purged."""
