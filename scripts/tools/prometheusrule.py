"""Writes deploy/k8s/base/prometheusrule.yaml from deploy/observability/prometheus/onex-alerts.yaml.

The plain rules file is the one source; the PrometheusRule (prometheus-operator)
carries the same groups for the k8s overlays. tests/observability/test_alert_rules.py
fails when the committed PrometheusRule is not what this script writes.

    python scripts/tools/prometheusrule.py          # rewrite the PrometheusRule
    python scripts/tools/prometheusrule.py --check  # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

REPOSITORY = Path(__file__).resolve().parents[2]
RULES = REPOSITORY / "deploy" / "observability" / "prometheus" / "onex-alerts.yaml"
PROMETHEUS_RULE = REPOSITORY / "deploy" / "k8s" / "base" / "prometheusrule.yaml"

HEADER = """\
# GENERATED from deploy/observability/prometheus/onex-alerts.yaml by
# `python scripts/tools/prometheusrule.py`: edit that file, then rerun the script.
# kustomize adds the base's labels (app.kubernetes.io/name: onex-host, ...); a
# Prometheus whose ruleSelector wants another label needs it added in the overlay.
"""


def _literal_multiline(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(str, _literal_multiline)


def prometheus_rule(rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "onex-host-alerts"},
        "spec": {"groups": rules["groups"]},
    }


def render() -> str:
    rules = yaml.safe_load(RULES.read_text())
    body = yaml.dump(prometheus_rule(rules), Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=True)
    return HEADER + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed PrometheusRule is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = PROMETHEUS_RULE.read_text() if PROMETHEUS_RULE.is_file() else ""
        if current != text:
            print(
                f"error: {PROMETHEUS_RULE} is out of date: run python scripts/tools/prometheusrule.py", file=sys.stderr
            )
            return 1
        return 0
    PROMETHEUS_RULE.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
