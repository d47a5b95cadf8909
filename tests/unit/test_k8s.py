"""deploy/k8s/ renders, is valid Kubernetes and agrees with the code.

Both the base and the example overlay are rendered with Kustomize (offline, no cluster) and
every core object is validated against the Kubernetes OpenAPI schemas bundled with the
`kubernetes-validate` package, strictly (an unknown field fails). The workloads are then held
to the settings classes, as tests/unit/test_compose.py holds docker-compose.yml: only
variables a settings class reads, every secret a service refuses to start without, probes on
/healthz and /readyz. The Strimzi topics and users: tests/unit/test_k8s_kafka.py.
"""

import base64
import copy
import inspect
from typing import Any

import kubernetes_validate
import pytest
from sqlalchemy.engine import make_url

from shared.infra import audit_migrate
from shared.infra.deployment import missing_secrets, plaintext_kafka
from shared.infra.logs import FORMAT_ENV, LEVEL_ENV
from tests.k8s_manifests import (
    BASE,
    OVERLAY,
    STRIMZI,
    Doc,
    container,
    environment,
    of_kind,
    only,
    pod_spec,
    render,
)
from tests.settings_env import SERVICES, SETTINGS, known_variables, settings_model

# The oldest Kubernetes release the manifests promise to work on; its schemas are bundled.
KUBERNETES_VERSION = "1.30"
# Variables the code reads outside the settings classes (shared/infra/logs.py).
PROCESS_VARIABLES = {FORMAT_ENV, LEVEL_ENV}
# What `python -m services.<name>` refuses to start without (its `run_service(…)` call).
SECRETS_AT_START = {
    "needs": ("programme_key",),
    "placement": ("programme_key", "master_key"),
    "reporting": ("programme_key",),
}
# Secrets the Strimzi operator makes, not the overlay: the cluster CA of the cluster `secondment`.
OPERATOR_SECRETS = {"secondment-cluster-ca-cert"}
RENDERS = {"base": BASE, "overlay": OVERLAY}


@pytest.fixture(scope="module")
def overlay() -> list[Doc]:
    return render(OVERLAY)


def _deployment(docs: list[Doc], name: str) -> Doc:
    return only(docs, "Deployment", name)


def _http_port(name: str) -> int:
    port = SETTINGS[name].model_fields["http_port"].default
    assert isinstance(port, int)
    return port


# --------------------------------------------------------------------------- schemas


@pytest.mark.parametrize("which", sorted(RENDERS))
def test_every_core_object_is_valid_against_the_kubernetes_schemas(which: str) -> None:
    docs = render(RENDERS[which])
    core = [d for d in docs if d["apiVersion"] != STRIMZI]
    assert {"Deployment", "Service", "PodDisruptionBudget", "Job"} <= {d["kind"] for d in core}
    for doc in core:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{which}: {doc['kind']} {doc['metadata']['name']}: {error}")


def test_the_schema_check_refuses_an_unknown_field(overlay: list[Doc]) -> None:
    """The validation above is not vacuous: a misspelt field is refused."""
    deployment = copy.deepcopy(_deployment(overlay, "needs"))
    container(deployment)["livenesProbe"] = {"httpGet": {"path": "/healthz", "port": "http"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


# --------------------------------------------------------------------------- workloads


def test_every_workload_runs_the_one_image(overlay: list[Doc]) -> None:
    workloads = [*of_kind(overlay, "Deployment").values(), *of_kind(overlay, "Job").values()]
    images = {c["image"] for w in workloads for c in pod_spec(w)["containers"]}
    assert images == {"registry.example.org/secondment/secondment:0.0.0-example"}, images
    base = render(BASE)
    assert {c["image"] for d in base if d["kind"] in ("Deployment", "Job")
            for c in pod_spec(d)["containers"]} == {"secondment"}  # fmt: skip


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_is_two_replicas_of_its_module(overlay: list[Doc], name: str) -> None:
    deployment = _deployment(overlay, name)
    assert deployment["spec"]["replicas"] == 2
    assert container(deployment)["command"] == ["python", "-m", f"services.{name}"]
    rolling = deployment["spec"]["strategy"]["rollingUpdate"]
    assert rolling["maxUnavailable"] == 0, f"{name}: a rollout must not stop a replica first"


@pytest.mark.parametrize("name", SERVICES)
def test_probes_get_healthz_and_readyz_on_the_http_port(overlay: list[Doc], name: str) -> None:
    main = container(_deployment(overlay, name))
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    assert ports == {"http": _http_port(name)}
    expected = {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    for probe, path in expected.items():
        get = main[probe]["httpGet"]
        assert (get["path"], ports.get(get["port"], get["port"])) == (path, _http_port(name)), (
            f"{name}'s {probe} gets {get}, not {path} on {_http_port(name)}"
        )


@pytest.mark.parametrize("name", SERVICES)
def test_prometheus_scrapes_metrics_on_the_http_port(overlay: list[Doc], name: str) -> None:
    annotations = _deployment(overlay, name)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(_http_port(name))
    assert annotations["prometheus.io/path"] == "/metrics"


@pytest.mark.parametrize("kind", ["Deployment", "Job"])
def test_workloads_have_resources_and_run_unprivileged(overlay: list[Doc], kind: str) -> None:
    for name, workload in of_kind(overlay, kind).items():
        main = container(workload)
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(main["resources"].get(bound, {})), f"{name}: {bound}"
        pod = pod_spec(workload)["securityContext"]
        assert pod["runAsNonRoot"] is True, f"{name} may run as root"
        assert pod["runAsUser"] != 0, f"{name} runs as root"
        own = main["securityContext"]
        assert own["allowPrivilegeEscalation"] is False, name
        assert own["readOnlyRootFilesystem"] is True, name
        assert own["capabilities"]["drop"] == ["ALL"], name
        assert pod_spec(workload)["automountServiceAccountToken"] is False, name


@pytest.mark.parametrize("name", SERVICES)
def test_service_and_disruption_budget_select_the_pods(overlay: list[Doc], name: str) -> None:
    labels = _deployment(overlay, name)["spec"]["template"]["metadata"]["labels"]
    service = only(overlay, "Service", name)
    assert service["spec"]["selector"].items() <= labels.items()
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [
        (_http_port(name), "http")
    ]
    budget = only(overlay, "PodDisruptionBudget", name)
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert budget["spec"]["minAvailable"] == 1, "one of the two replicas stays up"


def test_the_audit_store_is_migrated_by_a_job_with_the_owners_credentials(
    overlay: list[Doc],
) -> None:
    job = only(overlay, "Job", "audit-migrate")
    assert container(job)["command"] == ["python", "-m", "shared.infra.audit_migrate"]
    assert set(environment(overlay, job)) == {"AUDIT_DATABASE_URL"}
    assert '"AUDIT_DATABASE_URL"' in inspect.getsource(audit_migrate), "the Job's variable"
    assert make_url(environment(overlay, job)["AUDIT_DATABASE_URL"]).username == "audit"
    owner = container(job)["env"][0]["valueFrom"]["secretKeyRef"]["name"]
    for name in SERVICES:
        refs = str(_deployment(overlay, name))
        assert owner not in refs, f"{name}'s pods can read the audit store owner's password"


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_migrates_its_databases_in_an_init_container(
    overlay: list[Doc], name: str
) -> None:
    deployment = _deployment(overlay, name)
    (init,) = deployment["spec"]["template"]["spec"]["initContainers"]
    main = container(deployment)
    assert init["command"] == ["python", "-m", f"services.{name}", "migrate"]
    assert init["image"] == main["image"]
    given = {e["name"]: e.get("valueFrom") for e in init["env"]}
    same = {e["name"]: e.get("valueFrom") for e in main["env"]}
    assert {k: same.get(k) for k in given} == given, "the service's own Secrets, no others"
    prefix = name.upper()
    assert {f"{prefix}_DATABASE_URL", f"{prefix}_PROGRAMME_KEY"} <= set(given)
    if name == "placement":
        assert {"PLACEMENT_VAULT_URL", "PLACEMENT_MASTER_KEY"} <= set(given)
    assert not any("KAFKA" in k for k in given), "migrating needs no Kafka"


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize("which", sorted(RENDERS))
@pytest.mark.parametrize("name", SERVICES)
def test_every_environment_variable_is_one_the_code_reads(which: str, name: str) -> None:
    main = container(_deployment(render(RENDERS[which]), name))
    assert not main.get("envFrom"), "envFrom would hide variable names from this check"
    unknown = {v["name"] for v in main["env"]} - known_variables(name) - PROCESS_VARIABLES
    assert not unknown, (
        f"{name} is given {sorted(unknown)}, which {SETTINGS[name].__name__} does not read"
    )


@pytest.mark.parametrize("name", SERVICES)
def test_the_service_would_start_with_this_environment(overlay: list[Doc], name: str) -> None:
    """The settings class accepts the environment, and `python -m services.<name>` would not
    refuse it (no secret missing, Kafka authenticated)."""
    env = environment(overlay, _deployment(overlay, name))
    settings: Any = settings_model(name, env)
    assert missing_secrets(settings, SECRETS_AT_START[name]) == []
    assert plaintext_kafka(settings) is None
    assert settings.kafka_security_protocol == "SASL_SSL", "a cluster spans hosts: TLS"
    assert settings.kafka_username == name, "the KafkaUser (and acls.sh's principal) is the name"
    assert env[FORMAT_ENV] == "json", "a cluster's log collector reads one JSON object a line"
    assert (settings.kafka_replication_factor, settings.kafka_min_insync_replicas) == (3, 2)


def test_each_service_has_its_own_database_and_all_share_one_audit_store(
    overlay: list[Doc],
) -> None:
    settings: dict[str, Any] = {
        name: settings_model(name, environment(overlay, _deployment(overlay, name)))
        for name in SERVICES
    }
    databases = {name: make_url(s.database_url).database for name, s in settings.items()}
    assert len(set(databases.values())) == len(databases), f"a shared database: {databases}"
    drivers = {make_url(s.database_url).drivername for s in settings.values()}
    assert drivers == {"postgresql+asyncpg"}, drivers
    audit = {s.audit_database_url for s in settings.values()}
    assert len(audit) == 1, f"the services audit to different stores: {audit}"
    assert make_url(audit.pop()).username == "audit_writer", "services may only append"
    vault = make_url(settings["placement"].vault_database_url()).database
    assert vault not in databases.values(), "the key vault needs a database of its own"


@pytest.mark.parametrize("name", SERVICES)
def test_mounted_files_are_where_the_settings_look(overlay: list[Doc], name: str) -> None:
    deployment = _deployment(overlay, name)
    settings: Any = settings_model(name, environment(overlay, deployment))
    volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in container(deployment)["volumeMounts"]}
    for path in (settings.auth_issuers_file, settings.kafka_ssl_cafile):
        volume = mounts.get(str(path.parent))
        assert volume is not None, f"{name}: nothing is mounted at {path.parent}"
        secret = volume["secret"]
        items = {i["path"]: i["key"] for i in secret.get("items", [])} or None
        key = items[path.name] if items else path.name
        if secret["secretName"] not in OPERATOR_SECRETS:
            assert key in only(overlay, "Secret", secret["secretName"])["data"], f"{name}: {key}"


# --------------------------------------------------------------------------- secrets


def test_every_secret_a_workload_names_is_rendered(overlay: list[Doc]) -> None:
    secrets = set(of_kind(overlay, "Secret")) | OPERATOR_SECRETS
    named = set()
    for workload in [*of_kind(overlay, "Deployment").values(), *of_kind(overlay, "Job").values()]:
        named |= {v["secret"]["secretName"] for v in pod_spec(workload).get("volumes", [])
                  if "secret" in v}  # fmt: skip
        environment(overlay, workload)  # fails on a reference that does not resolve
    for user in of_kind(overlay, "KafkaUser").values():
        password = user["spec"]["authentication"].get("password")
        if password:
            named.add(password["valueFrom"]["secretKeyRef"]["name"])
    assert named - secrets == set(), f"named but not rendered: {sorted(named - secrets)}"


def test_the_example_overlay_holds_no_real_secret(overlay: list[Doc]) -> None:
    """Placeholders only: a real credential committed here would be a leak."""
    for name, secret in of_kind(overlay, "Secret").items():
        for key in secret.get("data", {}):
            value = base64.b64decode(secret["data"][key]).decode()
            placeholder = "CHANGE-ME" in value or value.strip() == "[]"
            assert placeholder, f"{name}/{key} is not a placeholder"


def test_the_base_holds_no_secret() -> None:
    assert not of_kind(render(BASE), "Secret"), "Secrets belong to an overlay"
