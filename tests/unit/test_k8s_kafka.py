"""deploy/k8s/'s Strimzi resources: a KafkaTopic for every topic the platform uses and a
KafkaUser per principal with exactly the ACLs deploy/kafka/acls.sh grants.

No schema of the Strimzi CRDs is bundled anywhere offline, so their shape is checked here by
hand (the fields the operators require, the values they accept). The ACLs are compared with
what the script really does: it runs against a stand-in `KAFKA_HOME` whose `kafka-*.sh` tools
only record their arguments.
"""

import inspect
import itertools
import os
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from shared.contract.commands import agency_of, commands_topic, replies_topic
from shared.contract.topics import TOPIC_OF_EVENT
from shared.infra.kafka_auth import KafkaSecuritySettings
from shared.infra.kafka_topics import ensure_topics
from shared.reference.catalog import reference_data
from tests.k8s_manifests import BASE, OVERLAY, ROOT, STRIMZI, Doc, of_kind, render
from tests.settings_env import SERVICES

ACLS_SH = ROOT / "deploy" / "kafka" / "acls.sh"
CLUSTER = "secondment"
# Replicated on three brokers, two in sync (docs/reliability.md, deploy/README.md).
REPLICAS, MIN_INSYNC = 3, 2
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
ACL_RESOURCES = {"topic", "group", "cluster", "transactionalId"}
ACL_OPERATIONS = {"Read", "Write", "Create", "Delete", "Alter", "Describe", "ClusterAction",
                  "AlterConfigs", "DescribeConfigs", "IdempotentWrite", "All"}  # fmt: skip
RENDERS = {"base": BASE, "overlay": OVERLAY}

Acl = tuple[str, str, str, str, str]
"""(principal, resource type, resource name, pattern type, operation)."""


def _event_topics() -> set[str]:
    topics = set(TOPIC_OF_EVENT.values())
    return topics | {f"{t}.dlq" for t in topics}


def _topics(docs: list[Doc]) -> dict[str, Doc]:
    """The KafkaTopics by Kafka topic name."""
    return {t["spec"]["topicName"]: t for t in of_kind(docs, "KafkaTopic").values()}


def _agencies(docs: list[Doc]) -> set[str]:
    return {a for a in map(agency_of, _topics(docs)) if a}


def _principal(acls_sh_name: str) -> str:
    """The KafkaUser of one of acls.sh's principals: Kubernetes names are lower case DNS
    names, so `agency-SO_Y_TE` is `agency-so-y-te`."""
    return acls_sh_name.lower().replace("_", "-")


# --------------------------------------------------------------------------- acls.sh, recorded


def _run_acls_sh(tmp: Path, *args: str) -> list[list[str]]:
    """The Kafka tool runs `acls.sh ARGS` makes, each as its argument list (tool name first)."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp / "calls"
    for tool in ("acls", "topics", "configs"):
        stub = bin_dir / f"kafka-{tool}.sh"
        stub.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{log}"\n', encoding="utf-8")
        stub.chmod(0o755)
    env = {"PATH": os.environ["PATH"], "KAFKA_HOME": str(tmp), "KAFKA_ADMIN_PASSWORD": "x"}
    result = subprocess.run(
        ["bash", str(ACLS_SH), *args], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    return [line.split() for line in log.read_text(encoding="utf-8").splitlines()]


def _granted(calls: Iterable[list[str]]) -> set[Acl]:
    acls: set[Acl] = set()
    for call in calls:
        if call[0] != "acls" or "--add" not in call:
            continue
        options: dict[str, list[str]] = {}
        for flag, value in itertools.pairwise(call):
            if flag.startswith("--"):
                options.setdefault(flag[2:], []).append(value)
        pattern = {"LITERAL": "literal", "PREFIXED": "prefix"}[options["resource-pattern-type"][0]]
        acls |= {
            (_principal(p.removeprefix("User:")), kind, name, pattern, op)
            for p in options["allow-principal"]
            for op in options["operation"]
            for kind in ("topic", "group")
            for name in options.get(kind, [])
        }
    return acls


@pytest.fixture(scope="module")
def acls_sh_services(tmp_path_factory: pytest.TempPathFactory) -> list[list[str]]:
    return _run_acls_sh(tmp_path_factory.mktemp("services"), "services")


@pytest.fixture(scope="module")
def acls_sh_agencies(tmp_path_factory: pytest.TempPathFactory) -> list[list[str]]:
    agencies = sorted(_agencies(render(OVERLAY)))
    assert agencies, "the example overlay declares no agency"
    return _run_acls_sh(tmp_path_factory.mktemp("agencies"), "agency", *agencies)


def _declared(docs: list[Doc]) -> set[Acl]:
    return {
        (name, rule["resource"]["type"], rule["resource"]["name"],
         rule["resource"]["patternType"], op)
        for name, user in of_kind(docs, "KafkaUser").items()
        for rule in user["spec"]["authorization"]["acls"]
        for op in rule["operations"]
    }  # fmt: skip


# --------------------------------------------------------------------------- shape


@pytest.mark.parametrize("which", sorted(RENDERS))
def test_strimzi_resources_are_well_formed(which: str) -> None:
    docs = [d for d in render(RENDERS[which]) if d["apiVersion"].startswith("kafka.strimzi.io")]
    assert docs
    for doc in docs:
        what = f"{which}: {doc['kind']} {doc['metadata']['name']}"
        assert doc["apiVersion"] == STRIMZI, what
        assert doc["kind"] in ("KafkaTopic", "KafkaUser"), what
        assert DNS_SUBDOMAIN.fullmatch(doc["metadata"]["name"]), f"{what}: not a Kubernetes name"
        assert doc["metadata"]["labels"]["strimzi.io/cluster"] == CLUSTER, what
        spec: dict[str, Any] = doc["spec"]
        if doc["kind"] == "KafkaTopic":
            assert isinstance(spec["topicName"], str), what
            assert spec["topicName"], what
            assert (spec["partitions"], spec["replicas"]) == (3, REPLICAS), what
            assert spec["config"]["min.insync.replicas"] == MIN_INSYNC, what
            assert spec["config"]["cleanup.policy"] == "delete", what
            continue
        assert spec["authentication"]["type"] == "scram-sha-512", what
        password = spec["authentication"].get("password")
        if password is not None:
            assert set(password["valueFrom"]["secretKeyRef"]) == {"name", "key"}, what
        assert spec["authorization"]["type"] == "simple", what
        for rule in spec["authorization"]["acls"]:
            assert rule["resource"]["type"] in ACL_RESOURCES, what
            assert rule["resource"]["patternType"] in ("literal", "prefix"), what
            assert rule["operations"], what
            assert set(rule["operations"]) <= ACL_OPERATIONS, what


# --------------------------------------------------------------------------- topics


def test_every_event_topic_and_its_dead_letters_has_a_kafka_topic() -> None:
    assert set(_topics(render(BASE))) == _event_topics()


def test_each_agency_of_the_overlay_has_its_three_topics_and_nothing_else() -> None:
    docs = render(OVERLAY)
    agencies = _agencies(docs)
    units = {unit.code for unit in reference_data().units()}
    assert agencies, "the example overlay declares no agency"
    assert agencies <= units, f"not unit codes: {sorted(agencies - units)}"
    per_agency = {
        t
        for a in agencies
        for t in (commands_topic(a), replies_topic(a), f"{commands_topic(a)}.dlq")
    }
    assert set(_topics(docs)) == _event_topics() | per_agency


def test_topics_are_kept_as_the_services_and_acls_sh_keep_them(
    acls_sh_agencies: list[list[str]],
) -> None:
    topics = _topics(render(OVERLAY))
    partitions = inspect.signature(ensure_topics).parameters["partitions"].default
    hours = KafkaSecuritySettings.model_fields["kafka_command_retention_hours"].default
    created = {
        call[call.index("--topic") + 1]: call for call in acls_sh_agencies if call[0] == "topics"
    }
    for name, topic in topics.items():
        assert topic["spec"]["partitions"] == partitions, name
        retention = topic["spec"]["config"]["retention.ms"]
        if name in _event_topics():
            assert retention == -1, f"{name}: the events are the system of record"
            continue
        assert retention == hours * 3600 * 1000, f"{name}: commands are kept {hours} h"
        call = created[name]  # acls.sh creates every agency topic this overlay declares
        assert f"retention.ms={retention}" in call, call
        assert call[call.index("--partitions") + 1] == str(partitions), call


# --------------------------------------------------------------------------- users and ACLs


def test_the_base_users_have_exactly_what_acls_sh_services_grants(
    acls_sh_services: list[list[str]],
) -> None:
    granted = _granted(acls_sh_services)
    assert {p for p, *_ in granted} == set(SERVICES)
    assert set(of_kind(render(BASE), "KafkaUser")) == set(SERVICES)
    declared = _declared(render(BASE))
    assert declared == granted, (
        f"only in deploy/k8s: {sorted(declared - granted)}; "
        f"only in acls.sh: {sorted(granted - declared)}"
    )


def test_the_overlay_users_add_exactly_what_acls_sh_agency_grants(
    acls_sh_services: list[list[str]], acls_sh_agencies: list[list[str]]
) -> None:
    granted = _granted(acls_sh_services) | _granted(acls_sh_agencies)
    declared = _declared(render(OVERLAY))
    assert declared == granted, (
        f"only in deploy/k8s: {sorted(declared - granted)}; "
        f"only in acls.sh: {sorted(granted - declared)}"
    )


def test_each_service_user_takes_its_password_from_the_secret_its_pods_read() -> None:
    docs = render(OVERLAY)
    for name in SERVICES:
        user = of_kind(docs, "KafkaUser")[name]["spec"]["authentication"]["password"]
        deployment = of_kind(docs, "Deployment")[name]
        env = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        pod = env[f"{name.upper()}_KAFKA_PASSWORD"]["valueFrom"]
        assert pod == user["valueFrom"], f"{name}: the pods and the KafkaUser differ"
