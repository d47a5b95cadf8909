"""Rotating the programme key: profiles sealed before a rotation still open with the retired
key named in `*_PREVIOUS_PROGRAMME_KEYS`; new ones are sealed with the current key only."""

import base64
import datetime as dt
import uuid

import pytest

from shared.contract.crypto import new_key
from shared.contract.envelope import CloudEvent
from shared.contract.events import Official
from shared.contract.personal import SEALED, SealedOfficial
from shared.infra.personal_data import KeyUnavailable, PersonalDataKeys, parse_key_ring
from tests.samples import official_body


def b64(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode()


class OfficialsKeys:
    """The key vault's part: one key per official, in memory."""

    def __init__(self) -> None:
        self.keys: dict[str, bytes] = {}

    async def key_for(self, official_id: str, *, create: bool) -> bytes | None:
        if official_id not in self.keys and create:
            self.keys[official_id] = new_key()
        return self.keys.get(official_id)


def seconded() -> CloudEvent:
    body = official_body()
    official = Official.model_validate(
        body | {"home_unit": {"code": body["home_unit"], "name": "Huyện Nam Giang"}}
    )
    return CloudEvent(
        id=uuid.uuid4(),
        source="/services/placement",
        type="OfficerSeconded",
        subject=str(uuid.uuid4()),
        time=dt.datetime.now(dt.UTC),
        data={"official": official.model_dump(mode="json")},
        aggregateversion=1,
        correlationid="c",
        causationid="c",
        actor="test",
        dataversion=1,
    )


OLD, NEW = b64(new_key()), b64(new_key())


async def test_a_profile_sealed_before_the_rotation_opens_with_the_retired_key() -> None:
    vault = OfficialsKeys()
    before = PersonalDataKeys(programme_key_id="programme-1", programme_key=OLD)
    after = PersonalDataKeys(
        programme_key_id="programme-2",
        programme_key=NEW,
        previous_programme_keys=f"programme-1={OLD}",
    )
    old_event = await before.personal_data_codec().with_identity_keys(vault).seal(seconded())
    new_event = await after.personal_data_codec().with_identity_keys(vault).seal(seconded())

    # New profiles name the new key; the retired one seals nothing any more.
    kids = [
        SealedOfficial.model_validate(e.data["official"]).profile.kid
        for e in (old_event, new_event)
    ]
    assert kids == ["programme-1", "programme-2"]
    # A statistics reader (programme keys only) opens both profiles after the rotation.
    reader = PersonalDataKeys(
        programme_key_id="programme-2",
        programme_key=NEW,
        previous_programme_keys=f"programme-1={OLD}",
    ).personal_data_codec()
    for event in (old_event, new_event):
        opened = await reader.open(event)
        assert opened.personaldata != SEALED
        assert opened.data["official"]["ethnicity"] == official_body()["ethnicity"]


async def test_without_the_retired_key_old_profiles_wait_rather_than_open_wrong() -> None:
    old_event = await (
        PersonalDataKeys(programme_key_id="programme-1", programme_key=OLD)
        .personal_data_codec()
        .with_identity_keys(OfficialsKeys())
        .seal(seconded())
    )
    reader = PersonalDataKeys(programme_key_id="programme-2", programme_key=NEW)
    with pytest.raises(KeyUnavailable, match="programme-1"):
        await reader.personal_data_codec().open(old_event)


def test_a_malformed_key_list_is_refused_without_echoing_a_key() -> None:
    with pytest.raises(ValueError, match="PREVIOUS_PROGRAMME_KEYS") as refused:
        PersonalDataKeys(previous_programme_keys=OLD).personal_data_codec()
    assert OLD not in str(refused.value)
    assert parse_key_ring(f" a={OLD}, b={NEW} ", "X").keys() == {"a", "b"}
