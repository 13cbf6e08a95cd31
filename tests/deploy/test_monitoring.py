"""deploy/monitoring/ checked without Prometheus (promtool does not install from PyPI): every alert
rule and dashboard query parses as PromQL (`promql-parser`), reads only metrics that
docs/operations.md lists, and every alert names a severity and a runbook section that exists."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
OPERATIONS = ROOT / "docs" / "operations.md"
SERIES_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "gauge": ("",),
}
PROMETHEUS_OWN = {"up"}
REQUIRED_ALERTS = {
    "outbox age": "advocacy_outbox_oldest_unsent_age_seconds",
    "parked messages": "advocacy_outbox_parked_events",
    "dead-letter growth": "advocacy_consumer_messages_total",
    "consumer lag": "advocacy_consumer_pending_messages",
    "error rate": "advocacy_http_responses_total",
    "LinkedIn budget exhaustion": "advocacy_linkedin_budget_spent_total",
}


def documented_series() -> set[str]:
    """The series names of the metrics table in docs/operations.md: `| name | type | ...`."""
    series: set[str] = set(PROMETHEUS_OWN)
    for name, kind in re.findall(
        r"^\| `(advocacy_[a-z_]+)` \| (counter|gauge|histogram) \|",
        OPERATIONS.read_text(),
        flags=re.MULTILINE,
    ):
        series |= {name.removesuffix("_total") + suffix for suffix in SERIES_SUFFIXES[kind]}
    return series


def metric_names(expr: str) -> set[str]:
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def anchors() -> set[str]:
    """GitHub's anchors of the headings of docs/operations.md."""
    headings = re.findall(r"^#+ (.+)$", OPERATIONS.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headings}


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((MONITORING / "alerts.yaml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_queries() -> list[str]:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


@pytest.mark.parametrize("rule", rules(), ids=lambda rule: rule["alert"])
def test_every_alert_parses_reads_documented_metrics_and_has_a_runbook(
    rule: dict[str, Any],
) -> None:
    assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
    unknown = metric_names(rule["expr"]) - documented_series()
    assert not unknown, f"not in docs/operations.md's metrics table: {unknown}"
    if "for" in rule:
        assert promql_parser.parse_duration(rule["for"])
    assert rule["labels"]["severity"] in {"warning", "critical"}
    assert rule["annotations"]["summary"]
    page, _, anchor = rule["annotations"]["runbook"].partition("#")
    assert page == "docs/operations.md"
    assert anchor in anchors(), f"no section #{anchor} in docs/operations.md"


def test_the_alerts_cover_what_operators_must_hear_about() -> None:
    read = {name for rule in rules() for name in metric_names(rule["expr"])}
    missing = {what for what, metric in REQUIRED_ALERTS.items() if metric not in read}
    assert not missing
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names))


def test_every_dashboard_query_parses_and_reads_documented_metrics() -> None:
    queries = dashboard_queries()
    assert len(queries) > 15
    documented = documented_series()
    for query in queries:
        unknown = metric_names(query) - documented
        assert not unknown, f"{query}: not in docs/operations.md's metrics table: {unknown}"


def test_a_broken_query_is_refused() -> None:
    with pytest.raises(ValueError, match="parenthesis"):
        metric_names("sum(rate(advocacy_outbox_published_total[5m])")
