"""Schemathesis against the OpenAPI of every HTTP service, with and without valid tokens.

The embedded default serves the needs, placement and reporting services (with the reference,
contract and health routes each of them has) from one app, and its document holds every
operation of each service's own document, unchanged (checked below). Every operation present
when the module is collected is fuzzed in three identities: no token, the agency that acts
through that service with its scopes (`WRITERS`), and leadership reading reports. Every answer
must be below 500, with a documented status code and content type, and a body matching its
schema. Generated requests mix in real codes and the ids of records made beforehand, so they
reach the rules and the records, not only validation.

Bounded for the suite (`MAX_EXAMPLES` per operation and identity, beside Schemathesis' own
coverage cases) and deterministic (fixed seed, derandomized Hypothesis, no example database).
"""

import datetime as dt
import tempfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.hypothesis.builder import ApiOperationMark
from schemathesis.python.asgi import ASGIClient, get_client, shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services import openapi
from services.embedded.app import create_embedded_app
from shared.http.tokens import DevIssuer
from shared.phases import DEFAULT_PHASES
from shared.reference import reference_data
from tests import auth
from tests.samples import need_body, official_body, secondment_body

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = 25
SEED = 20240901

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _embedded_document() -> dict[str, Any]:
    """The embedded app's OpenAPI document, built without starting the app."""
    with tempfile.TemporaryDirectory(prefix="secondment-openapi-") as folder:
        return create_embedded_app(Path(folder) / "var").openapi()


DICTIONARIES: dict[str, list[str]] = {
    "units": ["SO_Y_TE", "SO_NOI_VU", "UBND_TINH", "NAM_GIANG", "NAM_TRA_MY", "TAM_KY"],
    "sectors": [s.code for s in reference_data().sectors()],
    "ranks": [r.code for r in reference_data().ranks()],
    "ethnicities": ["CO_TU", "XO_DANG", "GIE_TRIENG", "KINH"],
    "phases": [p.phase_id for p in DEFAULT_PHASES],
    "dates": ["2024-08-01", "2024-08-20", "2024-09-01", "2025-02-28", "2025-03-01"],
    "officials": [official_body()["official_id"]],
}
"""Real codes, dates and ids the fuzzer mixes into what it generates, so that requests get
past reference-data checks and reach the rules and the records."""

BINDINGS: dict[str, list[str]] = {
    "units": [
        "body.host_unit",
        "body.official.home_unit",
        "query.host_unit",
        "query.home_unit",
    ],
    "sectors": ["body.sector", "query.sector"],
    "ranks": ["body.min_rank", "body.official.position_rank"],
    "ethnicities": ["body.official.ethnicity"],
    "phases": ["path.phase_id"],
    "dates": [
        "body.raised_on",
        "body.desired_start",
        "body.start_date",
        "body.planned_end_date",
        "body.decision.date",
        "body.ended_on",
        "query.as_of",
    ],
    "officials": ["path.official_id", "query.official_id", "body.official.official_id"],
}

schema = schemathesis.openapi.from_dict(
    _embedded_document(),
    config=schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {
                "deterministic": True,
                "max-examples": MAX_EXAMPLES,
                "database": "none",
            },
            "phases": {"stateful": {"enabled": False}},
            "dictionaries": {name: {"values": values} for name, values in DICTIONARIES.items()},
            "parameters": {
                key: {"dictionary": name, "probability": 0.5}
                for name, keys in BINDINGS.items()
                for key in keys
            },
        }
    ),
)

WRITERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "/api/needs": ("SO_Y_TE", auth.HOST_SCOPES),
    "/api/secondments": ("NAM_GIANG", auth.HOME_SCOPES),
    "/api/officials": ("SO_NOI_VU", ("personal-data:erase", "audit:read")),
    "/api/audit": ("SO_NOI_VU", ("personal-data:erase", "audit:read")),
}
"""Path prefix → the agency that acts through it, with every scope it needs there (the
data-protection officer for personal data and the audit log); a host department elsewhere."""


def _identity_headers(issuer: DevIssuer, identity: str, path: str) -> dict[str, str]:
    if identity == "anonymous":
        return {}
    if identity == "reader":
        return auth.reader(issuer=issuer)
    agency, scopes = next(
        (who for prefix, who in WRITERS.items() if path.startswith(prefix)),
        ("SO_Y_TE", auth.HOST_SCOPES),
    )
    return auth.headers(agency, *scopes, issuer=issuer)


def _client(app: FastAPI) -> ASGIClient:
    """A client of the app in the lifespan Schemathesis starts (once) for its calls."""
    return get_client(cast(Any, app))


def _post_secondment(client: ASGIClient, body: dict[str, Any], issuer: DevIssuer) -> Any:
    """POST a secondment, waiting out `NEED_NOT_YET_KNOWN` while the need is on its way."""
    deadline = time.monotonic() + 10
    while True:
        answer = client.post("/api/secondments", json=body, headers=auth.home(issuer=issuer))
        if answer.status_code != 503 or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


@dataclass(frozen=True)
class System:
    """The started embedded app and the ids of the records made in it before fuzzing."""

    app: FastAPI
    records: dict[str, str]

    @property
    def issuer(self) -> DevIssuer:
        issuer: DevIssuer = self.app.state.dev_issuer
        return issuer


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """The embedded app, started, with a need and a secondment to it."""
    app = create_embedded_app(tmp_path_factory.mktemp("fuzzing") / "var")
    issuer: DevIssuer = app.state.dev_issuer
    try:
        with _client(app) as client:
            need = client.post("/api/needs", json=need_body(), headers=auth.host(issuer=issuer))
            assert need.status_code == 201, need.text
            seconded = _post_secondment(client, secondment_body(need.json()["need_id"]), issuer)
            assert seconded.status_code == 201, seconded.text
        records = {
            "need_id": need.json()["need_id"],
            "secondment_id": seconded.json()["secondment_id"],
        }
        yield System(app, records)
    finally:
        shutdown_lifespans()


IDENTITIES = ("anonymous", "writer", "reader")

KNOWN_BUGS: dict[tuple[str, str], str] = {}
"""(operation, identity) → the bug it still shows, e.g. `("GET /api/needs", "reader"): "…"`.
Empty: every bug found so far is fixed. Such a case is an xfail, and strict through
`test_every_known_bug_still_shows` (a strict mark would crash Schemathesis' pytest plugin,
4.32.5, on the XPASS)."""

_FAILED: dict[tuple[str, str], bool] = {}
"""(operation, identity) that ran → whether a check failed."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Each fuzzed operation in each identity, known bugs marked (Schemathesis calls this
    once per operation)."""
    if "identity" not in metafunc.fixturenames:
        return
    operation = ApiOperationMark.get(metafunc.function)
    label = operation.label if operation is not None else metafunc.function.__name__
    metafunc.parametrize(
        "identity",
        [
            pytest.param(
                identity,
                marks=[pytest.mark.xfail(raises=FailureGroup, reason=KNOWN_BUGS[label, identity])]
                if (label, identity) in KNOWN_BUGS
                else [],
            )
            for identity in IDENTITIES
        ],
    )


def _heads(value: object) -> bool:
    """A fair coin that lands the same way for the same value, run after run."""
    return zlib.crc32(repr(value).encode()) % 2 == 0


def _aim_at_records(case: schemathesis.Case[Any], records: dict[str, str]) -> None:
    """Replace half the generated record ids, path or body, by a real record's: reads and
    lifecycle commands then answer about a record, not only 404."""
    containers = [case.path_parameters, case.body]
    for container in containers:
        if not isinstance(container, dict):
            continue
        for name, real in records.items():
            if name in container and _heads(container[name]):
                container[name] = real


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_is_documented_and_no_server_error(
    case: schemathesis.Case[Any], identity: str, system: System
) -> None:
    _aim_at_records(case, system.records)
    headers = _identity_headers(system.issuer, identity, case.path)
    key = (case.operation.label, identity)
    try:
        case.call_and_validate(headers=headers, checks=CHECKS, app=system.app)
    except FailureGroup:
        _FAILED[key] = True
        raise
    _FAILED.setdefault(key, False)


def test_every_known_bug_still_shows() -> None:
    """Runs after the fuzzing (file order): a known bug that no longer fails is fixed."""
    fixed = [key for key in KNOWN_BUGS if _FAILED.get(key) is False]
    assert not fixed, f"fixed, drop them from KNOWN_BUGS: {fixed}"


@pytest.mark.parametrize("service", sorted(openapi.SERVICES))
def test_the_fuzzed_document_holds_every_operation_of_each_service(service: str) -> None:
    fuzzed = schema.raw_schema
    own = openapi.openapi(service)
    for path, operations in own["paths"].items():
        for method, operation in operations.items():
            assert fuzzed["paths"].get(path, {}).get(method) == operation, (service, method, path)
    for name, component in own.get("components", {}).get("schemas", {}).items():
        assert fuzzed["components"]["schemas"].get(name) == component, (service, name)


@pytest.mark.parametrize(
    "need_id",
    [
        pytest.param("ffffffff-ffff-7fff-bfff-ffffffffffff", id="v7-past-the-year-9999"),
        pytest.param("10000000-0000-7000-8000-000000000000", id="v7-in-the-year-2527"),
    ],
)
def test_a_need_id_from_no_real_clock_is_an_unknown_need(system: System, need_id: str) -> None:
    """Fuzzed uuids may be v7 of any date. The first answered 500 (datetime out of range),
    the second 503 `NEED_NOT_YET_KNOWN` for ever (a future id counted as just made)."""
    born = int(UUID(need_id)) >> 80
    assert born / 1000 > dt.datetime(2100, 1, 1, tzinfo=dt.UTC).timestamp()
    with _client(system.app) as client:
        answer = _post_secondment(client, secondment_body(need_id), system.issuer)
    assert answer.status_code == 422, answer.text
    assert answer.json()["rule"] == "NEED_UNKNOWN"
