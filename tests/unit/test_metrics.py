"""Metric groups, kinds and the Prometheus collector, without a server."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from weir.config import ConfigError
from weir.graph.deployment import TaskManagerInfo
from weir.jobmanager.local_cluster import LocalCluster
from weir.jobmanager.metrics import JobManagerMetrics
from weir.metrics import MetricGroup
from weir.metrics.group import MetricRegistry, metric_name
from weir.metrics.prometheus import PrometheusReporterOptions, RegistryCollector, parse_port_range
from weir.metrics.types import Histogram, MeterView


def _exposition(registry: MetricRegistry) -> str:
    prometheus = CollectorRegistry(auto_describe=False)
    prometheus.register(RegistryCollector(registry))
    return generate_latest(prometheus).decode()


def test_names_join_the_scope_and_replace_what_prometheus_forbids() -> None:
    assert metric_name("weir", ("taskmanager", "job", "task", "operator"), "records-lag-max") \
        == "weir_taskmanager_job_task_operator_records_lag_max"


def test_scoped_groups_export_their_variables_as_labels() -> None:
    registry = MetricRegistry()
    tm = MetricGroup(registry, ("taskmanager",), {"tm_id": "tm-0"})
    task = tm.add_scoped_group("job", {**tm.variables, "job_id": "j1"})
    task.counter("numRecordsIn").inc(7)
    task.add_group("user").add_group("region", "eu").gauge("pending", lambda: 3)
    text = _exposition(registry)
    assert 'weir_taskmanager_job_numRecordsIn{job_id="j1",tm_id="tm-0"} 7.0' in text
    assert 'weir_taskmanager_job_user_region_pending{job_id="j1",region="eu",tm_id="tm-0"} 3.0' \
        in text


def test_closing_a_group_unregisters_its_metrics_and_subgroups_only() -> None:
    registry = MetricRegistry()
    root = MetricGroup(registry, ("jobmanager",), {})
    job = root.add_scoped_group("job", {"job_id": "a"})
    job.add_group("sub").counter("c")
    root.gauge("numRunningJobs", lambda: 1)
    job.close()
    assert [m.name for m in registry.snapshot()] == ["weir_jobmanager_numRunningJobs"]


def test_a_restarted_task_keeps_its_metric_when_the_old_attempt_closes() -> None:
    registry = MetricRegistry()
    root = MetricGroup(registry, ("taskmanager",), {"tm_id": "tm"})
    old = root.add_scoped_group("task", {"task_name": "map"})
    old.gauge("numRecordsIn", lambda: 1)
    new = root.add_scoped_group("task", {"task_name": "map"})
    new.gauge("numRecordsIn", lambda: 2)
    old.close()
    assert 'weir_taskmanager_task_numRecordsIn{task_name="map"} 2.0' in _exposition(registry)


def test_unregistered_groups_count_but_report_nowhere() -> None:
    counter = MetricGroup.unregistered().add_group("x").counter("c")
    counter.inc(2)
    counter.dec()
    assert counter.get_count() == 1


def test_gauges_without_a_number_are_left_out() -> None:
    registry = MetricRegistry()
    group = MetricGroup(registry, ("task",), {})
    group.gauge("lag", lambda: None)
    group.gauge("backPressured", lambda: True)
    text = _exposition(registry)
    assert "weir_task_lag" not in text and "weir_task_backPressured 1.0" in text


def test_meter_view_rate_is_over_the_time_span() -> None:
    now = [100.0]
    count = [0]
    meter = MeterView(lambda: count[0], time_span_s=10, clock=lambda: now[0])
    now[0], count[0] = 102.0, 200
    assert meter.get_rate() == 100.0
    now[0], count[0] = 120.0, 2200
    assert meter.get_rate() == pytest.approx((2200 - 200) / 18)  # the sample at 102 s is kept
    now[0], count[0] = 135.0, 2200
    assert meter.get_rate() == 0.0  # nothing for the last 10 s and more


def test_histogram_quantiles_use_the_window_and_count_everything() -> None:
    histogram = Histogram(window_size=100)
    assert all(math.isnan(v) for v in histogram.quantiles().values())
    for value in range(1, 201):
        histogram.update(value)
    quantiles = histogram.quantiles((0.5, 0.99))
    assert quantiles == {0.5: 150, 0.99: 199}
    assert histogram.get_count() == 200 and histogram.get_sum() == sum(range(1, 201))


def test_histograms_are_exported_as_summaries() -> None:
    registry = MetricRegistry()
    histogram = MetricGroup(registry, ("op",), {"operator_name": "m"}).histogram("latency")
    histogram.update(5)
    text = _exposition(registry)
    assert "# TYPE weir_op_latency summary" in text
    assert 'weir_op_latency{operator_name="m",quantile="0.99"} 5.0' in text
    assert 'weir_op_latency_count{operator_name="m"} 1.0' in text


def test_port_ranges() -> None:
    assert parse_port_range("9249") == range(9249, 9250)
    assert parse_port_range("9249-9259") == range(9249, 9260)
    with pytest.raises(ConfigError, match="metrics.reporter.prom.port"):
        parse_port_range("92a9")
    with pytest.raises(ConfigError, match="--metrics-port"):
        parse_port_range("9300-9200", "--metrics-port")


def test_reporter_options_default_to_loopback_and_name_bad_keys() -> None:
    options = PrometheusReporterOptions.from_configuration({})
    assert (options.enabled, options.host, options.ports) == (True, "127.0.0.1",
                                                              range(9249, 9260))
    assert not PrometheusReporterOptions.from_configuration({}, default_enabled=False).enabled
    with pytest.raises(ConfigError, match="metrics.reporter.prom.enabled"):
        PrometheusReporterOptions.from_configuration({"metrics.reporter.prom.enabled": "on"})


def test_the_embedded_cluster_serves_no_metrics_unless_configured() -> None:
    quiet = LocalCluster(1, 1).config
    assert not quiet.metrics_enabled_by_default
    on = LocalCluster(1, 1, {"metrics.reporter.prom.port": "0"}).config
    assert on.metrics_enabled_by_default and on.configuration == {
        "metrics.reporter.prom.port": "0"}


def test_taskmanagers_get_the_resolved_switch_and_the_port_range() -> None:
    metrics = JobManagerMetrics({"metrics.reporter.prom.port": "9300-9310"}, False, "9400",
                                None, dict)
    assert not metrics.options.enabled and metrics.start(lambda: 0) == 0
    assert metrics.taskmanager_configuration == {
        "metrics.reporter.prom.enabled": "false", "metrics.reporter.prom.host": "127.0.0.1",
        "metrics.reporter.prom.port": "9300-9310"}
    on = JobManagerMetrics({}, True, "9400", None, dict)
    assert on.options.ports == range(9400, 9401)  # --metrics-port: the JobManager's only
    assert "metrics.reporter.prom.port" not in on.taskmanager_configuration


def test_targets_list_the_jobmanager_and_the_taskmanagers_that_serve_metrics() -> None:
    infos = {"taskmanager-1": TaskManagerInfo("taskmanager-1", "10.0.0.2", 7001, 2,
                                              "10.0.0.2", 9250),
             "taskmanager-0": TaskManagerInfo("taskmanager-0", "10.0.0.1", 7000, 2,
                                              "10.0.0.1", 9249),
             "taskmanager-2": TaskManagerInfo("taskmanager-2", "10.0.0.3", 7002, 2)}
    metrics = JobManagerMetrics({"metrics.reporter.prom.host": "0.0.0.0"}, True, None,
                                "jm.example", lambda: infos)
    metrics.port = 9249
    assert metrics.targets() == [
        {"targets": ["jm.example:9249"], "labels": {"component": "jobmanager"}},
        {"targets": ["10.0.0.1:9249"], "labels": {"component": "taskmanager"}},
        {"targets": ["10.0.0.2:9250"], "labels": {"component": "taskmanager"}},
    ]
