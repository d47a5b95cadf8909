"""The key vault's cache lives as long as one command, not as long as its transaction: the
commands of a fetch of Kafka commands share one transaction (ADR 0008), and a key read by one
of them must not serve a later one after an erasure deleted it."""

from pathlib import Path

from services.embedded.app import create_embedded_app
from services.placement.adapters.vault import KeyVault, MasterKeys
from services.placement.bootstrap import PlacementService
from shared.contract.crypto import new_key
from shared.infra.uow import SharedTransaction, sharing


class _Session:
    """Stands for the shared transaction's session (held weakly by the vault)."""


async def _vault(tmp_path: Path) -> KeyVault:
    vault = KeyVault.open(
        f"sqlite+aiosqlite:///{tmp_path / 'vault.db'}", MasterKeys("m1", {"m1": new_key()})
    )
    await vault.migrate()
    return vault


async def test_a_command_later_in_a_shared_transaction_does_not_see_an_erased_key(
    tmp_path: Path,
) -> None:
    vault = await _vault(tmp_path)
    transaction = _Session()
    try:
        first = vault.for_command(transaction)
        key = await first.key_for("NG-ERASED", create=True)
        assert key is not None
        # The command's own later reads (its view, its answer) share what it read.
        assert vault.for_transaction(transaction) is first
        assert await vault.for_transaction(transaction).key_for("NG-ERASED", create=False) == key

        assert await vault.erase("NG-ERASED")

        later = vault.for_command(transaction)
        assert await later.key_for("NG-ERASED", create=False) is None
        assert vault.for_transaction(transaction) is later
    finally:
        await vault.close()


async def test_each_command_joining_a_shared_transaction_starts_its_own_key_cache(
    tmp_path: Path,
) -> None:
    app = create_embedded_app(tmp_path / "var")
    async with app.router.lifespan_context(app):
        placement = next(s for s in app.state.services if isinstance(s, PlacementService))
        assert placement.vault is not None
        shared = SharedTransaction(placement.runtime.sessions)
        try:
            with sharing(shared):
                async with placement.ports.uow():
                    first = placement.vault.for_transaction(shared.session)
                async with placement.ports.uow():
                    second = placement.vault.for_transaction(shared.session)
        finally:
            await shared.close()
    assert first is not second
