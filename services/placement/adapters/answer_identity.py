"""Officials' identities in remembered answers, sealed like in the event store.

A remembered answer (`Idempotency-Key`, a Kafka command id) is the body first sent back, and
the placement service's bodies name officials (`full_name`, `birth_date`). Stored as they are,
those names would sit in clear beside the event store that never holds them. So every
`official` object of a body is stored with its identity sealed with the official's own key
(AES-256-GCM, the official id as context) and opened when a retry reads it: erasing the key
erases the identity in remembered answers too, like everywhere else (ADR 0004).

Stored:  {"official_id": "…", "full_name": null, "birth_date": null, …,
          "identity_sealed": {"nonce": "…", "ciphertext": "…"}}
Opened:  the body as sent; after an erasure `full_name` and `birth_date` null and
         `identity_erased: true`.

The free text of a secondment's steps (`FREE_TEXT`: the reception's role and supervisor, the
ending's remarks, the cancellation's reason) is sealed the same way, in each step:
Stored:  {"remarks": null, …, "text_sealed": {"fields": ["remarks"], "nonce": "…", …}}
Opened:  as sent; after an erasure each sealed field reads `UNAVAILABLE_TEXT`.
"""

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.placement.adapters.vault import KeyVault
from shared.contract.crypto import open_sealed, seal
from shared.contract.personal import FREE_TEXT, UNAVAILABLE_TEXT

SEALED_KEY = "identity_sealed"
TEXT_SEALED_KEY = "text_sealed"

STEPS = {
    "reception": FREE_TEXT["OfficialReceived"],
    "ending": FREE_TEXT["SecondmentEnded"],
    "cancellation": FREE_TEXT["SecondmentCancelled"],
}
"""The steps of a secondment's view that hold free text about the official, and its fields."""


def _context(official_id: str, part: str = "identity") -> str:
    return f"secondment/answer/{official_id}/{part}"


def _objects(node: Any) -> list[dict[str, Any]]:
    """Every JSON object in a body, wherever it nests, each before those inside it (one walk
    per body: a secondment's answer holds about fifty)."""
    found: list[dict[str, Any]] = []
    pending = [node]
    while pending:
        current = pending.pop()
        if isinstance(current, dict):
            found.append(current)
            pending.extend(reversed(current.values()))
        elif isinstance(current, list):
            pending.extend(reversed(current))
    return found


def _steps(objects: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    """(official id, step name, step) of every secondment step with free text among a body's
    objects."""
    found: list[tuple[str, str, dict[str, Any]]] = []
    for o in objects:
        official = o.get("official")
        if isinstance(official, dict) and isinstance(official.get("official_id"), str):
            steps = [(name, o[name]) for name in STEPS if isinstance(o.get(name), dict)]
            found.extend((official["official_id"], name, step) for name, step in steps)
    return found


def _officials(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every object among a body's that names an official with an identity."""
    return [
        o
        for o in objects
        if isinstance(o.get("official_id"), str) and ("full_name" in o or SEALED_KEY in o)
    ]


def _dump(document: Any) -> str:
    # As FastAPI renders a response (compact, UTF-8): an opened body reads as it was sent.
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


class SealedIdentities:
    """`AnswerProtection` of the placement service."""

    def __init__(self, vault: KeyVault) -> None:
        self._vault = vault

    async def seal(self, session: AsyncSession, body: str) -> str:
        """Seal each official's full name and birth date (their places stay, as nulls)."""
        try:
            document = json.loads(body)
        except ValueError:
            return body
        objects = _objects(document)
        officials = [o for o in _officials(objects) if o.get("full_name") is not None]
        steps = _steps(objects)
        if not officials and not steps:
            return body
        vault = self._vault.for_transaction(session)
        for official in officials:
            key = await vault.key_for(official["official_id"], create=True)
            assert key is not None
            identity = {
                "full_name": official["full_name"],
                "birth_date": official.get("birth_date"),
            }
            nonce, ciphertext = seal(
                key, json.dumps(identity).encode(), _context(official["official_id"])
            )
            official.update(full_name=None, birth_date=None)
            official[SEALED_KEY] = {"nonce": nonce, "ciphertext": ciphertext}
        for official_id, name, step in steps:
            texts = {k: step[k] for k in STEPS[name] if isinstance(step.get(k), str)}
            if not texts:
                continue
            key = await vault.key_for(official_id, create=True)
            assert key is not None
            nonce, ciphertext = seal(
                key, json.dumps(texts).encode(), _context(official_id, f"text/{name}")
            )
            step.update(dict.fromkeys(texts))
            step[TEXT_SEALED_KEY] = {
                "fields": list(texts),
                "nonce": nonce,
                "ciphertext": ciphertext,
            }
        return _dump(document)

    async def open(self, session: AsyncSession, body: str) -> str:
        """Put each identity and free text back; an erased identity stays null, marked
        `identity_erased`, an erased free text reads `UNAVAILABLE_TEXT`."""
        if SEALED_KEY not in body and TEXT_SEALED_KEY not in body:
            return body
        document = json.loads(body)
        objects = _objects(document)
        steps = _steps(objects)
        vault = self._vault.for_transaction(session)
        for official in _officials(objects):
            sealed = official.pop(SEALED_KEY, None)
            if sealed is None:
                continue
            key = await vault.key_for(official["official_id"], create=False)
            if key is None:
                official.update(full_name=None, birth_date=None, identity_erased=True)
                continue
            raw = open_sealed(
                key, sealed["nonce"], sealed["ciphertext"], _context(official["official_id"])
            )
            official.update(json.loads(raw))
        for official_id, name, step in steps:
            sealed = step.pop(TEXT_SEALED_KEY, None)
            if sealed is None:
                continue
            key = await vault.key_for(official_id, create=False)
            if key is None:
                step.update(dict.fromkeys(sealed["fields"], UNAVAILABLE_TEXT))
                continue
            raw = open_sealed(
                key, sealed["nonce"], sealed["ciphertext"], _context(official_id, f"text/{name}")
            )
            step.update(json.loads(raw))
        return _dump(document)
