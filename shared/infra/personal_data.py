"""Sealing and opening the personal data of events at the edges of a service.

The domain works with the contract's plain `Official`; the event store, the outbox and
Kafka only ever see it sealed (`shared.contract.personal`). Services seal when they append
and open when they load or consume: the placement service with each official's key (it is
the controller of that data), the others with the programme key only (statistics).
"""

from typing import Any, Protocol

from pydantic_settings import BaseSettings

from shared.contract.crypto import parse_key
from shared.contract.envelope import CloudEvent
from shared.contract.events import Official
from shared.contract.personal import (
    FREE_TEXT,
    SEALED,
    SEALED_TEXT,
    SealedOfficial,
    SealedText,
    open_official,
    open_text,
    seal_official,
    seal_text,
)


class KeyUnavailable(RuntimeError):
    """This service lacks the programme key an event was sealed with: a configuration fault.
    Consumers retry (the partition waits) instead of dead-lettering the event."""


class IdentityKeys(Protocol):
    """Where the officials' own keys live (the placement service's key vault)."""

    async def key_for(self, official_id: str, *, create: bool) -> bytes | None:
        """The official's data key; a new one if `create` and none exists; None if erased."""


class PersonalDataCodec:
    """Seals `OfficerSeconded` on the way out, opens it on the way in."""

    def __init__(
        self,
        programme_key_id: str,
        programme_keys: dict[str, bytes],
        identity_keys: IdentityKeys | None = None,
    ) -> None:
        self._kid = programme_key_id
        self._programme = programme_keys
        self._identities = identity_keys

    def with_identity_keys(self, identity_keys: IdentityKeys) -> "PersonalDataCodec":
        """The same codec able to seal and open identities (bound to a transaction)."""
        return PersonalDataCodec(self._kid, self._programme, identity_keys)

    async def seal(self, envelope: CloudEvent, data_subject: str | None = None) -> CloudEvent:
        """Seal the official of an `OfficerSeconded` and the free text of the events that
        have some (`FREE_TEXT`) with the official's key; other events pass unchanged.

        `data_subject` is the official the event is about, for events whose data does not
        name them (a reception, a cancellation): the aggregate knows it.
        """
        if envelope.personaldata == SEALED:
            return envelope
        if envelope.type == "OfficerSeconded" and envelope.data.get("official") is not None:
            return await self._seal_official(envelope)
        texts = {
            name: value
            for name in FREE_TEXT.get(envelope.type, ())
            if isinstance(value := envelope.data.get(name), str)
        }
        if not texts:
            return envelope
        official_id = envelope.data.get("official_id") or data_subject
        if self._identities is None or not isinstance(official_id, str):
            raise RuntimeError(f"sealing the free text of {envelope.type} needs the official's key")
        key = await self._identities.key_for(official_id, create=True)
        assert key is not None
        sealed = seal_text(official_id, str(envelope.id), texts, key)
        data = {k: v for k, v in envelope.data.items() if k not in texts}
        data[SEALED_TEXT] = sealed.model_dump(mode="json")
        return envelope.model_copy(update={"data": data, "personaldata": SEALED})

    async def _seal_official(self, envelope: CloudEvent) -> CloudEvent:
        if self._identities is None or self._kid not in self._programme:
            raise RuntimeError("sealing personal data needs the key vault and the programme key")
        plain = Official.model_validate(envelope.data["official"])
        key = await self._identities.key_for(plain.official_id, create=True)
        assert key is not None
        sealed = seal_official(plain, key, self._kid, self._programme[self._kid])
        data: dict[str, Any] = envelope.data | {"official": sealed.model_dump(mode="json")}
        return envelope.model_copy(update={"data": data, "personaldata": SEALED})

    async def open(self, envelope: CloudEvent) -> CloudEvent:
        """The envelope with its personal data opened as far as this reader's keys allow."""
        if envelope.personaldata != SEALED:
            return envelope
        data: dict[str, Any] = dict(envelope.data)
        if SEALED_TEXT in data:
            text = SealedText.model_validate(data.pop(SEALED_TEXT))
            data |= open_text(text, str(envelope.id), await self._key(text.official_id))
        if envelope.type == "OfficerSeconded":
            sealed = SealedOfficial.model_validate(data["official"])
            if sealed.profile.kid not in self._programme:
                raise KeyUnavailable(f"programme key {sealed.profile.kid!r} is not configured here")
            key = await self._key(sealed.official_id)
            official, _ = open_official(sealed, self._programme, key)
            data["official"] = official.model_dump(mode="json")
        return envelope.model_copy(update={"data": data, "personaldata": None})

    async def _key(self, official_id: str) -> bytes | None:
        if self._identities is None:
            return None
        return await self._identities.key_for(official_id, create=False)


def parse_key_ring(
    text: str | None, setting: str, current: tuple[str, bytes] | None = None
) -> dict[str, bytes]:
    """The `current` key (id, key) and the keys given as `id=base64,id=base64` (a rotation's
    other keys), by key id, the current one winning; `setting` names the variable in the
    error, which never repeats a value."""
    keys: dict[str, bytes] = dict([current]) if current else {}
    for item in (text or "").split(","):
        if item.strip():
            kid, _, value = item.strip().partition("=")
            if not value or not kid.strip():
                raise ValueError(f"{setting}: `id=base64` items, comma-separated")
            keys.setdefault(kid.strip(), parse_key(value))
    return keys


class PersonalDataKeys(BaseSettings):
    """Programme key settings every service inherits (`*_PROGRAMME_KEY`, base64 of 32
    bytes; `*_PROGRAMME_KEY_ID` names it in sealed data so keys can be rotated).

    `*_PREVIOUS_PROGRAMME_KEYS` (`id=base64,…`) are keys that open profiles but seal none:
    the retired keys of a rotation, which events sealed before it still name (the event
    stores and topics keep them for ever), and, on consumers, the next key before producers
    seal with it (docs/operations.md, "Rotate the personal-data keys").
    """

    programme_key_id: str = "programme-1"
    programme_key: str | None = None
    previous_programme_keys: str | None = None

    def personal_data_codec(self) -> PersonalDataCodec:
        """The codec for these keys; without a key nothing sealed can be read."""
        current = (
            (self.programme_key_id, parse_key(self.programme_key)) if self.programme_key else None
        )
        keys = parse_key_ring(self.previous_programme_keys, "*_PREVIOUS_PROGRAMME_KEYS", current)
        return PersonalDataCodec(self.programme_key_id, keys)
