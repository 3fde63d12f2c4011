"""Writes the monitoring files derived from others, so each thing is written once:

- grafana/dashboards/stratus.json, the Grafana dashboard of the Stratus metrics (from ROWS);
- deploy/k8s/components/monitoring/prometheusrule.yaml, alerts.yml as a PrometheusRule.

    python deploy/monitoring/generate.py

The outputs are committed (Grafana and kustomize read them as files);
tests/deploy/test_monitoring.py checks that they are what this script writes and that every
metric a panel or rule queries is one Stratus declares.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
DASHBOARD = HERE / "grafana" / "dashboards" / "stratus.json"
ALERTS = HERE / "alerts.yml"
PROMETHEUS_RULE = HERE.parent / "k8s" / "components" / "monitoring" / "prometheusrule.yaml"

# (title, unit, [(query, legend)]), in rows of panels.
ROWS: list[tuple[str, list[tuple[str, str, list[tuple[str, str]]]]]] = [
    (
        "Requests",
        [
            (
                "Requests per second by route",
                "reqps",
                [("sum by (route) (rate(stratus_http_requests_total[5m]))", "{{route}}")],
            ),
            (
                "Server errors (share of requests)",
                "percentunit",
                [
                    (
                        'sum(rate(stratus_http_requests_total{status=~"5.."}[5m]))'
                        " / sum(rate(stratus_http_requests_total[5m]))",
                        "5xx",
                    )
                ],
            ),
            (
                "Request time p50 / p95 / p99",
                "s",
                [
                    (
                        f"histogram_quantile({q}, sum by (le) "
                        "(rate(stratus_http_request_duration_seconds_bucket[5m])))",
                        f"p{int(q * 100)}",
                    )
                    for q in (0.5, 0.95, 0.99)
                ],
            ),
            (
                "Requests per second by replica",
                "reqps",
                [("sum by (instance) (rate(stratus_http_requests_total[5m]))", "{{instance}}")],
            ),
        ],
    ),
    (
        "Database and cache",
        [
            (
                "Database pool connections",
                "short",
                [("sum by (instance, state) (stratus_db_pool_connections)", "{{instance}} {{state}}")],
            ),
            (
                "Waiting for a database connection",
                "short",
                [
                    ("sum by (instance) (stratus_db_pool_waiting_requests)", "{{instance}} waiting"),
                    ("sum by (instance) (rate(stratus_db_pool_waits_total[5m]))", "{{instance}} waits/s"),
                    ("sum by (instance) (rate(stratus_db_pool_errors_total[5m]))", "{{instance}} errors/s"),
                ],
            ),
            (
                "Cache errors (fail open)",
                "ops",
                [("sum by (instance) (rate(stratus_cache_errors_total[5m]))", "{{instance}}")],
            ),
        ],
    ),
    (
        "Live updates",
        [
            (
                "WebSocket connections",
                "short",
                [("sum by (instance) (stratus_websocket_connections)", "{{instance}}")],
            ),
            (
                "WebSocket messages and catch-ups",
                "ops",
                [
                    ("sum(rate(stratus_websocket_messages_sent_total[5m]))", "messages/s"),
                    ("sum(rate(stratus_websocket_catch_up_replays_total[5m]))", "catch-ups/s"),
                    ("sum(rate(stratus_websocket_catch_up_events_total[5m]))", "replayed events/s"),
                ],
            ),
            (
                "Live-event lag (log to sockets) p95 by ws process",
                "s",
                [
                    (
                        "histogram_quantile(0.95, sum by (instance, le) "
                        "(rate(stratus_live_event_lag_seconds_bucket[5m])))",
                        "{{instance}} p95",
                    ),
                    (
                        "histogram_quantile(0.5, sum by (le) "
                        "(rate(stratus_live_event_lag_seconds_bucket[5m])))",
                        "all p50",
                    ),
                ],
            ),
            (
                "Live events handed to sockets per second",
                "ops",
                [("sum by (instance) (rate(stratus_live_event_lag_seconds_count[5m]))", "{{instance}}")],
            ),
        ],
    ),
    (
        "Background work",
        [
            (
                "Tasks by name and state",
                "ops",
                [("sum by (task, state) (rate(stratus_celery_tasks_total[5m]))", "{{task}} {{state}}")],
            ),
            (
                "Task run time p95",
                "s",
                [
                    (
                        "histogram_quantile(0.95, sum by (le, task) "
                        "(rate(stratus_celery_task_duration_seconds_bucket[5m])))",
                        "{{task}}",
                    )
                ],
            ),
            ("Queue depth", "short", [("max by (queue) (stratus_celery_queue_depth)", "{{queue}}")]),
            (
                "Beat: time since the last dispatch",
                "s",
                [("time() - max(stratus_beat_last_dispatch_timestamp_seconds)", "seconds")],
            ),
            ("Beat: lock holder", "short", [("stratus_beat_lock_held", "{{instance}}")]),
        ],
    ),
    (
        "Work that must happen",
        [
            (
                "Reminders due, not sent",
                "short",
                [
                    ("max(stratus_reminders_due_unsent)", "waiting"),
                    ("max(stratus_reminders_due_unsent_oldest_age_seconds)", "oldest age (s)"),
                ],
            ),
            (
                "Campaign messages",
                "short",
                [
                    ("max(stratus_campaign_messages_pending)", "pending"),
                    ("sum(rate(stratus_campaign_messages_sent_total[5m]))", "sent per second"),
                ],
            ),
            ("Imports running", "short", [("max(stratus_imports_running)", "imports")]),
            (
                "Build",
                "short",
                [("count by (version, commit) (stratus_build_info)", "{{version}} {{commit}}")],
            ),
        ],
    ),
]


def panel(
    panel_id: int, title: str, unit: str, queries: list[tuple[str, str]], x: int, y: int
) -> dict[str, Any]:
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": "prometheus"},
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {"refId": chr(ord("A") + index), "expr": expr, "legendFormat": legend}
            for index, (expr, legend) in enumerate(queries)
        ],
    }


def dashboard() -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    y = 0
    next_id = 1
    for row_title, row_panels in ROWS:
        panels.append(
            {
                "id": next_id,
                "type": "row",
                "title": row_title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
            }
        )
        next_id += 1
        y += 1
        for index, (title, unit, queries) in enumerate(row_panels):
            panels.append(panel(next_id, title, unit, queries, x=12 * (index % 2), y=y + 8 * (index // 2)))
            next_id += 1
        y += 8 * ((len(row_panels) + 1) // 2)
    return {
        "uid": "stratus",
        "title": "Stratus",
        "tags": ["stratus"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "panels": panels,
    }


def render_dashboard() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


def render_prometheus_rule() -> str:
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "stratus", "labels": {"app.kubernetes.io/name": "stratus"}},
        "spec": yaml.safe_load(ALERTS.read_text()),
    }
    header = "# Generated from deploy/monitoring/alerts.yml by deploy/monitoring/generate.py: edit those.\n"
    return header + yaml.safe_dump(rule, sort_keys=False, width=100)


OUTPUTS = {DASHBOARD: render_dashboard, PROMETHEUS_RULE: render_prometheus_rule}


if __name__ == "__main__":
    for path, render in OUTPUTS.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render())
        print(f"wrote {path}")
