"""The real tools the AsyncAPI and observability tests run, and what to do when one is missing.

``scripts/tools/observability.sh`` (run by ``make tools``) installs each of them:
promtool and prometheus, chromium and tesseract from Debian, and the pinned
``@asyncapi/parser`` into ``.cache/asyncapi-parser``. A missing tool skips the
test, or fails it under ``--require-services`` (CI).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.provisioning.prerequisites import explain as explain
from tests.support.provisioning.prerequisites import unavailable as unavailable

REPOSITORY = Path(__file__).resolve().parents[2]
INSTALL_HINT = "run `bash scripts/tools/observability.sh` (or `make tools`)"
PARSER_DIR = REPOSITORY / ".cache" / "asyncapi-parser"
VALIDATOR = REPOSITORY / "tools" / "asyncapi" / "validate.cjs"
OBSERVABILITY_DIR = REPOSITORY / "deploy" / "observability"
DASHBOARD = OBSERVABILITY_DIR / "grafana" / "onex-runtime-host.json"
ALERT_RULES = OBSERVABILITY_DIR / "prometheus" / "onex-alerts.yaml"
RULE_TESTS_DIR = OBSERVABILITY_DIR / "prometheus" / "tests"
PROMETHEUS_RULE = REPOSITORY / "deploy" / "k8s" / "base" / "prometheusrule.yaml"


def tool(config: pytest.Config, name: str) -> str:
    found = shutil.which(name)
    if found is None:
        unavailable(config, f"{name} is not on PATH: {INSTALL_HINT}")
    return found


@dataclass(frozen=True)
class ParserReport:
    """What ``@asyncapi/parser`` said of one document."""

    valid: bool
    version: str | None
    diagnostics: list[dict[str, Any]]
    operations: list[str]
    channels: list[str]
    messages: list[str]

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [d for d in self.diagnostics if d["severity"] == "error"]

    @property
    def warnings(self) -> list[dict[str, Any]]:
        return [d for d in self.diagnostics if d["severity"] == "warning"]


class AsyncApiParser:
    """The real AsyncAPI parser, run by node on a document file."""

    def __init__(self, node: str) -> None:
        self.node = node

    def parse(self, document: Path) -> ParserReport:
        result = subprocess.run(
            [self.node, str(VALIDATOR), str(PARSER_DIR), str(document)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode not in (0, 1):
            raise AssertionError(f"the AsyncAPI parser crashed:\n{explain(result)}")
        report = json.loads(result.stdout)
        return ParserReport(
            valid=report["valid"],
            version=report["asyncapi"],
            diagnostics=report["diagnostics"],
            operations=report["operations"],
            channels=report["channels"],
            messages=report["messages"],
        )


def asyncapi_parser(config: pytest.Config) -> AsyncApiParser:
    node = tool(config, "node")
    if not (PARSER_DIR / "node_modules" / "@asyncapi" / "parser").is_dir():
        unavailable(config, f"@asyncapi/parser is not installed in {PARSER_DIR}: {INSTALL_HINT}")
    return AsyncApiParser(node)
