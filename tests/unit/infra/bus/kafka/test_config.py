from __future__ import annotations

from pathlib import Path

import pytest

from onex_host.core.errors import ContractError
from onex_host.core.loader import validate_model
from onex_host.infra.bus.kafka.codec import DeadLetterReason
from onex_host.infra.bus.kafka.config import KafkaBusConfig, KafkaRetryPolicy

BASE = {
    "bootstrap_servers": "k1:9092, k2:9092",
    "consumer_group": "hosts",
    "command_topic": "cmd",
    "response_topic": "evt",
}


def test_defaults_derive_topics_and_group_from_the_required_fields() -> None:
    config = KafkaBusConfig.model_validate(BASE)
    assert config.bootstrap_servers == ["k1:9092", "k2:9092"]
    assert config.effective_dead_letter_topic == "cmd.dlq"
    assert config.reply_topic == "evt"
    assert config.effective_consumer_group == "hosts"
    assert config.effective_security_protocol == "PLAINTEXT"


def test_shadow_mode_uses_its_own_group_reply_topic_and_dead_letter_topic() -> None:
    config = KafkaBusConfig.model_validate({**BASE, "mode": "shadow"})
    assert config.effective_consumer_group == "hosts.shadow"
    assert config.reply_topic == "evt.shadow"
    assert config.effective_dead_letter_topic == "cmd.dlq.shadow"
    explicit = KafkaBusConfig.model_validate(
        {**BASE, "mode": "shadow", "shadow_consumer_group": "g2", "shadow_response_topic": "evt.s"}
    )
    assert (explicit.effective_consumer_group, explicit.reply_topic) == ("g2", "evt.s")


def test_problems_are_reported_with_the_contract_field() -> None:
    with pytest.raises(ContractError) as caught:
        validate_model(
            KafkaBusConfig,
            {**BASE, "bootstrap_servers": "no-port", "retry": {"max_attempts": 0}, "bogus": 1},
            "host.yaml",
            prefix="event_bus.config",
        )
    lines = str(caught.value).splitlines()
    assert "host.yaml: event_bus.config.bootstrap_servers: 'no-port' is not host:port" in lines
    assert any(line.startswith("host.yaml: event_bus.config.retry.max_attempts:") for line in lines)
    assert "host.yaml: event_bus.config.bogus: unknown field" in lines


def test_topics_must_differ() -> None:
    with pytest.raises(ValueError, match="three different topics"):
        KafkaBusConfig.model_validate({**BASE, "dead_letter_topic": "evt"})


def test_sasl_password_never_shows_in_repr_or_dump() -> None:
    config = KafkaBusConfig.model_validate(
        {**BASE, "sasl": {"mechanism": "SCRAM-SHA-512", "username": "svc", "password": "hunter2"}}
    )
    assert "hunter2" not in repr(config)
    assert "hunter2" not in config.model_dump_json()
    assert config.effective_security_protocol == "SASL_PLAINTEXT"
    settings = config.client_settings()
    assert settings["sasl_plain_password"] == "hunter2"
    assert settings["sasl_mechanism"] == "SCRAM-SHA-512"


def test_tls_files_must_exist_and_build_a_context(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        KafkaBusConfig.model_validate({**BASE, "tls": {"ca_file": str(tmp_path / "missing.pem")}})
    config = KafkaBusConfig.model_validate({**BASE, "tls": {}, "sasl": {"username": "u", "password": "p"}})
    assert config.effective_security_protocol == "SASL_SSL"
    assert config.client_settings()["ssl_context"] is not None


def test_explicit_security_protocol_needs_its_sections() -> None:
    with pytest.raises(ValueError, match="needs a sasl section"):
        KafkaBusConfig.model_validate({**BASE, "security_protocol": "SASL_SSL", "tls": {}})


def test_retry_backoff_grows_exponentially_and_is_capped() -> None:
    policy = KafkaRetryPolicy(max_attempts=6, initial_backoff_seconds=0.1, max_backoff_seconds=0.5)
    assert [policy.backoff_after(n) for n in range(1, 6)] == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5])
    assert policy.allows_another_attempt(5)
    assert not policy.allows_another_attempt(6)
    with pytest.raises(ValueError, match="start at 1"):
        policy.backoff_after(0)
    with pytest.raises(ValueError, match="must not be smaller"):
        KafkaRetryPolicy(initial_backoff_seconds=2, max_backoff_seconds=1)


# -- secrets: SecretText, and never in logs, health or dead letters -----------------------------


SASL = {"mechanism": "SCRAM-SHA-512", "username": "host", "password": "s3cr3t-kafka-pass"}


@pytest.mark.parametrize("bad", ["hunter2-xyz\n", " hunter2-xyz", "hunter2\x00xyz"])
def test_a_sasl_password_with_whitespace_or_control_characters_is_refused_without_showing_it(bad: str) -> None:
    with pytest.raises(ContractError) as raised:
        validate_model(
            KafkaBusConfig, {**BASE, "sasl": {**SASL, "password": bad}}, "host.yaml", prefix="event_bus.config"
        )
    message = str(raised.value)
    assert "event_bus.config.sasl.password" in message
    assert "hunter2" not in message


def test_a_tls_key_password_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(ContractError, match=r"tls\.key_password"):
        validate_model(
            KafkaBusConfig, {**BASE, "tls": {"key_password": "kp\n"}}, "host.yaml", prefix="event_bus.config"
        )


def test_kafka_secrets_are_registered_and_masked_in_logs_health_and_dead_letters() -> None:
    from onex_host.core.scrubbing import forget_secrets, register_secrets, scrub, scrub_value
    from onex_host.infra.bus.kafka.codec import HEADER_DETAIL, InboundRecord, dead_letter
    from onex_host.infra.process import secret_values

    config = KafkaBusConfig.model_validate({**BASE, "sasl": SASL, "tls": {"key_password": "tls-key-pass-42"}})
    found = secret_values(config)
    assert {"s3cr3t-kafka-pass", "tls-key-pass-42"} <= set(found)
    assert "s3cr3t-kafka-pass" not in repr(config)
    register_secrets(found)
    try:
        assert "s3cr3t-kafka-pass" not in scrub("auth failed for password=s3cr3t-kafka-pass")
        assert "tls-key-pass-42" not in str(scrub_value({"error": "bad key tls-key-pass-42"}))
        record = InboundRecord(topic="cmd", partition=0, offset=1, key=None, value=b"x")
        letter = dead_letter(record, DeadLetterReason.INTERNAL_ERROR, "broker said s3cr3t-kafka-pass", attempts=0)
        assert b"s3cr3t-kafka-pass" not in dict(letter.headers)[HEADER_DETAIL]
    finally:
        forget_secrets()


# -- reply topics ------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["allowed_reply_topics", "allowed_reply_topic_prefixes"])
def test_allowed_reply_topics_must_be_legal_topic_names(field: str) -> None:
    with pytest.raises(ContractError, match=field):
        validate_model(KafkaBusConfig, {**BASE, field: ["ok", "not ok!"]}, "host.yaml", prefix="event_bus.config")


def test_no_reply_to_topic_is_allowed_by_default() -> None:
    config = KafkaBusConfig.model_validate(BASE)
    assert config.allowed_reply_topics == []
    assert config.allowed_reply_topic_prefixes == []
    assert config.reply_to_problem("anything") is not None
