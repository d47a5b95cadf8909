"""Personal data is sealed everywhere it is stored or travels, and an erasure makes the
official unidentifiable for good while every figure stays as it was."""

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text

from shared.contract.topics import NEEDS_TOPIC, PLACEMENTS_TOPIC, topic_name
from shared.infra.db import make_engine
from tests import auth
from tests.integration.system import (
    Deployment,
    eventually,
    needs_app,
    new_deployment,
    placement_app,
    reporting_app,
    running,
)
from tests.samples import ending_body, need_body, official_body, secondment_body

pytestmark = pytest.mark.integration

DPO = ("SO_NOI_VU", "personal-data:erase", "audit:read")
EVALUATION = "/api/reports/phases/2024-2025/evaluation"


async def _database_text(url: str) -> str:
    """Every row of every table, as text."""
    engine = make_engine(url)
    chunks: list[str] = []
    async with engine.connect() as conn:
        tables = (
            await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        ).scalars()
        for table in list(tables):
            rows = await conn.execute(text(f'SELECT t::text FROM "{table}" t'))
            chunks.extend(rows.scalars())
    await engine.dispose()
    return "\n".join(chunks)


async def _topic_bytes(d: Deployment) -> bytes:
    """Every message of both domain topics and their dead-letter topics."""
    consumer = AIOKafkaConsumer(bootstrap_servers=d.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        names = [
            topic_name(t, d.prefix) + suffix
            for t in (NEEDS_TOPIC, PLACEMENTS_TOPIC)
            for suffix in ("", ".dlq")
        ]
        admin = AIOKafkaAdminClient(bootstrap_servers=d.bootstrap)
        await admin.start()
        try:
            described = await admin.describe_topics(names)
        finally:
            await admin.close()
        partitions = [
            TopicPartition(t["topic"], p["partition"])
            for t in described
            if not t.get("error_code")
            for p in t["partitions"]
        ]
        assert partitions, f"no partitions among {names}"
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        seen: list[bytes] = []

        async def behind() -> bool:
            return any([await consumer.position(tp) < end for tp, end in ends.items()])

        while await behind():
            batch = await consumer.getmany(timeout_ms=1000)
            seen.extend(m.value or b"" for msgs in batch.values() for m in msgs)
        return b"\n".join(seen)
    finally:
        await consumer.stop()


async def _exports(reporting: httpx.AsyncClient) -> dict[str, bytes]:
    out = {}
    for fmt in ("csv", "xlsx", "pdf"):
        response = await reporting.get(
            f"{EVALUATION}.{fmt}", params={"as_of": "2025-12-31"}, headers=auth.reader()
        )
        assert response.status_code == 200
        out[fmt] = response.content
    return out


async def test_an_erased_official_cannot_be_identified_anywhere_and_the_figures_stay(
    kafka_bootstrap: str, pg_dsn: str
) -> None:
    d = await new_deployment(kafka_bootstrap, pg_dsn)
    marker = uuid.uuid4().hex[:8]
    name = f"Zơ Râm Thị Nhận {marker}"
    official_id = f"NG-{marker}"
    birth = "1983-07-19"
    dpo = auth.headers(*DPO)
    async with (
        running(needs_app(d)) as needs,
        running(placement_app(d)) as placement,
        running(reporting_app(d)) as reporting,
    ):
        need_id = (await needs.post("/api/needs", json=need_body(), headers=auth.host())).json()[
            "need_id"
        ]
        body = secondment_body(need_id)
        body["official"] = official_body(official_id=official_id, full_name=name, birth_date=birth)
        retry_key = {"Idempotency-Key": f"second-{marker}"} | auth.home()
        made = await eventually(
            lambda: placement.post("/api/secondments", json=body, headers=retry_key),
            lambda r: r.status_code != 503,
        )
        assert made.status_code == 201, made.text
        assert made.json()["official"]["full_name"] == name
        sid = made.json()["secondment_id"]
        ended = await placement.post(
            f"/api/secondments/{sid}/ending", json=ending_body(), headers=auth.home()
        )
        assert ended.status_code == 200

        async def evaluation() -> dict[str, Any]:
            response = await reporting.get(
                EVALUATION, params={"as_of": "2025-12-31"}, headers=auth.reader()
            )
            result: dict[str, Any] = response.json()
            return result

        before = await eventually(evaluation, lambda e: e["secondments"]["ended"] == 1)
        exports_before = await _exports(reporting)

        # Sealed from the start: never in clear in an event store, a read model or on Kafka,
        # even before erasure (only the placement service's remembered first answer to the
        # Idempotency-Key holds it, until the erasure below).
        for url in (d.needs_db, d.reporting_db):
            stored = await _database_text(url)
            assert name not in stored
            assert marker not in stored.replace(official_id, "")
            assert birth not in stored
        on_kafka = await _topic_bytes(d)
        assert name.encode() not in on_kafka
        assert birth.encode() not in on_kafka
        assert f"NG-{marker}".encode() in on_kafka  # the pseudonym travels in clear

        # The access request answers with everything held, until erasure.
        access = await placement.get(f"/api/officials/{official_id}/personal-data", headers=dpo)
        assert access.status_code == 200, access.text
        assert access.json()["official"]["full_name"] == name
        assert access.json()["official"]["birth_date"] == birth

        # Only the data-protection officer may erase.
        refused = await placement.post(f"/api/officials/{official_id}/erasure", headers=auth.home())
        assert refused.status_code == 403
        erased = await placement.post(f"/api/officials/{official_id}/erasure", headers=dpo)
        assert erased.status_code == 200, erased.text
        assert erased.json()["erased"] is True

        for url in (d.needs_db, d.placement_db, d.reporting_db):
            stored = await _database_text(url)
            assert name not in stored
            assert birth not in stored
        retried = await placement.post("/api/secondments", json=body, headers=retry_key)
        assert retried.status_code == 201
        assert retried.json()["secondment_id"] == sid
        assert name not in retried.text
        assert birth not in retried.text
        shown = (await placement.get(f"/api/secondments/{sid}", headers=auth.home())).json()
        assert shown["official"]["full_name"] is None
        assert shown["official"]["birth_date"] is None
        assert shown["official"]["identity_erased"] is True
        assert shown["official"]["ethnicity"] == "CO_TU"
        listed = (
            await placement.get(
                "/api/secondments", params={"official_id": official_id}, headers=auth.home()
            )
        ).json()["items"]
        assert [i["official"]["full_name"] for i in listed] == [None]
        history = (await placement.get(f"/api/secondments/{sid}/history", headers=auth.home())).text
        assert name not in history
        assert birth not in history
        access = await placement.get(f"/api/officials/{official_id}/personal-data", headers=dpo)
        assert access.json()["identity_erased"] is True
        assert name not in access.text

        # Every figure stays; exports are the same documents.
        after = await evaluation()
        assert after["needs"] == before["needs"]
        assert after["secondments"] == before["secondments"]
        assert after.get("by_ethnicity") == before.get("by_ethnicity")
        exports_after = await _exports(reporting)
        assert exports_after["csv"] == exports_before["csv"]
        for content in exports_after.values():
            assert name.encode() not in content

    # A replay from the topics into a fresh read model counts the same, revealing nothing.
    replay = await new_deployment(kafka_bootstrap, pg_dsn)
    replay = Deployment(
        bootstrap=d.bootstrap,
        prefix=d.prefix,
        needs_db=d.needs_db,
        placement_db=d.placement_db,
        reporting_db=replay.reporting_db,
        audit_db=d.audit_db,
    )
    settings = replay.reporting_settings().model_copy(update={"consumer_group": "replay"})
    from services.reporting.__main__ import create_app as create_reporting_app

    async with running(create_reporting_app(settings)) as fresh:

        async def replayed() -> dict[str, Any]:
            response = await fresh.get(
                EVALUATION, params={"as_of": "2025-12-31"}, headers=auth.reader()
            )
            result: dict[str, Any] = response.json()
            return result

        again = await eventually(replayed, lambda e: e["secondments"]["ended"] == 1)
        assert again["secondments"] == before["secondments"]
    assert name not in await _database_text(replay.reporting_db)
    await asyncio.sleep(0)
