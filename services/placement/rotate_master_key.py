"""Rotate the master key that wraps the officials' keys (docs/runbooks/master-key-rotation.md).

    PLACEMENT_MASTER_KEY=<new> PLACEMENT_MASTER_KEY_ID=master-2 \\
    PLACEMENT_PREVIOUS_MASTER_KEYS=master-1=<old> \\
    python -m services.placement.rotate_master_key

Rewraps every key not yet under the current master key, in batches that each commit
(interrupted, run it again: it goes on where it stopped), prints its progress, then scrubs the
vault's files. Afterwards the old master key can be removed from the configuration and
destroyed: every backup of the vault taken before holds keys only it could unwrap.
"""

import asyncio
import sys

from services.placement.config import PlacementSettings


async def rotate(settings: PlacementSettings) -> int:
    """Rewrap the vault's keys under `settings`' current master key; returns how many."""
    from services.placement.adapters.vault import KeyVault

    masters = settings.master_keys()
    if masters is None:
        raise SystemExit("rotate_master_key: PLACEMENT_MASTER_KEY (the new master key) is not set")
    vault = KeyVault.open(settings.vault_database_url(), masters)
    try:
        await vault.migrate()

        def progress(done: int, total: int) -> None:
            print(f"  rewrapped {done} / {total}", flush=True)

        count = await vault.rewrap(progress=progress)
    finally:
        await vault.close()
    print(f"{count} keys now under master key {masters.current_id!r}", flush=True)
    return count


def main() -> None:
    """Run one rotation with the service's settings from the environment."""
    try:
        asyncio.run(rotate(PlacementSettings()))
    except LookupError as exc:
        sys.exit(f"rotate_master_key: {exc}")


if __name__ == "__main__":
    main()
