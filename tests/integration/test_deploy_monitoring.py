"""The alert rules in deploy/prometheus pass promtool and evaluate in a real Prometheus;
the Grafana dashboard in deploy/grafana is valid JSON with a query in every panel. (That
each query names a metric weir exports: tests/integration/test_kafka_metrics.py.)"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.fixtures.cluster import RunningJobManager
from tests.fixtures.prometheus import PrometheusServer, promtool_binary

REPO = Path(__file__).resolve().parents[2]
ALERTS = REPO / "deploy/prometheus/alerts.yml"
DASHBOARD = REPO / "deploy/grafana/weir-dashboard.json"
ALERT_NAMES = {"WeirKafkaConsumerLagHigh", "WeirCheckpointFailureRatioHigh", "WeirJobRestarting",
               "WeirJobRestartLoop", "WeirTaskBackPressured", "WeirMetricsEndpointDown"}


def test_promtool_accepts_the_alert_rules() -> None:
    result = subprocess.run([promtool_binary(), "check", "rules", str(ALERTS)],
                            check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(ALERT_NAMES)} rules found" in result.stdout


def test_prometheus_loads_and_evaluates_the_alert_rules(
        jobmanager: RunningJobManager, prometheus: Callable[..., PrometheusServer]) -> None:
    server = prometheus(f"http://{jobmanager.metrics_address}/targets", [ALERTS])
    deadline = time.monotonic() + 30
    rules: list[dict] = []
    while time.monotonic() < deadline:
        rules = [rule for group in server.rule_groups() for rule in group["rules"]]
        if rules and all(rule["health"] == "ok" for rule in rules):
            break
        time.sleep(0.5)
    assert {rule["name"] for rule in rules} == ALERT_NAMES
    assert all(rule["health"] == "ok" and rule["type"] == "alerting" for rule in rules), rules
    # A healthy cluster fires none of them.
    assert all(rule["state"] == "inactive" for rule in rules), rules


def test_the_dashboard_is_grafana_json_with_a_query_in_every_panel() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    charts = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    titles = " ".join(panel["title"].lower() for panel in charts)
    for subject in ("records in", "kafka lag", "back-pressured", "checkpoint", "restarts",
                    "latency"):
        assert subject in titles, subject
    for panel in charts:
        assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"]), panel
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
