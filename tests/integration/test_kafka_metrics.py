"""A Kafka job read slower than its topic fills: the lag Prometheus sees rises, and every
metric the Grafana dashboard and the alert rules query is one the running cluster exports."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.cli import weir
from tests.fixtures.cluster import RunningJobManager
from tests.fixtures.kafka import KafkaBroker
from tests.fixtures.prometheus import PrometheusServer
from weir.common import SimpleStringSchema, Time, WatermarkStrategy
from weir.datastream import CheckpointingMode, MapFunction, StreamExecutionEnvironment
from weir.datastream.connectors.kafka import KafkaOffsetsInitializer, KafkaSource
from weir.datastream.window import TumblingProcessingTimeWindows

pytestmark = pytest.mark.timeout(240)

REPO = Path(__file__).resolve().parents[2]
FIRST, SECOND = 1_000, 20_000


class SlowMap(MapFunction):
    """About 4 ms a record: the job reads some 250 records a second."""

    def map(self, value: str) -> str:
        time.sleep(0.004)
        return value


class RunningKafkaJob:
    def __init__(self, job_id: str, topic: str, metrics_address: str) -> None:
        self.job_id = job_id
        self.topic = topic
        self.metrics_address = metrics_address


@pytest.fixture(scope="module")
def kafka_job(jobmanager: RunningJobManager, kafka_broker: KafkaBroker,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningKafkaJob]:
    """A job reading a 2-partition topic that holds ``FIRST`` records, with latency
    markers, checkpoints and a window: every kind of metric the dashboard shows."""
    topic = kafka_broker.create_topic(kafka_broker.new_topic_name("lag"), 2)
    kafka_broker.produce(topic, (f"r{i}" for i in range(FIRST)), partitions=2)
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    env.enable_checkpointing(500, CheckpointingMode.AT_LEAST_ONCE)
    env.get_checkpoint_config().set_checkpoint_storage_dir(
        tmp_path_factory.mktemp("chk").as_uri())
    env.get_config().set_string("metrics.latency.interval", "200 ms")
    source = (KafkaSource.builder().set_bootstrap_servers(kafka_broker.bootstrap_servers)
              .set_topics(topic).set_group_id("lag-test")
              .set_starting_offsets(KafkaOffsetsInitializer.earliest())
              .set_value_only_deserializer(SimpleStringSchema()).build())
    (env.from_source(source, WatermarkStrategy.no_watermarks(), "events").uid("events")
        .map(SlowMap()).uid("slow")
        .key_by(lambda value: len(value))
        .window(TumblingProcessingTimeWindows.of(Time.seconds(1)))
        .reduce(lambda a, b: a).uid("window")
        .add_sink(lambda value: None).uid("discard"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WEIR_JOBMANAGER", jobmanager.address)
        patch.setenv("WEIR_TOKEN", jobmanager.token)
        job = env.execute_async("kafka-lag")
    yield RunningKafkaJob(job.get_job_id(), topic, jobmanager.metrics_address)
    job.cancel().result(timeout=30)


def _pending(server: PrometheusServer, job_id: str) -> Callable[[], float | None]:
    def read() -> float | None:
        result = server.query(f'sum(weir_taskmanager_job_task_operator_pendingRecords'
                              f'{{job_id="{job_id}"}})')
        return float(result[0]["value"][1]) if result else None
    return read


def test_lag_rises_when_the_topic_fills_faster_than_the_job_reads(
        kafka_job: RunningKafkaJob, kafka_broker: KafkaBroker,
        prometheus: Callable[..., PrometheusServer]) -> None:
    server = prometheus(f"http://{kafka_job.metrics_address}/targets")
    pending = _pending(server, kafka_job.job_id)
    server.wait_for(f'weir_taskmanager_job_task_operator_pendingRecords'
                    f'{{job_id="{kafka_job.job_id}"}}', lambda result: len(result) == 1)
    before = pending()
    assert before is not None and 0 <= before <= FIRST
    kafka_broker.produce(kafka_job.topic, (f"s{i}" for i in range(SECOND)), partitions=2)
    # 20,000 records take the job some 80 s: most of them wait in the topic for a while.
    # (The reader knows the end of a partition as of its last fetch, so the lag it sees
    # rises in steps, one per fetch.)
    risen = server.wait_for(
        f'sum(weir_taskmanager_job_task_operator_pendingRecords{{job_id="{kafka_job.job_id}"}})'
        f' > {before + SECOND // 5}', lambda result: len(result) == 1, timeout_s=90)
    assert float(risen[0]["value"][1]) <= FIRST + SECOND
    lag_max = server.query(f'weir_taskmanager_job_task_operator_records_lag_max'
                           f'{{job_id="{kafka_job.job_id}"}}')
    assert 0 < float(lag_max[0]["value"][1]) <= (FIRST + SECOND) // 2 + 1  # one partition
    fetch_lag = server.query(f'weir_taskmanager_job_task_operator_currentFetchEventTimeLag'
                             f'{{job_id="{kafka_job.job_id}"}}')
    assert fetch_lag and float(fetch_lag[0]["value"][1]) >= 0


def _exported_names(metrics_address: str) -> set[str]:
    """Every metric and sample name the JobManager and its TaskManagers serve now."""
    with urllib.request.urlopen(f"http://{metrics_address}/targets", timeout=10) as response:
        endpoints = [t for group in json.loads(response.read()) for t in group["targets"]]
    names: set[str] = set()
    for endpoint in endpoints:
        with urllib.request.urlopen(f"http://{endpoint}/metrics", timeout=10) as response:
            for family in text_string_to_metric_families(response.read().decode()):
                names.add(family.name)
                names.update(sample.name for sample in family.samples)
    return names


def _queried_names(text: str) -> set[str]:
    return set(re.findall(r"\bweir_[A-Za-z0-9_]+", text))


def _dashboard_expressions() -> list[str]:
    dashboard: dict[str, Any] = json.loads(
        (REPO / "deploy/grafana/weir-dashboard.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"]
                   for target in panel.get("targets", [])]
    expressions += [variable["query"]["query"] for variable in dashboard["templating"]["list"]
                    if isinstance(variable.get("query"), dict)]
    return expressions


def test_the_dashboard_and_the_alerts_query_metrics_weir_exports(
        kafka_job: RunningKafkaJob) -> None:
    expressions = _dashboard_expressions()
    assert len(expressions) >= 20
    wanted = set().union(*(_queried_names(e) for e in expressions))
    wanted |= _queried_names((REPO / "deploy/prometheus/alerts.yml").read_text())
    deadline = time.monotonic() + 60
    missing = wanted
    while missing and time.monotonic() < deadline:  # latency histograms, lag: after a while
        missing = wanted - _exported_names(kafka_job.metrics_address)
        time.sleep(1)
    assert not missing, f"queried but not exported: {sorted(missing)}"


def _cli_env(jobmanager: RunningJobManager) -> dict[str, str]:
    return jobmanager.env(WEIR_METRICS=jobmanager.metrics_address)


def test_weir_metrics_and_status_show_rates_lag_and_the_last_checkpoint(
        kafka_job: RunningKafkaJob, jobmanager: RunningJobManager) -> None:
    deadline = time.monotonic() + 60
    while True:  # until a checkpoint completed and records went through
        result = weir("metrics", kafka_job.job_id, env=_cli_env(jobmanager))
        assert result.returncode == 0, result.output
        lines = result.stdout.strip().splitlines()
        summary = lines[-1]
        if (not summary.startswith("Last checkpoint: -") and re.search(
                r"^Source: events.*\s[1-9][\d,]*\s+\d+%", result.stdout, re.MULTILINE)) \
                or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert lines[0].split() == ["VERTEX", "SUBTASKS", "IN/S", "OUT/S", "BACKPRESSURED", "BUSY",
                                "WATERMARK", "LAG", "SOURCE", "LAG"]
    rows = {re.split(r"\s{2,}", line.strip())[0]: re.split(r"\s{2,}", line.strip())
            for line in lines[1:] if line.strip() and not line.startswith("Last checkpoint")}
    source = next(row for name, row in rows.items() if name.startswith("Source: events"))
    window = next(row for name, row in rows.items() if name.startswith("Window"))
    assert source[1] == "1" and window[1] == "1"
    assert float(source[3].replace(",", "")) > 0  # records out per second
    assert source[-1] != "-" and window[-1] == "-"  # a Kafka source has a lag, a window none
    assert re.match(r"Last checkpoint: \d+ \(", summary), summary
    assert "restarts 0" in summary

    status = weir("status", kafka_job.job_id, env=_cli_env(jobmanager))
    assert status.returncode == 0, status.output
    fields = dict(line.split(":", 1) for line in status.stdout.split("\n\n")[0].splitlines())
    assert re.match(r"\d+, .* ago, took .*", fields["Last checkpoint"].strip()), fields
    assert "records pending" in fields["Source lag"], fields


def test_weir_metrics_says_where_it_looked_when_there_are_no_metrics(
        kafka_job: RunningKafkaJob, jobmanager: RunningJobManager) -> None:
    result = weir("metrics", kafka_job.job_id, "--metrics", "127.0.0.1:9",
                  env=jobmanager.env())
    assert result.returncode == 1
    assert "no metrics at 127.0.0.1:9" in result.stderr and "--metrics" in result.stderr
