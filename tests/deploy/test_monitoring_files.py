"""The Prometheus rules and the Grafana dashboard shipped in deploy/ (issue #15) parse and use
only the metric names and labels Verity exposes on /metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# The metrics /metrics exposes (the names decided for issue #15) and their labels.
METRICS: dict[str, set[str]] = {
    "gen_ai_client_operation_duration_seconds": {
        "gen_ai_operation_name",
        "gen_ai_provider_name",
        "gen_ai_request_model",
    },
    "gen_ai_client_token_usage": {
        "gen_ai_operation_name",
        "gen_ai_provider_name",
        "gen_ai_request_model",
        "gen_ai_token_type",
    },
    "gen_ai_server_time_to_first_token_seconds": {
        "gen_ai_operation_name",
        "gen_ai_provider_name",
        "gen_ai_request_model",
    },
    "verity_answers_total": {"status", "decline_reason"},
    "verity_pipeline_stage_seconds": {"stage"},
    "verity_verification_sentences_total": {"action"},
    "verity_cache_lookups_total": {"hit"},
    "verity_budget_alerts_total": set(),
    "verity_cost_usd_total": {"model"},
    "verity_ingestion_documents": {"state"},
    "verity_ingestion_pages_total": set(),
    "verity_celery_queue_depth": {"queue"},
    "verity_stuck_answers": set(),
    "verity_stuck_documents": set(),
    "verity_websocket_connections": set(),
    "verity_prompt_fallbacks_total": {"prompt_key"},
    "verity_errors_total": {"where"},
}
HISTOGRAM_SERIES = re.compile(r"_(bucket|sum|count)$")
NAME = re.compile(r"\b(?:verity|gen_ai)_[a-z0-9_]+\b")
SELECTOR = re.compile(r"\b((?:verity|gen_ai)_[a-z0-9_]+)\{([^}]*)\}")
GROUPING = re.compile(r"\bby \(([^)]*)\)")
PROMQL_LABELS = {"le"}


def _metric(name: str) -> str:
    return name if name in METRICS else HISTOGRAM_SERIES.sub("", name)


def _check(expressions: list[str]) -> set[str]:
    used = set()
    all_labels = set().union(*METRICS.values()) | PROMQL_LABELS
    for expr in expressions:
        # Label names (in matchers and groupings) look like metric names: left out here.
        for name in NAME.findall(GROUPING.sub("", re.sub(r"\{[^}]*\}", "", expr))):
            assert _metric(name) in METRICS, f"{name} is not a metric Verity exposes: {expr}"
            used.add(_metric(name))
        for name, matchers in SELECTOR.findall(expr):
            for label in re.findall(r"([a-z_]+)\s*(?:=~|!=|!~|=)", matchers):
                assert label in METRICS[_metric(name)], f"{name} has no label {label}: {expr}"
        for grouping in GROUPING.findall(expr):
            for label in (x.strip() for x in grouping.split(",") if x.strip()):
                assert label in all_labels, f"no metric has the label {label}: {expr}"
    return used


def test_prometheus_rules_parse_and_use_only_verity_metrics() -> None:
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    entries = [rule for group in rules["groups"] for rule in group["rules"]]
    assert len(entries) >= 9
    assert all(rule["alert"] and rule["expr"] and rule["annotations"]["summary"] for rule in entries)
    used = _check([rule["expr"] for rule in entries])
    assert {"verity_answers_total", "gen_ai_server_time_to_first_token_seconds", "verity_stuck_answers"} <= used


def test_grafana_dashboard_parses_and_charts_every_metric() -> None:
    dashboard = json.loads((ROOT / "deploy/grafana/verity.json").read_text())
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
    assert _check(expressions) == set(METRICS)
