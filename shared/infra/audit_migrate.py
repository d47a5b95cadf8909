"""`python -m shared.infra.audit_migrate`: migrate the audit store as its owner, then exit.

A deployment's one-off step (compose's `audit-migrate`, done before the services start). The
services write the store as a role that may only SELECT and INSERT
(`deploy/postgres/init/01-roles-and-databases.sh`), so they cannot change its schema, and the
owner's password stays with this step instead of reaching every service. Reads
`AUDIT_DATABASE_URL`, the store's URL with the owner's role; there is no default.
"""

import asyncio
import os
import sys

from shared.infra.audit import AuditLog


async def migrate(url: str) -> None:
    """Bring the store at `url` to the newest revision (idempotent)."""
    log = AuditLog(url)
    try:
        await log.start()
    finally:
        await log.stop()


def main() -> int:
    """Migrate; 2 when no URL was given."""
    url = os.environ.get("AUDIT_DATABASE_URL", "")
    if not url:
        print(
            "audit_migrate: set AUDIT_DATABASE_URL to the audit store's URL with its owner's role",
            file=sys.stderr,
        )
        return 2
    asyncio.run(migrate(url))
    print("audit_migrate: the audit store is at the newest revision")
    return 0


if __name__ == "__main__":
    sys.exit(main())
