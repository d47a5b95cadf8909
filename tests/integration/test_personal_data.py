"""Personal data is sealed everywhere it is stored or travels, and an erasure makes the
official unidentifiable for good while every figure stays as it was."""

import asyncio
import logging
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text

from shared.contract.personal import UNAVAILABLE_TEXT
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
    kafka_bootstrap: str, pg_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    d = await new_deployment(kafka_bootstrap, pg_dsn)
    marker = uuid.uuid4().hex[:8]
    name = f"Zơ Râm Thị Nhận {marker}"
    official_id = f"NG-{marker}"
    birth = "1983-07-19"
    # Free text that says who the official is: sealed with their key like the name.
    role = f"Phụ trách hồ sơ dân tộc Cơ Tu của bà Nhận {marker}R"
    supervisor = f"Ông Trần Văn Giám {marker}S"
    remarks = f"Bà Nhận {marker}M hoàn thành tốt, sức khỏe yếu sau sinh con"
    reason = f"Bà Nhận {marker}C xin hoãn vì lý do gia đình"
    secrets = (name, birth, role, supervisor, remarks, reason)
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
        mistaken = await eventually(
            lambda: placement.post("/api/secondments", json=body, headers=auth.home()),
            lambda r: r.status_code != 503,
        )
        assert mistaken.status_code == 201, mistaken.text

        async def counted(filled: int) -> None:
            """Wait until the needs service has counted the positions taken: the two
            secondments' events travel on different partitions, and counted in the other order
            the need would have been full for a moment (NeedFilled, then NeedReopened dated
            today, which an evaluation as of 2025 would count as filled)."""
            await eventually(
                lambda: needs.get(f"/api/needs/{need_id}", headers=auth.host()),
                lambda r: r.json()["positions_filled"] == filled,
            )

        await counted(1)
        cancelled = await placement.post(
            f"/api/secondments/{mistaken.json()['secondment_id']}/cancellation",
            json={"reason": reason},
            headers={"Idempotency-Key": f"cancel-{uuid.uuid4()}"} | auth.home(),
        )
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["cancellation"]["reason"] == reason
        await counted(0)
        retry_key = {"Idempotency-Key": f"second-{uuid.uuid4()}"} | auth.home()
        made = await eventually(
            lambda: placement.post("/api/secondments", json=body, headers=retry_key),
            lambda r: r.status_code != 503,
        )
        assert made.status_code == 201, made.text
        assert made.json()["official"]["full_name"] == name
        sid = made.json()["secondment_id"]
        received = await placement.post(
            f"/api/secondments/{sid}/reception",
            json={"received_on": "2024-09-03", "assigned_role": role, "supervisor": supervisor},
            headers={"Idempotency-Key": f"receive-{uuid.uuid4()}"} | auth.host(),
        )
        assert received.status_code == 200, received.text
        ending_key = {"Idempotency-Key": f"end-{uuid.uuid4()}"} | auth.home()
        ended = await placement.post(
            f"/api/secondments/{sid}/ending", json=ending_body(remarks=remarks), headers=ending_key
        )
        assert ended.status_code == 200
        assert ended.json()["ending"]["remarks"] == remarks
        assert ended.json()["reception"]["supervisor"] == supervisor

        async def evaluation() -> dict[str, Any]:
            response = await reporting.get(
                EVALUATION, params={"as_of": "2025-12-31"}, headers=auth.reader()
            )
            result: dict[str, Any] = response.json()
            return result

        await counted(1)
        before = await eventually(
            evaluation,
            lambda e: e["secondments"]["ended"] == 1 and e["needs"]["positions_filled"] == 1,
        )
        exports_before = await _exports(reporting)

        # Sealed from the start: never in clear in an event store, an outbox, a list, a
        # remembered answer, the audit trail, a read model or on Kafka, even before erasure.
        for url in (d.needs_db, d.placement_db, d.reporting_db, d.audit_db):
            stored = await _database_text(url)
            assert marker not in stored.replace(official_id, ""), url
            assert birth not in stored, url
        on_kafka = await _topic_bytes(d)
        for secret in secrets:
            assert secret.encode() not in on_kafka
        assert f"NG-{marker}".encode() in on_kafka  # the pseudonym travels in clear
        shown = (await placement.get(f"/api/secondments/{sid}", headers=auth.home())).json()
        assert shown["reception"]["assigned_role"] == role
        assert shown["ending"]["remarks"] == remarks

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

        for url in (d.needs_db, d.placement_db, d.reporting_db, d.audit_db):
            stored = await _database_text(url)
            assert marker not in stored.replace(official_id, ""), url
            assert birth not in stored, url
        retried = await placement.post("/api/secondments", json=body, headers=retry_key)
        assert retried.status_code == 201
        assert retried.json()["secondment_id"] == sid
        ended_again = await placement.post(
            f"/api/secondments/{sid}/ending", json=ending_body(remarks=remarks), headers=ending_key
        )
        assert ended_again.status_code == 200
        assert ended_again.json()["ending"]["remarks"] == UNAVAILABLE_TEXT
        shown = (await placement.get(f"/api/secondments/{sid}", headers=auth.home())).json()
        assert shown["official"]["full_name"] is None
        assert shown["official"]["birth_date"] is None
        assert shown["official"]["identity_erased"] is True
        assert shown["official"]["ethnicity"] == "CO_TU"
        assert shown["reception"]["assigned_role"] == UNAVAILABLE_TEXT
        assert shown["reception"]["supervisor"] == UNAVAILABLE_TEXT
        assert shown["ending"]["remarks"] == UNAVAILABLE_TEXT
        assert shown["ending"]["rating"] == "GOOD"
        listed = await placement.get(
            "/api/secondments", params={"official_id": official_id}, headers=auth.home()
        )
        assert [i["official"]["full_name"] for i in listed.json()["items"]] == [None, None]
        history = await placement.get(f"/api/secondments/{sid}/history", headers=auth.home())
        access = await placement.get(f"/api/officials/{official_id}/personal-data", headers=dpo)
        assert access.json()["identity_erased"] is True
        for answer in (retried, ended_again, listed, history, access):
            for secret in secrets:
                assert secret not in answer.text
        on_kafka = await _topic_bytes(d)
        for secret in secrets:
            assert secret.encode() not in on_kafka

        # Every figure stays; exports are the same documents.
        after = await evaluation()
        assert after["needs"] == before["needs"]
        assert after["secondments"] == before["secondments"]
        assert after.get("by_ethnicity") == before.get("by_ethnicity")
        exports_after = await _exports(reporting)
        assert exports_after["csv"] == exports_before["csv"]
        for content in exports_after.values():
            for secret in secrets:
                assert secret.encode() not in content

    # A replay from the topics into a fresh read model counts the same, revealing nothing.
    replay = await new_deployment(kafka_bootstrap, pg_dsn)
    replay = Deployment(
        bootstrap=d.bootstrap,
        prefix=d.prefix,
        needs_db=d.needs_db,
        placement_db=d.placement_db,
        reporting_db=replay.reporting_db,
        audit_db=d.audit_db,
        vault_db=d.vault_db,
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
    assert marker not in (await _database_text(replay.reporting_db)).replace(official_id, "")
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert marker not in logged.replace(official_id, "")
    assert birth not in logged
    await asyncio.sleep(0)


async def test_an_erased_key_is_gone_from_the_vaults_own_database_files(
    kafka_bootstrap: str, pg_dsn: str
) -> None:
    """The vault is a database of its own (no key in the service's database or its backups),
    and an erasure leaves no copy of the wrapped key in the table's files (VACUUM FULL)."""
    d = await new_deployment(kafka_bootstrap, pg_dsn)
    official_id = f"NG-{uuid.uuid4().hex[:8]}"
    async with running(needs_app(d)) as needs, running(placement_app(d)) as placement:
        need = await needs.post("/api/needs", json=need_body(), headers=auth.host())
        body = secondment_body(need.json()["need_id"])
        body["official"] = official_body(official_id=official_id)
        made = await eventually(
            lambda: placement.post("/api/secondments", json=body, headers=auth.home()),
            lambda r: r.status_code != 503,
        )
        assert made.status_code == 201, made.text
        engine = make_engine(d.vault_db)
        try:
            async with engine.connect() as conn:
                wrapped = await conn.scalar(
                    text("SELECT wrapped_key FROM official_keys WHERE official_id = :o"),
                    {"o": official_id},
                )
            assert wrapped
            service = make_engine(d.placement_db)
            async with service.connect() as conn:
                tables = set(
                    (
                        await conn.execute(
                            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                        )
                    ).scalars()
                )
            await service.dispose()
            assert tables  # the service's own tables are there…
            assert "official_keys" not in tables  # …and no key among them
            erased = await placement.post(
                f"/api/officials/{official_id}/erasure", headers=auth.headers(*DPO)
            )
            assert erased.status_code == 200, erased.text
            async with engine.connect() as conn:
                raw = await conn.scalar(
                    text("SELECT pg_read_binary_file(pg_relation_filepath('official_keys'))")
                )
        finally:
            await engine.dispose()
        assert wrapped.encode() not in bytes(raw)
