"""Kafka credentials reach aiokafka and FastStream as they expect; PLAINTEXT changes nothing."""

import functools
import ssl

import pytest
from faststream.kafka.security import parse_security
from faststream.security import SASLPlaintext, SASLScram256, SASLScram512
from pydantic import ValidationError

from services.needs.config import NeedsSettings
from services.placement.config import PlacementSettings
from services.reporting.config import ReportingSettings
from shared.infra.kafka import KafkaTransport
from shared.infra.kafka_auth import NO_AUTH, KafkaAuth, KafkaSecuritySettings

SCRAM = KafkaAuth("SASL_PLAINTEXT", "SCRAM-SHA-512", "needs", "s3cret")


def test_plaintext_passes_nothing_to_the_clients() -> None:
    assert NO_AUTH.client_options() == {}
    assert NO_AUTH.faststream_security() is None
    assert not NO_AUTH.sasl


def test_scram_options_for_aiokafka() -> None:
    assert SCRAM.client_options() == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "needs",
        "sasl_plain_password": "s3cret",
    }


@pytest.mark.parametrize(
    ("mechanism", "kind"),
    [("SCRAM-SHA-512", SASLScram512), ("SCRAM-SHA-256", SASLScram256), ("PLAIN", SASLPlaintext)],
)
def test_faststream_gets_the_same_credentials(mechanism: str, kind: type[object]) -> None:
    auth = KafkaAuth("SASL_PLAINTEXT", mechanism, "needs", "s3cret")  # type: ignore[arg-type]
    security = auth.faststream_security()
    assert isinstance(security, kind)
    options = parse_security(security)
    assert {k: v for k, v in options.items() if k != "ssl_context"} == auth.client_options()


def test_sasl_ssl_carries_a_tls_context() -> None:
    auth = KafkaAuth("SASL_SSL", "SCRAM-SHA-512", "needs", "s3cret")
    assert isinstance(auth.client_options()["ssl_context"], ssl.SSLContext)
    options = parse_security(auth.faststream_security())
    assert options["security_protocol"] == "SASL_SSL"
    assert isinstance(options["ssl_context"], ssl.SSLContext)


def test_the_password_stays_out_of_reprs() -> None:
    assert "s3cret" not in repr(SCRAM)
    settings = NeedsSettings(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_username="needs",
        kafka_password="s3cret",
    )
    assert "s3cret" not in repr(settings)
    assert settings.kafka_auth() == SCRAM


@pytest.mark.parametrize(("username", "password"), [("", "s3cret"), ("needs", "")])
def test_sasl_without_credentials_is_refused(username: str, password: str) -> None:
    with pytest.raises(ValueError, match="username and password"):
        KafkaAuth("SASL_PLAINTEXT", "SCRAM-SHA-512", username, password)
    with pytest.raises(ValidationError):
        NeedsSettings(
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_username=username,
            kafka_password=password,
        )


@pytest.mark.parametrize(
    ("settings", "prefix"),
    [
        (NeedsSettings, "NEEDS_"),
        (PlacementSettings, "PLACEMENT_"),
        (ReportingSettings, "REPORTING_"),
    ],
)
def test_every_service_reads_the_same_variables(
    settings: type[KafkaSecuritySettings], prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SECURITY_PROTOCOL", "SASL_MECHANISM", "USERNAME", "PASSWORD", "SSL_CAFILE"):
        monkeypatch.delenv(f"{prefix}KAFKA_{name}", raising=False)
    assert settings().kafka_auth() == NO_AUTH  # the default: PLAINTEXT
    monkeypatch.setenv(f"{prefix}KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv(f"{prefix}KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv(f"{prefix}KAFKA_USERNAME", "needs")
    monkeypatch.setenv(f"{prefix}KAFKA_PASSWORD", "s3cret")
    assert settings().kafka_auth() == SCRAM


def test_the_transport_hands_the_credentials_to_faststream() -> None:
    # FastStream keeps what it connects with (producer and admin) and the consumers' factory.
    broker = KafkaTransport("127.0.0.1:1", "needs", auth=SCRAM).broker
    builder = broker.config.broker_config.builder
    assert isinstance(builder, functools.partial)
    consumer = builder.keywords
    for options in (broker._connection_kwargs, consumer):
        assert options["security_protocol"] == "SASL_PLAINTEXT"
        assert options["sasl_mechanism"] == "SCRAM-SHA-512"
        assert options["sasl_plain_username"] == "needs"
        assert options["sasl_plain_password"] == "s3cret"
    plain = KafkaTransport("127.0.0.1:1", "needs").broker
    assert "security_protocol" not in plain._connection_kwargs  # aiokafka's default
    assert "sasl_plain_username" not in plain._connection_kwargs
