"""``event_bus.config`` for ``type: kafka``: what the contract may say about the Kafka bus.

Validated once when the host starts, so a typo in a contract is reported as
``file: event_bus.config.<field>: message`` instead of surfacing later as a
broker error. Secrets (SASL password, TLS key password) are ``SecretStr`` and
never appear in a repr, a log line or health output. They are ``SecretText``:
a password with a stray newline is refused at parse, naming the field only.

Reply destinations are allowed, not chosen: a request's ``metadata.reply_to``
is honoured only for topics listed in ``allowed_reply_topics`` or starting
with one of ``allowed_reply_topic_prefixes`` (none by default), so a sender
cannot steer replies (which can carry secrets read from Vault) to a topic of
its choosing, nor freeze a partition on a topic the host cannot write.
"""

from __future__ import annotations

import re
import ssl
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from onex_host.core.secrets import SecretText
from onex_host.infra.bus.base import BusConfig

SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

MAX_TOPIC_NAME_LENGTH = 249
_TOPIC_CHARS = re.compile(r"[a-zA-Z0-9._-]+")


def topic_name_problem(name: str) -> str | None:
    """Why ``name`` is not a legal Kafka topic name (the broker's own rule), or ``None``."""
    if not name:
        return "is empty"
    if len(name) > MAX_TOPIC_NAME_LENGTH:
        return f"is longer than {MAX_TOPIC_NAME_LENGTH} characters"
    if name in {".", ".."}:
        return "is '.' or '..'"
    if not _TOPIC_CHARS.fullmatch(name):
        return "holds characters other than ASCII letters, digits, '.', '_' and '-'"
    return None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KafkaRetryPolicy(_Strict):
    """How often an envelope whose reply carries a retryable error code is tried again.

    Delays grow exponentially from ``initial_backoff_seconds`` and are capped
    at ``max_backoff_seconds``, so the worst case an envelope holds its key's
    lane is bounded: ``max_attempts`` runs plus the sum of the delays.
    """

    max_attempts: int = Field(default=3, ge=1, le=100, description="Total runs, the first one included.")
    initial_backoff_seconds: float = Field(default=0.2, gt=0)
    max_backoff_seconds: float = Field(default=5.0, gt=0)
    multiplier: float = Field(default=2.0, ge=1)

    @model_validator(mode="after")
    def _max_not_below_initial(self) -> KafkaRetryPolicy:
        if self.max_backoff_seconds < self.initial_backoff_seconds:
            raise ValueError("max_backoff_seconds must not be smaller than initial_backoff_seconds")
        return self

    def backoff_after(self, attempt: int) -> float:
        """Delay before the run that follows run number ``attempt`` (1-based)."""
        if attempt < 1:
            raise ValueError("attempt numbers start at 1")
        delay = self.initial_backoff_seconds * self.multiplier ** (attempt - 1)
        return float(min(delay, self.max_backoff_seconds))

    def allows_another_attempt(self, attempts_done: int) -> bool:
        return attempts_done < self.max_attempts


class KafkaTlsConfig(_Strict):
    """TLS to the brokers; files are PEM. Without ``ca_file`` the system trust store is used."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    key_password: SecretText | None = None
    check_hostname: bool = True

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> KafkaTlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file must be given together (client certificate authentication)")
        return self

    @field_validator("ca_file", "cert_file", "key_file")
    @classmethod
    def _file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"file {str(value)!r} does not exist")
        return value

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        context.check_hostname = self.check_hostname
        if self.cert_file is not None and self.key_file is not None:
            password = self.key_password.get_secret_value() if self.key_password else None
            context.load_cert_chain(str(self.cert_file), str(self.key_file), password=password)
        return context


class KafkaSaslConfig(_Strict):
    mechanism: SaslMechanism = "PLAIN"
    username: str = Field(min_length=1)
    password: SecretText


class KafkaBusConfig(BusConfig):
    """The Kafka event bus of one host.

    ``mode: shadow`` is for running beside a legacy deployment: the host then
    consumes under ``shadow_consumer_group`` (default ``<consumer_group>.shadow``,
    so flipping ``mode`` alone never steals the primary's partitions), replies
    only to ``shadow_response_topic`` (default ``<response_topic>.shadow``,
    ignoring a request's ``reply_to``, which belongs to the primary) and
    dead-letters to ``<dead_letter_topic>.shadow``.
    """

    bootstrap_servers: list[str] = Field(min_length=1)
    consumer_group: str = Field(min_length=1)
    command_topic: str = Field(min_length=1)
    response_topic: str = Field(min_length=1)
    dead_letter_topic: str | None = Field(default=None, min_length=1, description="Default: <command_topic>.dlq")
    client_id: str = Field(default="onex-host", min_length=1)

    # ``mode`` comes from ``BusConfig``.
    shadow_consumer_group: str | None = Field(default=None, min_length=1)
    shadow_response_topic: str | None = Field(default=None, min_length=1)

    allowed_reply_topics: list[str] = Field(
        default_factory=list, description="Topics a request's reply_to may name, exactly. None by default."
    )
    allowed_reply_topic_prefixes: list[str] = Field(
        default_factory=list, description="Prefixes a request's reply_to may start with. None by default."
    )

    create_missing_topics: bool = Field(
        default=False,
        description="Create the topics this host uses (commands, replies, dead letters) when they are missing, "
        "with create_topic_partitions partitions: for stacks started from nothing (compose, Dagger e2e). Off by "
        "default and in production: brokers auto-create nothing and the host creates only what it is told to.",
    )
    create_topic_partitions: int = Field(default=3, ge=1, le=1000)
    create_topic_replication_factor: int = Field(default=1, ge=1, le=10)

    retry: KafkaRetryPolicy = Field(default_factory=KafkaRetryPolicy)

    max_poll_interval_ms: int = Field(default=300_000, ge=1_000)
    session_timeout_ms: int = Field(default=10_000, ge=1_000)
    heartbeat_interval_ms: int = Field(default=3_000, ge=100)
    request_timeout_ms: int = Field(default=30_000, ge=1_000)
    poll_timeout_ms: int = Field(default=500, ge=10, le=10_000, description="Longest wait of one fetch.")
    commit_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    revoke_drain_timeout_seconds: float = Field(
        default=10.0, ge=0, description="How long a revoked partition's running envelopes may finish."
    )
    startup_timeout_seconds: float = Field(default=30.0, gt=0)
    liveness_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Live only while the consume loop has polled within this time."
    )
    max_consume_loop_restarts: int = Field(
        default=5,
        ge=0,
        description="Restarts of a failed consume loop before liveness fails and the orchestrator restarts the host.",
    )
    max_consecutive_poll_failures: int = Field(
        default=10, ge=1, description="Polls in a row that fail before the bus reports itself not ready."
    )
    auto_offset_reset: Literal["earliest", "latest", "none"] = Field(
        default="earliest",
        description="Where a partition without a committed offset of the group starts: earliest replays the "
        "whole retained topic (with its side effects), latest skips what is already there, none consumes nothing "
        "from it until an offset is committed (onex-host offsets handover). The shipped contracts choose it "
        "explicitly; the default suits tests and dev stacks only.",
    )
    max_message_bytes: int = Field(
        default=1_048_576, ge=1_024, description="Larger commands are dead-lettered as oversized."
    )
    producer_batch_bytes: int = Field(
        default=262_144,
        ge=16_384,
        description="Producer batch size per partition; replies of concurrent envelopes share a batch.",
    )

    # ``delivery`` comes from ``BusConfig``; these tune ``exactly_once`` (docs/architecture.md, "Delivery").
    transaction_interval_ms: int = Field(
        default=0,
        ge=0,
        le=60_000,
        description="exactly_once: the longest a finished command waits for others to share its transaction. "
        "0 commits as soon as the partition's previous transaction ended (batches then grow with the load); "
        "every millisecond here is added to a reply's latency for read_committed readers.",
    )
    transaction_max_records: int = Field(
        default=500, ge=1, le=100_000, description="exactly_once: most commands committed in one transaction."
    )
    transaction_max_pending_records: int = Field(
        default=5_000,
        ge=1,
        description="exactly_once: finished commands waiting for their transaction, host-wide, before the "
        "consumer stops fetching (bounds memory while the broker is slow).",
    )
    transaction_timeout_ms: int = Field(
        default=60_000,
        ge=1_000,
        le=900_000,
        description="exactly_once: the broker aborts a transaction left open this long (a host that hung).",
    )
    transactional_id_prefix: str | None = Field(
        default=None,
        min_length=1,
        description="exactly_once: transactional ids are <prefix>.<topic>.<partition>; default the consumer "
        "group, so a host of another group never fences this one's producers.",
    )

    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] | None = Field(
        default=None, description="Default: derived from whether tls and sasl are set."
    )
    tls: KafkaTlsConfig | None = None
    sasl: KafkaSaslConfig | None = None

    @field_validator("bootstrap_servers", mode="before")
    @classmethod
    def _split_servers(cls, value: Any) -> Any:
        """Accept ``"host1:9092,host2:9092"`` as written in an env var."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("bootstrap_servers")
    @classmethod
    def _host_and_port(cls, servers: list[str]) -> list[str]:
        for server in servers:
            host, _, port = server.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"{server!r} is not host:port")
        return servers

    @field_validator("command_topic", "response_topic", "dead_letter_topic", "shadow_response_topic")
    @classmethod
    def _legal_topic(cls, name: str | None) -> str | None:
        problem = topic_name_problem(name) if name is not None else None
        if problem:
            raise ValueError(f"topic name {name!r} {problem}")
        return name

    @field_validator("allowed_reply_topics", "allowed_reply_topic_prefixes")
    @classmethod
    def _legal_reply_topics(cls, names: list[str]) -> list[str]:
        for name in names:
            problem = topic_name_problem(name)
            if problem:
                raise ValueError(f"{name!r} {problem}")
        return names

    def reply_to_problem(self, topic: str) -> str | None:
        """Why a request may not have its reply sent to ``topic``, or ``None`` when the contract allows it."""
        problem = topic_name_problem(topic)
        if problem:
            return f"reply_to {problem}"
        if topic in self.allowed_reply_topics or any(topic.startswith(p) for p in self.allowed_reply_topic_prefixes):
            if topic in {self.command_topic, self.effective_dead_letter_topic}:
                return "reply_to names the command or dead-letter topic"
            return None
        return "reply_to is not among the topics this host's contract allows"

    @model_validator(mode="after")
    def _consistent(self) -> KafkaBusConfig:
        if self.heartbeat_interval_ms >= self.session_timeout_ms:
            raise ValueError("heartbeat_interval_ms must be smaller than session_timeout_ms")
        protocol = self.security_protocol
        if protocol is not None:
            if protocol.startswith("SASL") and self.sasl is None:
                raise ValueError(f"security_protocol {protocol} needs a sasl section")
            if protocol.endswith("SSL") and self.tls is None:
                # A managed cluster with a public CA needs no files: an empty tls section is enough.
                raise ValueError(f"security_protocol {protocol} needs a tls section (it may be empty: tls: {{}})")
        topics = {self.command_topic, self.reply_topic, self.effective_dead_letter_topic}
        if len(topics) != 3:
            raise ValueError("command, response and dead-letter topics must be three different topics")
        return self

    # -- what the bus actually uses ---------------------------------------------------

    @property
    def effective_security_protocol(self) -> str:
        if self.security_protocol is not None:
            return self.security_protocol
        if self.sasl is not None:
            return "SASL_SSL" if self.tls is not None else "SASL_PLAINTEXT"
        return "SSL" if self.tls is not None else "PLAINTEXT"

    @property
    def effective_consumer_group(self) -> str:
        if self.mode == "shadow":
            return self.shadow_consumer_group or f"{self.consumer_group}.shadow"
        return self.consumer_group

    @property
    def reply_topic(self) -> str:
        """Where replies go when the request names no ``reply_to`` (always, in shadow mode)."""
        if self.mode == "shadow":
            return self.shadow_response_topic or f"{self.response_topic}.shadow"
        return self.response_topic

    @property
    def effective_dead_letter_topic(self) -> str:
        base = self.dead_letter_topic or f"{self.command_topic}.dlq"
        return f"{base}.shadow" if self.mode == "shadow" else base

    def client_settings(self) -> dict[str, Any]:
        """Connection settings shared by the consumer, the producer and the admin client."""
        settings: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "client_id": self.client_id,
            "request_timeout_ms": self.request_timeout_ms,
            "security_protocol": self.effective_security_protocol,
        }
        if self.tls is not None:
            settings["ssl_context"] = self.tls.ssl_context()
        if self.sasl is not None:
            settings["sasl_mechanism"] = self.sasl.mechanism
            settings["sasl_plain_username"] = self.sasl.username
            settings["sasl_plain_password"] = self.sasl.password.get_secret_value()
        return settings
