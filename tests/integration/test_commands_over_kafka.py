"""Commands over Kafka on the real broker: agencies write CloudEvents commands to their own
topics and read `CommandAccepted` / `CommandRejected` on their own replies topics.

The agencies' topics are created after the services started (as an operator adds an agency):
the services' pattern subscriptions pick them up without a restart.
"""

import asyncio
import datetime as dt
import json
from typing import Any
from uuid import uuid4

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from shared.contract.commands import CommandReply, commands_topic, replies_topic
from shared.contract.personal import seal_for_intake
from tests import auth
from tests.integration.system import (
    AgencyOnKafka,
    agencies_on_kafka,
    eventually,
    needs_app,
    new_deployment,
    placement_app,
    read_topic,
    running,
)
from tests.samples import ending_body, need_body, official_body, secondment_body

pytestmark = pytest.mark.integration

DPO = ("audit:read",)


def _accepted(reply: CommandReply) -> dict[str, Any]:
    accepted = reply.accepted()
    assert accepted is not None, reply.data
    return accepted.model_dump(mode="json")


def _rejected(reply: CommandReply) -> dict[str, Any]:
    rejected = reply.rejected()
    assert rejected is not None, reply.data
    return rejected.model_dump(mode="json")


async def _history(placement: httpx.AsyncClient, sid: str, who: str) -> list[dict[str, Any]]:
    answer = await placement.get(f"/api/secondments/{sid}/history", headers=auth.home(who))
    assert answer.status_code == 200, answer.text
    events: list[dict[str, Any]] = answer.json()
    return events


async def test_round_trip_accepted_rejected_and_a_duplicate_applied_once(
    kafka_bootstrap: str, pg_dsn: str
) -> None:
    d = await new_deployment(kafka_bootstrap, pg_dsn)
    async with (
        running(needs_app(d)) as needs,
        running(placement_app(d)) as placement,
        agencies_on_kafka(d, "SO_Y_TE", "NAM_GIANG") as agency,
    ):
        host, home = agency["SO_Y_TE"], agency["NAM_GIANG"]

        # Accepted: the reply names the events, which HTTP shows.
        raised = await host.reply(await host.send("RaiseNeed", need_body(positions=2)))
        assert raised.type == "CommandAccepted"
        assert raised.source == "/services/needs"
        need = _accepted(raised)
        assert need["command_type"] == "RaiseNeed"
        assert len(need["event_ids"]) == 1
        nid = need["record_id"]
        shown = await needs.get(f"/api/needs/{nid}", headers=auth.host())
        assert shown.status_code == 200
        assert shown.json()["positions"] == 2

        seconded = _accepted(
            await home.reply(await home.send("SecondOfficial", secondment_body(nid)))
        )
        sid = seconded["record_id"]
        history = await _history(placement, sid, "NAM_GIANG")
        assert [e["id"] for e in history] == seconded["event_ids"]
        assert history[0]["type"] == "OfficerSeconded"
        assert history[0]["actor"] == "NAM_GIANG/kafka"

        # Rejected with its rule code; nothing changes.
        kinh = secondment_body(nid, official=official_body(official_id="NG-9", ethnicity="KINH"))
        refused = await home.reply(await home.send("SecondOfficial", kinh))
        assert refused.type == "CommandRejected"
        assert _rejected(refused)["rule"] == "OFFICIAL_NOT_ETHNIC_MINORITY"
        listed = await placement.get("/api/secondments", headers=auth.home())
        assert [s["secondment_id"] for s in listed.json()["items"]] == [sid]

        # A duplicate is applied once and answered twice, identically.
        reception = {
            "secondment_id": sid,
            "received_on": "2024-09-03",
            "assigned_role": "Phó Trưởng phòng Nghiệp vụ Y",
        }
        cid = await host.send("RecordReception", reception)
        first = await host.reply(cid)
        await host.send("RecordReception", reception, command_id=cid)
        second = await host.reply(cid, count=2)
        assert second == first
        assert second.model_dump_json() == first.model_dump_json()
        history = await _history(placement, sid, "NAM_GIANG")
        received = [e for e in history if e["type"] == "OfficialReceived"]
        assert [e["id"] for e in received] == _accepted(first)["event_ids"]

        raise_again = await host.send("RaiseNeed", need_body(position_title="Chuyên viên"))
        await host.reply(raise_again)
        again = need_body(position_title="Chuyên viên")
        await host.send("RaiseNeed", again, command_id=raise_again)
        await host.reply(raise_again, count=2)
        listed_needs = (await needs.get("/api/needs", headers=auth.host())).json()["items"]
        titles = [n["position_title"] for n in listed_needs]
        assert titles.count("Chuyên viên") == 1

        # The same id for another command, invalid data, an unknown command.
        reused = await host.reply(
            await host.send("RaiseNeed", need_body(positions=5), command_id=raise_again), count=3
        )
        assert _rejected(reused)["rule"] == "INVALID_REQUEST"
        invalid = _rejected(await host.reply(await host.send("AmendNeed", {"positions": 2})))
        assert invalid["rule"] == "INVALID_REQUEST"
        assert invalid["errors"][0]["loc"] == ["data", "need_id"]
        unknown = _rejected(await host.reply(await host.send("FireEveryone", {})))
        assert (unknown["rule"], unknown["command_type"]) == ("INVALID_REQUEST", "FireEveryone")

        # A later command on the ended secondment: the rule code of the refusal.
        await home.reply(await home.send("EndSecondment", ending_body() | {"secondment_id": sid}))
        extension = {
            "secondment_id": sid,
            "new_planned_end_date": "2025-02-28",
            "decision": {"number": "9/QĐ", "date": "2025-01-10"},
        }
        late = await home.send("ExtendSecondment", extension)
        assert _rejected(await home.reply(late))["rule"] == "LIFECYCLE_ORDER"

        # A record no service can answer is parked in the topic's dead-letter topic.
        topic = commands_topic("SO_Y_TE", d.prefix)
        await host.producer.send_and_wait(topic, value=b"not a command")
        parked = await eventually(lambda: read_topic(d.bootstrap, f"{topic}.dlq"), bool)
        assert {r.value for r in parked} == {b"not a command"}
        assert {dict(r.headers)["x-dlq-group"] for r in parked} <= {
            f"{d.prefix}needs.commands".encode(),
            f"{d.prefix}placement.commands".encode(),
        }

        # Every command is in the audit log, under the topic's agency.
        audit = await needs.get("/api/audit?limit=500", headers=auth.headers("SO_NOI_VU", *DPO))
        kafka = [e for e in audit.json()["items"] if e["channel"] == "kafka"]
        outcomes = {(e["agency"], e["action"], e["outcome"], e["rule"]) for e in kafka}
        assert {
            ("SO_Y_TE", "RaiseNeed", "ACCEPTED", None),
            ("SO_Y_TE", "RaiseNeed", "REPLAYED", None),
            ("SO_Y_TE", "RecordReception", "REPLAYED", None),
            ("SO_Y_TE", "AmendNeed", "REFUSED", "INVALID_REQUEST"),
            ("NAM_GIANG", "SecondOfficial", "ACCEPTED", None),
            ("NAM_GIANG", "SecondOfficial", "REFUSED", "OFFICIAL_NOT_ETHNIC_MINORITY"),
        } <= outcomes
        assert {e["subject"] for e in kafka} == {"kafka"}


HOSTS = ("SO_Y_TE", "SO_GIAO_DUC_DAO_TAO")
SECTOR = {"SO_Y_TE": "HEALTH", "SO_GIAO_DUC_DAO_TAO": "EDUCATION"}
"""A sector each host covers (a need in another is refused: SECTOR_NOT_COVERED)."""
HOMES = ("NAM_GIANG", "TAY_GIANG")


async def test_each_agency_trying_every_other_agencys_records_over_kafka_is_refused(
    kafka_bootstrap: str, pg_dsn: str
) -> None:
    d = await new_deployment(kafka_bootstrap, pg_dsn)
    async with (
        running(needs_app(d)) as needs,
        running(placement_app(d)) as placement,
        agencies_on_kafka(d, *HOSTS, *HOMES) as agency,
    ):
        # Each host's need, each home's secondment to one of them.
        need: dict[str, str] = {}
        for host in HOSTS:
            body = need_body(host_unit=host, sector=SECTOR[host], positions=3)
            raised = await agency[host].reply(await agency[host].send("RaiseNeed", body))
            need[host] = _accepted(raised)["record_id"]
        secondment: dict[str, str] = {}
        parties: dict[str, set[str]] = {}
        for home, host in zip(HOMES, HOSTS, strict=True):
            official = official_body(official_id=f"{home}-1", home_unit=home)
            body = secondment_body(need[host], official=official)
            seconded = await agency[home].reply(await agency[home].send("SecondOfficial", body))
            sid = _accepted(seconded)["record_id"]
            secondment[sid] = home
            parties[sid] = {home, host}
        before = {sid: await _history(placement, sid, home) for sid, home in secondment.items()}

        # Every agency, every record that is not its own, every command.
        attempts: list[tuple[AgencyOnKafka, str, str]] = []

        async def attempt(who: str, kind: str, data: dict[str, Any]) -> None:
            attempts.append((agency[who], await agency[who].send(kind, data), f"{who} {kind}"))

        for who in (*HOSTS, *HOMES):
            for host, nid in need.items():
                if who == host:
                    continue
                await attempt(who, "AmendNeed", {"need_id": nid, "positions": 1})
                await attempt(who, "WithdrawNeed", {"need_id": nid, "reason": "Không cần"})
                await attempt(who, "RaiseNeed", need_body(host_unit=host))
            for sid, home in secondment.items():
                if who in parties[sid]:
                    continue
                target = {"secondment_id": sid}
                reception = {"received_on": "2024-09-03", "assigned_role": "Chuyên viên"}
                extension = {
                    "new_planned_end_date": "2025-02-28",
                    "decision": {"number": "1/QĐ", "date": "2024-10-01"},
                }
                post = {"arrangement": "OTHER", "effective_date": "2025-03-01"}
                theirs = official_body(official_id="X-1", home_unit=home)
                await attempt(who, "RecordReception", target | reception)
                await attempt(who, "ExtendSecondment", target | extension)
                await attempt(who, "EndSecondment", target | ending_body())
                await attempt(who, "ArrangePostSecondment", target | post)
                promotion = {
                    "new_position_rank": "TRUONG_PHONG",
                    "promoted_on": "2025-06-01",
                    "decision": {"number": "2/QĐ", "date": "2025-06-01"},
                }
                await attempt(who, "RecordPromotionAfterReturn", target | promotion)
                await attempt(who, "CancelSecondment", target | {"reason": "Nhầm"})
                await attempt(
                    who, "SecondOfficial", secondment_body(need[HOSTS[0]], official=theirs)
                )
        # The payload never names the agency: the topic does.
        await attempt("TAY_GIANG", "AmendNeed", {"need_id": need["SO_Y_TE"], "positions": 1})
        claiming = await agency["TAY_GIANG"].send(
            "RaiseNeed", need_body(), agency="SO_Y_TE", actor="SO_Y_TE"
        )
        attempts.append((agency["TAY_GIANG"], claiming, "TAY_GIANG claiming to be SO_Y_TE"))

        replies = await asyncio.gather(*(a.reply(cid) for a, cid, _ in attempts))
        outcomes = [
            (what, r.type, r.data.get("rule"))
            for (_, _, what), r in zip(attempts, replies, strict=True)
        ]
        assert len(outcomes) >= 40
        refused = [o for o in outcomes if o[1:] == ("CommandRejected", "FORBIDDEN")]
        assert refused == outcomes

        # Nothing changed.
        for sid, home in secondment.items():
            assert await _history(placement, sid, home) == before[sid]
        for host, nid in need.items():
            shown = (await needs.get(f"/api/needs/{nid}", headers=auth.host(host))).json()
            assert (shown["positions"], shown["status"]) == (3, "OPEN")
        listed = await needs.get("/api/needs", headers=auth.reader())
        assert len(listed.json()["items"]) == len(HOSTS)
        dpo = auth.headers("SO_NOI_VU", *DPO)
        audited = await eventually(
            lambda: needs.get("/api/audit?limit=500&action=AmendNeed", headers=dpo),
            lambda r: len(r.json()["items"]) >= 7,
        )
        assert {e["rule"] for e in audited.json()["items"]} == {"FORBIDDEN"}


async def _retention_ms(bootstrap: str, topics: list[str]) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, t) for t in topics]
        )
    finally:
        await admin.close()
    found: dict[str, int] = {}
    for response in described:
        for resource in response.to_object()["resources"]:
            configs = {c["config_names"]: c["config_value"] for c in resource["config_entries"]}
            found[resource["resource_name"]] = int(configs["retention.ms"])
    return found


async def test_an_identity_sealed_by_the_agency_crosses_kafka_unreadable_and_not_for_ever(
    kafka_bootstrap: str, pg_dsn: str
) -> None:
    d = await new_deployment(kafka_bootstrap, pg_dsn)
    marker = uuid4().hex[:8]
    name = f"Hồ Văn Kín {marker}"
    async with (
        running(needs_app(d)) as needs,
        running(placement_app(d)) as placement,
        agencies_on_kafka(d, "SO_Y_TE", "NAM_GIANG") as agency,
    ):
        host, home = agency["SO_Y_TE"], agency["NAM_GIANG"]
        nid = _accepted(await host.reply(await host.send("RaiseNeed", need_body())))["record_id"]
        assert (await needs.get(f"/api/needs/{nid}", headers=auth.host())).status_code == 200

        # The agency fetches the published key and seals the identity for it.
        jwk = (await placement.get("/api/personal-data/intake-key")).json()
        assert (jwk["kty"], jwk["crv"]) == ("OKP", "X25519")
        assert "d" not in jwk
        official_id = f"NG-{marker}"
        sealed = seal_for_intake(jwk, official_id, name, dt.date(1984, 5, 6))
        official = official_body(official_id=official_id)
        del official["full_name"], official["birth_date"]
        official["identity_sealed"] = sealed.model_dump()
        body = secondment_body(nid, official=official)
        seconded = _accepted(await home.reply(await home.send("SecondOfficial", body)))
        shown = await placement.get(
            f"/api/secondments/{seconded['record_id']}", headers=auth.home()
        )
        assert shown.json()["official"]["full_name"] == name
        assert shown.json()["official"]["birth_date"] == "1984-05-06"

        # Sealed for another official (moved from one command to another): refused, and the
        # refusal names no one.
        moved = secondment_body(nid, official=official | {"official_id": f"NG-{marker}-2"})
        refused = _rejected(await home.reply(await home.send("SecondOfficial", moved)))
        assert refused["rule"] == "INVALID_REQUEST"
        assert name not in str(refused)

        # What an unreadable command leaves on the dead-letter topic holds no name either.
        topic = commands_topic("NAM_GIANG", d.prefix)
        poison = json.dumps({"type": "SecondOfficial", "data": body}).encode()
        await home.producer.send_and_wait(topic, value=poison)
        parked = await eventually(lambda: read_topic(d.bootstrap, f"{topic}.dlq"), bool)
        records = [*await read_topic(d.bootstrap, topic), *parked]
        on_topics = b"".join((r.value or b"") + b"".join(v for _, v in r.headers) for r in records)
        assert parked
        assert name.encode() not in on_topics
        assert marker.encode() in on_topics  # the pseudonym, in clear

        # Command topics keep records days, not for ever (the event topics are the history).
        replies = replies_topic("NAM_GIANG", d.prefix)
        retention = await _retention_ms(d.bootstrap, [topic, f"{topic}.dlq", replies])
        week = 7 * 24 * 3600 * 1000
        assert retention == {topic: week, f"{topic}.dlq": week, replies: week}
