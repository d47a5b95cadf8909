"""deploy/k8s/ rendered as `kubectl apply -k` would send it, for tests/unit/test_k8s*.py.

Rendering is Kustomize's own (`kubectl kustomize`, or a standalone `kustomize build`): offline,
no cluster. Without either binary the tests fail, saying so: a skipped check of the manifests
would pass a broken deployment.
"""

import base64
import functools
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
OVERLAY = K8S / "overlays" / "example"
STRIMZI = "kafka.strimzi.io/v1beta2"

Doc = dict[str, Any]


def _kustomize_command(directory: Path) -> list[str]:
    kubectl = shutil.which("kubectl")
    if kubectl:
        return [kubectl, "kustomize", str(directory)]
    kustomize = shutil.which("kustomize")
    if kustomize:
        return [kustomize, "build", str(directory)]
    pytest.fail(
        "neither kubectl nor kustomize is on PATH: deploy/k8s/ cannot be rendered. Install "
        "kubectl (it embeds Kustomize; e.g. the distribution's kubectl package) and run again."
    )


@functools.cache
def _render(directory: Path) -> tuple[Doc, ...]:
    result = subprocess.run(
        _kustomize_command(directory), capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"kustomize failed on {directory}:\n{result.stderr}"
    docs = tuple(d for d in yaml.safe_load_all(result.stdout) if d)
    assert docs, f"{directory} renders nothing"
    return docs


def render(directory: Path) -> list[Doc]:
    """The objects `directory` renders to (a fresh list; the render itself is cached)."""
    return list(_render(directory))


def of_kind(docs: list[Doc], kind: str) -> dict[str, Doc]:
    """The objects of `kind`, by name."""
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def only(docs: list[Doc], kind: str, name: str) -> Doc:
    """The one object of `kind` whose name is `name`, or whose name is `name-<hash>` (a
    generated Secret or ConfigMap)."""
    found = [
        d
        for n, d in of_kind(docs, kind).items()
        if n == name or (n.startswith(f"{name}-") and kind in ("Secret", "ConfigMap"))
    ]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def pod_spec(workload: Doc) -> Doc:
    """The pod template's spec of a Deployment or a Job."""
    spec: Doc = workload["spec"]["template"]["spec"]
    return spec


def container(workload: Doc) -> Doc:
    """The workload's one container."""
    containers = pod_spec(workload)["containers"]
    assert len(containers) == 1, f"{workload['metadata']['name']}: one container expected"
    main: Doc = containers[0]
    return main


def _secret_value(docs: list[Doc], name: str, key: str) -> str:
    secret = of_kind(docs, "Secret").get(name)
    assert secret is not None, f"no Secret {name} is rendered"
    if key in secret.get("stringData", {}):
        return str(secret["stringData"][key])
    assert key in secret.get("data", {}), f"Secret {name} has no key {key}"
    return base64.b64decode(secret["data"][key]).decode()


def environment(docs: list[Doc], workload: Doc) -> dict[str, str]:
    """The container's environment with every Secret and ConfigMap reference resolved from
    the same render (an unresolvable reference fails)."""
    main = container(workload)
    assert not main.get("envFrom"), "envFrom would hide variable names from the settings check"
    resolved: dict[str, str] = {}
    for var in main.get("env", []):
        source = var.get("valueFrom")
        if source is None:
            resolved[var["name"]] = str(var.get("value", ""))
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            resolved[var["name"]] = _secret_value(docs, ref["name"], ref["key"])
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            config = of_kind(docs, "ConfigMap").get(ref["name"])
            assert config is not None, f"no ConfigMap {ref['name']} is rendered"
            resolved[var["name"]] = str(config["data"][ref["key"]])
        else:
            raise AssertionError(f"{var['name']}: unexpected source {source}")
    return resolved
