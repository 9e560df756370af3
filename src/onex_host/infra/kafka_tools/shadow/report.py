"""How a comparison is shown: a table for a person at a terminal, JSON for a pipeline."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from onex_host.core.scrubbing import scrub
from onex_host.infra.kafka_tools.shadow.comparator import ComparisonReport, Outcome
from onex_host.infra.kafka_tools.shadow.observed import Side

_VALUE_WIDTH = 40


@dataclass(frozen=True)
class ReportContext:
    """What the run compared and against which gate; printed alongside the figures."""

    legacy_topic: str
    shadow_topic: str
    min_match: float | None


def render_json(report: ComparisonReport, context: ReportContext) -> str:
    document: dict[str, Any] = {
        "legacy_topic": context.legacy_topic,
        "shadow_topic": context.shadow_topic,
        **report.as_json(),
    }
    if context.min_match is not None:
        document["gate"] = {"min_match": context.min_match, "passed": report.passes(context.min_match)}
    return scrub(json.dumps(document, indent=2, default=str))


def render_table(report: ComparisonReport, context: ReportContext) -> str:
    lines = [
        f"shadow-diff  legacy: {context.legacy_topic}  shadow: {context.shadow_topic}  "
        f"window: {report.window_seconds:g}s",
        "",
        _row("match rate", _rate_line(report, context)),
    ]
    for outcome in Outcome:
        lines.append(_row(outcome.value.replace("_", " "), str(report.counts[outcome])))
    lines.append(_row("pending", str(report.pending)))
    lines.append(_row("unpaired at start", str(report.unpaired_at_start)))
    lines.append(_row("duplicates", _per_side(report.duplicates)))
    lines.append(_row("late", _per_side(report.late)))
    lines.append(_row("undecodable", _per_side(report.undecodable)))
    latency = report.latency
    lines.append(
        _row(
            "latency shadow-legacy",
            "n/a"
            if latency is None
            else f"mean {_ms(latency.mean)}  p50 {_ms(latency.p50)}  p95 {_ms(latency.p95)}  max {_ms(latency.max)}",
        )
    )
    lines.append(_row("ignored fields", ", ".join(report.ignored_fields) or "none"))
    if report.mismatches:
        shown = len(report.mismatches)
        lines += ["", f"mismatches (first {shown} of {report.counts[Outcome.MISMATCH]}):"]
        lines.append(_columns("correlation id", "operation", "field", "legacy", "shadow"))
        for mismatch in report.mismatches:
            for difference in mismatch.differences:
                as_json = difference.as_json()
                lines.append(
                    _columns(
                        mismatch.correlation_id,
                        mismatch.operation or "-",
                        difference.path,
                        _value(as_json, "legacy"),
                        _value(as_json, "shadow"),
                    )
                )
    for outcome, ids in report.missing.items():
        if ids:
            lines += ["", f"{outcome.value.replace('_', ' ')} (first {len(ids)} of {report.counts[outcome]}):"]
            lines += [f"  {cid}" for cid in ids]
    return scrub("\n".join(lines))


def _rate_line(report: ComparisonReport, context: ReportContext) -> str:
    rate = report.match_rate
    text = "n/a (nothing compared)" if rate is None else f"{rate:.3%} of {report.rated} compared"
    if context.min_match is not None:
        verdict = "PASS" if report.passes(context.min_match) else "FAIL"
        text += f"  (gate {context.min_match:.3%}: {verdict})"
    return text


def _row(label: str, value: str) -> str:
    return f"  {label:<22} {value}"


def _per_side(counts: Mapping[Side, int]) -> str:
    return "  ".join(f"{side.value} {counts[side]}" for side in Side)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:+.1f}ms"


def _value(difference: dict[str, Any], side: str) -> str:
    if side not in difference:
        return "(absent)"
    text = json.dumps(difference[side], default=str)
    return text if len(text) <= _VALUE_WIDTH else text[: _VALUE_WIDTH - 1] + "…"


def _columns(cid: str, operation: str, path: str, legacy: str, shadow: str) -> str:
    return f"  {cid:<36}  {operation:<16}  {path:<28}  {legacy:<{_VALUE_WIDTH}}  {shadow}"
