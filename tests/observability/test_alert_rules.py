"""The shipped alerting rules: promtool accepts them, its unit tests see each alert fire and stay quiet
(and would notice if an alert never fired or fired too early), and the k8s PrometheusRule is the same file."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.observability.tooling import (
    ALERT_RULES,
    PROMETHEUS_RULE,
    REPOSITORY,
    RULE_TESTS_DIR,
    explain,
    tool,
    unavailable,
)

pytestmark = pytest.mark.observability

ALERTS = ("OnexHostNotReady", "OnexConsumerLagGrowing", "OnexDeadLetterRate", "OnexErrorRatioHigh", "OnexNoProgress")
OVERLAYS = ("production", "shadow")


def rules() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(ALERT_RULES.read_text())
    return loaded


def rule_tests() -> list[Path]:
    return sorted(RULE_TESTS_DIR.glob("*.test.yaml"))


@pytest.fixture
def promtool(request: pytest.FixtureRequest) -> str:
    return tool(request.config, "promtool")


def run(argv: list[str], cwd: Path = REPOSITORY) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_the_five_alerts_are_shipped() -> None:
    names = [rule["alert"] for group in rules()["groups"] for rule in group["rules"]]
    assert sorted(names) == sorted(ALERTS)


def test_promtool_check_rules_accepts_the_rules_file(promtool: str) -> None:
    result = run([promtool, "check", "rules", str(ALERT_RULES)])
    assert result.returncode == 0, explain(result)
    assert f"SUCCESS: {len(ALERTS)} rules found" in result.stdout


def test_promtool_unit_tests_see_every_alert_fire_and_stay_quiet(promtool: str) -> None:
    files = rule_tests()
    assert files, f"no promtool unit tests in {RULE_TESTS_DIR}"
    tested = set()
    for path in files:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case["alert_rule_test"]:
                tested.add((check["alertname"], bool(check["exp_alerts"])))
    assert tested == {(name, fires) for name in ALERTS for fires in (True, False)}, "each alert: firing and quiet"
    result = run([promtool, "test", "rules", *map(str, files)])
    assert result.returncode == 0, explain(result)


def _mutated(tmp_path: Path, alert: str, change: dict[str, Any]) -> list[str]:
    """A copy of the rules (and their unit tests, which name ``../onex-alerts.yaml``) with one alert changed."""
    document = rules()
    for group in document["groups"]:
        for rule in group["rules"]:
            if rule["alert"] == alert:
                rule.update(change)
                for key in [k for k, v in change.items() if v is None]:
                    del rule[key]
    (tmp_path / ALERT_RULES.name).write_text(yaml.safe_dump(document, sort_keys=False))
    tests_dir = tmp_path / "tests"
    tests_dir.mkdir()
    for path in rule_tests():
        shutil.copy(path, tests_dir / path.name)
    return [str(tests_dir / path.name) for path in rule_tests()]


@pytest.mark.parametrize("alert", ALERTS)
def test_the_unit_tests_notice_an_alert_that_never_fires(promtool: str, tmp_path: Path, alert: str) -> None:
    files = _mutated(tmp_path, alert, {"expr": "vector(1) < 0"})
    result = run([promtool, "test", "rules", *files])
    assert result.returncode != 0, explain(result)
    assert f"alertname: {alert}" in result.stdout + result.stderr


@pytest.mark.parametrize("alert", ALERTS)
def test_the_unit_tests_notice_an_alert_that_fires_without_waiting(promtool: str, tmp_path: Path, alert: str) -> None:
    files = _mutated(tmp_path, alert, {"for": None})
    result = run([promtool, "test", "rules", *files])
    assert result.returncode != 0, explain(result)
    assert f"alertname: {alert}" in result.stdout + result.stderr


def test_the_prometheusrule_is_generated_from_the_rules_file() -> None:
    resource = yaml.safe_load(PROMETHEUS_RULE.read_text())
    assert resource["apiVersion"] == "monitoring.coreos.com/v1"
    assert resource["kind"] == "PrometheusRule"
    assert resource["spec"]["groups"] == rules()["groups"]
    result = run([str(REPOSITORY / ".venv" / "bin" / "python"), "scripts/tools/prometheusrule.py", "--check"])
    assert result.returncode == 0, explain(result)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_overlay_renders_the_rules_and_promtool_accepts_them(
    promtool: str, request: pytest.FixtureRequest, tmp_path: Path, overlay: str
) -> None:
    kubectl = REPOSITORY / ".venv" / "bin" / "kubectl"
    if not kubectl.is_file():
        unavailable(request.config, f"{kubectl} is missing: run `make venv`")
    rendered = run(
        [str(kubectl), "kustomize", "--load-restrictor", "LoadRestrictionsNone", f"deploy/k8s/overlays/{overlay}"]
    )
    assert rendered.returncode == 0, explain(rendered)
    found = [r for r in yaml.safe_load_all(rendered.stdout) if r and r["kind"] == "PrometheusRule"]
    assert len(found) == 1, f"{overlay} renders {len(found)} PrometheusRules"
    assert found[0]["metadata"]["namespace"], "the overlay's namespace applies to the rules"
    assert found[0]["spec"]["groups"] == rules()["groups"]
    extracted = tmp_path / "rules.yaml"
    extracted.write_text(yaml.safe_dump({"groups": found[0]["spec"]["groups"]}))
    result = run([promtool, "check", "rules", str(extracted)])
    assert result.returncode == 0, explain(result)
