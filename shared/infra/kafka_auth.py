"""How a service authenticates to Kafka: SASL/SCRAM (or PLAIN) over PLAINTEXT or TLS.

`KafkaAuth` is one value handed to every Kafka client a service makes (aiokafka producer,
consumers, admin client, FastStream's `KafkaBroker`); `KafkaSecuritySettings` are the
settings fields every service's settings class inherits (`<PREFIX>KAFKA_SECURITY_PROTOCOL`,
`…_KAFKA_SASL_MECHANISM`, `…_KAFKA_USERNAME`, `…_KAFKA_PASSWORD`, `…_KAFKA_SSL_CAFILE`).
The default, PLAINTEXT, passes nothing to the clients: they behave exactly as without it.
Broker side and ACLs: `deploy/kafka/`, docs/adr/0003-kafka-security.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings

if TYPE_CHECKING:
    from ssl import SSLContext

    from faststream.security import BaseSecurity

SecurityProtocol = Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]


@dataclass(frozen=True)
class KafkaAuth:
    """Credentials and transport security of one Kafka principal (`User:<username>`)."""

    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    username: str = ""
    password: str = field(default="", repr=False)
    ssl_cafile: str | None = None
    """CA bundle that signed the brokers' certificates (SASL_SSL); None: the system's CAs."""

    def __post_init__(self) -> None:
        if self.sasl and not (self.username and self.password):
            raise ValueError(f"{self.security_protocol} needs a Kafka username and password")

    @property
    def sasl(self) -> bool:
        """Whether clients authenticate (any protocol but PLAINTEXT)."""
        return self.security_protocol != "PLAINTEXT"

    def _ssl_context(self) -> SSLContext | None:
        if self.security_protocol != "SASL_SSL":
            return None
        from aiokafka.helpers import create_ssl_context

        context: SSLContext = create_ssl_context(cafile=self.ssl_cafile)
        return context

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's producer, consumer and admin client."""
        if not self.sasl:
            return {}
        options: dict[str, Any] = {
            "security_protocol": self.security_protocol,
            "sasl_mechanism": self.sasl_mechanism,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password,
        }
        context = self._ssl_context()
        if context is not None:
            options["ssl_context"] = context
        return options

    def faststream_security(self) -> BaseSecurity | None:
        """The same, as FastStream's `KafkaBroker(security=…)`."""
        if not self.sasl:
            return None
        from faststream.security import SASLPlaintext, SASLScram256, SASLScram512

        kind = {
            "SCRAM-SHA-512": SASLScram512,
            "SCRAM-SHA-256": SASLScram256,
            "PLAIN": SASLPlaintext,
        }[self.sasl_mechanism]
        use_ssl = self.security_protocol == "SASL_SSL"
        return kind(self.username, self.password, ssl_context=self._ssl_context(), use_ssl=use_ssl)


NO_AUTH: Final = KafkaAuth()
"""PLAINTEXT, no authentication: what every client did before Kafka security existed."""


@dataclass(frozen=True)
class TopicPolicy:
    """How the topics a service creates are replicated.

    None leaves it to the brokers' defaults (`default.replication.factor`,
    `min.insync.replicas`): a single local broker has 1; a cluster made by
    `deploy/local/kafka.sh --brokers 3` has 3 and 2, which is what production needs with
    producers on `acks=all` (docs/reliability.md)."""

    replication_factor: int | None = None
    min_insync_replicas: int | None = None
    command_retention_ms: int = 7 * 24 * 3600 * 1000
    """`retention.ms` of the command-side topics a service creates (replies, command dead
    letters): commands carry officials' identities, so they are kept days, not forever."""


class KafkaSecuritySettings(BaseSettings):
    """Kafka authentication and topic settings; every service's settings class inherits them."""

    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    """PLAINTEXT (no authentication, the default of the embedded/dev shape), SASL_PLAINTEXT
    or SASL_SSL. A service on a server database refuses PLAINTEXT unless
    `kafka_allow_plaintext` says it is a development or test broker."""
    kafka_allow_plaintext: bool = False
    """Let a service on a server database talk to Kafka without authentication: for a
    development or test broker only (the test suite, `make chaos`); never in production."""
    kafka_sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    kafka_username: str = ""
    """The service's Kafka principal (`User:<name>`): `needs`, `placement`, `reporting`."""
    kafka_password: SecretStr = SecretStr("")
    kafka_ssl_cafile: Path | None = None
    """SASL_SSL only: CA bundle of the brokers' certificates; unset means the system's CAs."""

    kafka_replication_factor: int | None = None
    """Replicas of each topic the service creates; unset: the brokers' default."""
    kafka_min_insync_replicas: int | None = None
    """`min.insync.replicas` of each topic the service creates; unset: the brokers' default."""

    kafka_command_retention_hours: int = Field(default=7 * 24, gt=0)
    """How long the command-side topics the service creates (replies, command dead letters)
    keep a record: 7 days by default. Commands name officials; the event topics keep the
    sealed history for ever, the commands need not outlive their processing."""

    def kafka_topic_policy(self) -> TopicPolicy:
        """How the service's topics are replicated and how long command topics keep records."""
        return TopicPolicy(
            self.kafka_replication_factor,
            self.kafka_min_insync_replicas,
            command_retention_ms=self.kafka_command_retention_hours * 3600 * 1000,
        )

    @model_validator(mode="after")
    def _credentials_for_sasl(self) -> KafkaSecuritySettings:
        self.kafka_auth()  # raises ValueError when SASL lacks a username or password
        return self

    def kafka_auth(self) -> KafkaAuth:
        """The credentials these settings describe."""
        return KafkaAuth(
            security_protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            username=self.kafka_username,
            password=self.kafka_password.get_secret_value(),
            ssl_cafile=str(self.kafka_ssl_cafile) if self.kafka_ssl_cafile else None,
        )
