"""The version table is written by the store's owner only.

Revision ID: a0002
Revises: a0001

In a deployment the owner role runs these migrations and the services write as a role that
default privileges give SELECT and INSERT on every table the owner creates
(deploy/postgres/init/01-roles-and-databases.sh). That is right for the audit tables and too
much for the version table: a service only reads it (to see that the store is at head), and a
row it inserted would stop the next migration. This takes back every privilege but SELECT on
it from everyone but its owner. Nothing to do on SQLite (no roles).
"""

from alembic import op

revision = "a0002"
down_revision = "a0001"
branch_labels = None
depends_on = None

VERSION_TABLE = "alembic_version_audit"
"""As `shared.infra.audit.VERSION_TABLE` (a migration does not follow later renames)."""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    privileges = "INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER"
    op.execute(f"REVOKE {privileges} ON {VERSION_TABLE} FROM PUBLIC")
    op.execute(
        f"""
        DO $$
        DECLARE grantee text;
        BEGIN
            FOR grantee IN
                SELECT DISTINCT a.grantee::regrole::text
                  FROM pg_class c, aclexplode(c.relacl) a
                 WHERE c.oid = '{VERSION_TABLE}'::regclass
                   AND a.grantee NOT IN (0, c.relowner)
                   AND a.privilege_type <> 'SELECT'
            LOOP
                EXECUTE format('REVOKE {privileges} ON {VERSION_TABLE} FROM %s', grantee);
            END LOOP;
        END $$
        """
    )


def downgrade() -> None:
    """Privileges taken back are not given again."""
