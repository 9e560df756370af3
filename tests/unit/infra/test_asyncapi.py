"""``onex-host asyncapi``: the document passes the real AsyncAPI parser, says what the code and the
contracts say (payload models, pinned params, topics, dead-letter headers), and its page reads in Chromium."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from onex_host.cli import main
from onex_host.core.file_registry import load_host
from onex_host.infra.asyncapi import (
    ENVELOPE_SCHEMA,
    _reply_allow_lists,
    _reply_rules,
    build_document,
    operation_payload_schema,
    render_html,
)
from onex_host.infra.bus.kafka import codec
from onex_host.infra.bus.kafka.config import KafkaBusConfig
from onex_host.infra.bus.memory import MemoryBusConfig
from onex_host.infra.handlers.http import HttpRequestPayload
from onex_host.infra.handlers.local import SleepPayload
from onex_host.infra.wiring import HANDLER_REGISTRY
from tests.observability.tooling import REPOSITORY, AsyncApiParser, asyncapi_parser, explain, tool

pytestmark = pytest.mark.observability

DEV_CONTRACT = REPOSITORY / "contracts" / "runtime" / "dev_runtime_host.yaml"
NODES_DIR = REPOSITORY / "contracts" / "nodes"

HTTP_NODE = """
name: weather
description: "Reads the weather service"
operations:
  forecast:
    handler_type: http
    action: request
    side_effects: none
    description: "GET a forecast"
    params: {method: GET, base_url: "http://weather.svc.cluster.local"}
"""


def kafka_contract(tmp_path: Path, *, mode: str = "primary") -> Path:
    """A dev contract on Kafka with the echo node and an http node that pins ``method``."""
    nodes = tmp_path / "nodes"
    nodes.mkdir(exist_ok=True)
    (nodes / "echo.yaml").write_text((NODES_DIR / "echo.yaml").read_text())
    (nodes / "weather.yaml").write_text(HTTP_NODE)
    contract = tmp_path / f"kafka_{mode}.yaml"
    contract.write_text(
        f"""
name: kafka_host
version: "2.3.4"
environment: dev
contracts_directory: nodes
nodes:
  - {{slug: echo, contract_path: echo.yaml}}
  - {{slug: weather, contract_path: weather.yaml}}
handlers:
  - {{handler_type: local}}
  - {{handler_type: http, config: {{allowed_hosts: ["*.svc.cluster.local"]}}}}
event_bus:
  type: kafka
  config:
    bootstrap_servers: "broker-a:9092,broker-b:9093"
    consumer_group: kafka-host
    command_topic: onex.cmd.test.v1
    response_topic: onex.evt.test.v1
    mode: {mode}
"""
    )
    return contract


def generate(contract: Path, out: Path, *extra: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code = main(["asyncapi", str(contract), "-o", str(out), *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    document: dict[str, Any] = json.loads(out.read_text())
    return document


@pytest.fixture
def parser(request: pytest.FixtureRequest) -> AsyncApiParser:
    return asyncapi_parser(request.config)


def test_dev_contract_document_passes_the_asyncapi_parser(
    tmp_path: Path, parser: AsyncApiParser, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "asyncapi.json"
    generate(DEV_CONTRACT, out, capsys=capsys)
    report = parser.parse(out)
    assert report.valid, report.diagnostics
    assert report.errors == [], report.diagnostics
    assert report.warnings == [], report.diagnostics
    assert report.version == "3.0.0"
    assert set(report.operations) == {"echo.echo", "echo.sleep", "echo.fail", "sendReply"}
    assert set(report.channels) == {"commands", "replies"}


def test_kafka_document_has_topics_bindings_reply_rules_and_dead_letter_headers(
    tmp_path: Path, parser: AsyncApiParser, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "asyncapi.json"
    document = generate(kafka_contract(tmp_path), out, capsys=capsys)
    report = parser.parse(out)
    assert report.valid, report.diagnostics
    assert report.errors == [], report.diagnostics
    assert report.warnings == [], report.diagnostics
    assert set(report.channels) == {"commands", "replies", "deadLetters"}
    assert {"weather.forecast", "echo.echo", "sendReply", "sendDeadLetter"} <= set(report.operations)

    channels = document["channels"]
    assert channels["commands"]["address"] == "onex.cmd.test.v1"
    assert channels["replies"]["address"] == "onex.evt.test.v1"
    assert channels["deadLetters"]["address"] == "onex.cmd.test.v1.dlq"
    assert channels["commands"]["bindings"]["kafka"]["topic"] == "onex.cmd.test.v1"
    assert [s["host"] for s in document["servers"].values()] == ["broker-a:9092", "broker-b:9093"]
    assert document["operations"]["echo.echo"]["bindings"]["kafka"]["groupId"]["enum"] == ["kafka-host"]
    assert document["info"]["version"] == "2.3.4"

    reply = document["operations"]["weather.forecast"]["reply"]
    assert reply["address"]["location"] == "$message.payload#/metadata/reply_to"
    assert "metadata.reply_to" in channels["replies"]["description"]
    assert "onex.evt.test.v1" in channels["replies"]["description"]

    headers = document["components"]["messages"]["deadLetter"]["headers"]
    written = {name for name in vars(codec) if name.startswith("HEADER_")}
    assert {getattr(codec, name) for name in written} <= set(headers["properties"])
    assert codec.HEADER_REASON in headers["required"]
    assert codec.HEADER_ERROR_CODE not in headers["required"]
    for reason in codec.DeadLetterReason:
        assert reason.value in headers["properties"][codec.HEADER_REASON]["description"]


def test_shadow_mode_replies_only_on_the_shadow_topic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = generate(kafka_contract(tmp_path, mode="shadow"), tmp_path / "a.json", capsys=capsys)
    replies = document["channels"]["replies"]
    assert replies["address"] == "onex.evt.test.v1.shadow"
    assert "shadow mode" in replies["description"]
    assert "whatever the request" in replies["description"]
    assert document["channels"]["deadLetters"]["address"] == "onex.cmd.test.v1.dlq.shadow"
    assert document["operations"]["echo.echo"]["bindings"]["kafka"]["groupId"]["enum"] == ["kafka-host.shadow"]


def test_payload_schemas_are_the_handler_models_without_pinned_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = generate(kafka_contract(tmp_path), tmp_path / "a.json", capsys=capsys)
    messages = document["components"]["messages"]

    def payload_of(key: str) -> dict[str, Any]:
        envelope, constrained = messages[key]["payload"]["allOf"]
        assert envelope == {"$ref": f"#/components/schemas/{ENVELOPE_SCHEMA}"}
        return dict(constrained["properties"]["payload"])

    sleep = payload_of("echo.sleep")
    expected = SleepPayload.model_json_schema(ref_template="#/components/schemas/local.{model}")
    assert sleep == expected  # nothing pinned: exactly the model's schema

    forecast = payload_of("weather.forecast")
    model = HttpRequestPayload.model_json_schema(ref_template="#/components/schemas/http.{model}")
    model.pop("$defs", None)
    assert "method" in model["properties"]
    assert "method" not in forecast["properties"]
    assert set(forecast["properties"]) == set(model["properties"]) - {"method"}
    assert "base_url" not in forecast["properties"]  # a contract-only key is no payload field
    assert messages["weather.forecast"]["x-onex-pinned-params"] == ["method"]
    assert "must not set: method" in forecast["description"]
    props = messages["weather.forecast"]["payload"]["allOf"][1]["properties"]
    assert props["target_node"] == {"const": "weather"}
    assert props["operation"] == {"const": "forecast"}

    assert payload_of("echo.echo")["type"] == "object"  # the echo action takes any payload
    assert document["components"]["schemas"][ENVELOPE_SCHEMA]["title"] == "ModelOnexEnvelope"


def test_pinned_required_field_is_no_longer_required() -> None:
    host = load_host(DEV_CONTRACT)
    spec = host.nodes[0].contract.operations["sleep"].model_copy(update={"params": {"seconds": 1}})
    cls = HANDLER_REGISTRY[spec.handler_type]
    schema, pinned = operation_payload_schema(SleepPayload, spec, cls.contract_keys, "local.", {})
    assert pinned == ("seconds",)
    assert "seconds" not in schema["properties"]
    assert "required" not in schema  # `seconds` was the only required field


def test_a_document_the_parser_refuses_is_reported_invalid(tmp_path: Path, parser: AsyncApiParser) -> None:
    """The parser check can fail: a reply pointing at a channel that does not exist is refused."""
    document = build_document(load_host(DEV_CONTRACT))
    document["operations"]["echo.echo"]["reply"]["channel"] = {"$ref": "#/channels/nowhere"}
    document["channels"]["commands"]["address"] = 42
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document))
    report = parser.parse(broken)
    assert not report.valid
    assert report.errors


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda d: d / "missing.yaml", "contract file not found"),
        (lambda d: _write(d / "bad.yaml", "name: [unclosed"), "bad.yaml"),
        (lambda d: _write(d / "unknown.yaml", "name: x\nnot_a_field: 1\n"), "not_a_field"),
    ],
    ids=["missing-file", "invalid-yaml", "unknown-field"],
)
def test_bad_input_is_one_error_line_and_exit_2(tmp_path: Path, setup: Any, expected: str) -> None:
    contract = setup(tmp_path)
    result = subprocess.run(
        [str(REPOSITORY / ".venv" / "bin" / "onex-host"), "asyncapi", str(contract), "-o", str(tmp_path / "o.json")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, explain(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    assert expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "o.json").exists()


def test_unwritable_output_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["asyncapi", str(DEV_CONTRACT), "-o", str(blocker / "x.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: ")
    assert "cannot write" in err[0]


def test_stdout_is_the_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["asyncapi", str(DEV_CONTRACT)]) == 0
    assert json.loads(capsys.readouterr().out)["asyncapi"] == "3.0.0"


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_the_page_shows_every_node_and_operation_in_headless_chromium(
    tmp_path: Path, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    chromium = tool(request.config, "chromium")
    tesseract = tool(request.config, "tesseract")
    document = generate(kafka_contract(tmp_path), tmp_path / "a.json", "--html", str(tmp_path / "site"), capsys=capsys)
    page = tmp_path / "site" / "index.html"
    assert page.read_text() == render_html(document)
    shot = tmp_path / "page.png"
    browser = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"]
    result = subprocess.run(
        [
            *browser,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1200,1400",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, explain(result)
    assert shot.is_file(), explain(result)
    with Image.open(shot) as image:
        assert image.size == (1200, 1400)
        assert len(image.convert("L").getcolors(maxcolors=1 << 16) or ()) > 10, "the screenshot is blank"
    ocr = subprocess.run([tesseract, str(shot), "-"], capture_output=True, text=True, timeout=120, check=False)
    assert ocr.returncode == 0, explain(ocr)
    text = ocr.stdout.replace(" ", "")
    # What a node author sees first: the host, the topics, and each node / operation in the summary table.
    for expected in ("kafka_host", "onex.cmd.test.v1", "onex.evt.test.v1", "weather", "forecast", "echo", "sleep"):
        assert expected in text, f"{expected!r} not visible in the screenshot; OCR read:\n{ocr.stdout}"


def test_the_reply_to_allow_lists_of_the_bus_config_are_described() -> None:
    """The reply rule says what the Kafka bus does: reply_to honoured only for allowed topics, else refused."""
    config = KafkaBusConfig(
        bootstrap_servers=["k:9092"],
        consumer_group="g",
        command_topic="c",
        response_topic="r",
        allowed_reply_topics=["b.replies", "a.replies"],
    )
    lists = _reply_allow_lists(config)
    assert lists == {"allowed_reply_topics": ["a.replies", "b.replies"], "allowed_reply_topic_prefixes": []}
    rules = _reply_rules("primary", "r", lists)
    assert "`allowed_reply_topics` (`a.replies`, `b.replies`)" in rules
    assert "`allowed_reply_topic_prefixes` (none)" in rules
    assert "dead-lettered with reason `reply_refused`" in rules
    assert _reply_allow_lists(MemoryBusConfig()) == {}
