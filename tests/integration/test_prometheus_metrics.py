"""A real Prometheus scrapes a running job through the JobManager's http_sd ``/targets``:
what it reports equals what the job did."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.cluster import RunningJobManager, start_jobmanager, stop_jobmanager
from tests.fixtures.faults import FailOnce
from tests.fixtures.processes import free_port
from tests.fixtures.prometheus import PrometheusServer, Vector
from weir.common import RestartStrategies, WatermarkStrategy
from weir.datastream import CheckpointingMode, MapFunction, StreamExecutionEnvironment
from weir.datastream.connectors.base import Source, SourceReader
from weir.rpc.client import JobManagerClient

RECORDS = 20_000
PARALLELISM = 2


class HoldingSource(Source[int]):
    """``count`` numbers over the subtasks, then nothing, without ending: the job keeps
    running (and its metrics registered) until the test cancels it."""

    def __init__(self, count: int) -> None:
        self.count = count

    def is_bounded(self) -> bool:
        return False

    def create_reader(self, subtask_index: int, parallelism: int) -> SourceReader[int]:
        return _HoldingReader(range(subtask_index, self.count, parallelism))


class _HoldingReader(SourceReader[int]):
    def __init__(self, numbers: range) -> None:
        self._numbers = numbers
        self._next = 0

    async def poll_batch(self, max_records: int) -> list[int]:
        batch = list(self._numbers[self._next:self._next + min(max_records, 500)])
        self._next += len(batch)
        if not batch:
            await asyncio.sleep(0.05)
        return batch

    def snapshot_position(self) -> int:
        return self._next

    def restore_position(self, position: int) -> None:
        self._next = position


class CountingMap(MapFunction):
    """Counts what it maps in a user metric, as a PyFlink job would."""

    def open(self, runtime_context: Any) -> None:
        group = runtime_context.get_metrics_group().add_group("user")
        self.mapped = group.counter("mapped")
        self.sizes = group.distribution("value")

    def map(self, value: int) -> int:
        self.mapped.inc()
        self.sizes.update(value)
        return value


def _targets_url(jobmanager: RunningJobManager) -> str:
    assert jobmanager.metrics_address, "the JobManager serves no metrics"
    return f"http://{jobmanager.metrics_address}/targets"


def _per_vertex(server: PrometheusServer, metric: str, job_id: str) -> dict[str, float]:
    return {s["metric"]["task_name"]: float(s["value"][1]) for s in
            server.query(f'sum by (task_name) ({metric}{{job_id="{job_id}"}})')}


def _total(expected: float) -> Callable[[Vector], bool]:
    return lambda result: len(result) == 1 and float(result[0]["value"][1]) == expected


def _keyed_job(env: StreamExecutionEnvironment, source: Source[int]) -> None:
    (env.from_source(source, WatermarkStrategy.no_watermarks(), "numbers").uid("numbers")
        .key_by(lambda value: value % 13)
        .map(CountingMap()).name("count").uid("count")
        .add_sink(lambda value: None).uid("discard"))


def test_prometheus_reports_the_records_the_job_processed(
        cluster: RunningJobManager, prometheus: Callable[..., PrometheusServer]) -> None:
    server = prometheus(_targets_url(cluster))
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(PARALLELISM)
    _keyed_job(env, HoldingSource(RECORDS))
    job = env.execute_async("metrics-counts")
    job_id = job.get_job_id()
    try:
        server.wait_for(f'sum(weir_taskmanager_job_task_operator_user_mapped{{job_id="{job_id}"}})',
                        _total(RECORDS))
        # Every TaskManager and the JobManager are scraped through /targets (the
        # JobManager's first scrape may come a second after the TaskManagers').
        server.wait_for("up == 1", lambda result: sorted(
            s["metric"]["component"] for s in result) == ["jobmanager", "taskmanager", "taskmanager"])
        records_out = _per_vertex(server, "weir_taskmanager_job_task_numRecordsOut", job_id)
        records_in = _per_vertex(server, "weir_taskmanager_job_task_numRecordsIn", job_id)
        source = next(name for name in records_out if "numbers" in name)
        keyed = next(name for name in records_in if name != source)
        assert records_out[source] == RECORDS
        assert records_in[keyed] == RECORDS
        assert records_in[source] == 0  # a source task takes no input from channels
        operators = {s["metric"]["operator_name"]: float(s["value"][1]) for s in server.query(
            f'sum by (operator_name) (weir_taskmanager_job_task_operator_numRecordsIn'
            f'{{job_id="{job_id}"}})')}
        assert operators["count"] == RECORDS
        reader_out = server.query(f'sum(weir_taskmanager_job_task_operator_numRecordsOut'
                                  f'{{job_id="{job_id}",operator_name="Source: numbers"}})')
        assert float(reader_out[0]["value"][1]) == RECORDS
        # One series per subtask, labelled as Flink labels them.
        series = server.query(f'weir_taskmanager_job_task_numRecordsIn{{job_id="{job_id}",'
                              f'task_name="{keyed}"}}')
        assert sorted(s["metric"]["subtask_index"] for s in series) == ["0", "1"]
        for labels in (s["metric"] for s in series):
            assert labels["job_name"] == "metrics-counts" and labels["tm_id"]
        distribution = server.query(
            f'sum(weir_taskmanager_job_task_operator_user_value_count{{job_id="{job_id}"}})')
        assert float(distribution[0]["value"][1]) == RECORDS
        uptime = server.query(f'weir_jobmanager_job_uptime{{job_id="{job_id}"}}')
        assert float(uptime[0]["value"][1]) > 0
        # The bytes the source's subtasks sent to the other TaskManager are the bytes the
        # keyed subtasks received from it (local exchanges serialize nothing).
        server.wait_for(
            f'sum(weir_taskmanager_job_task_numBytesOut{{job_id="{job_id}"}})'
            f' - sum(weir_taskmanager_job_task_numBytesIn{{job_id="{job_id}"}})', _total(0))
        sent = server.query(f'sum(weir_taskmanager_job_task_numBytesOut{{job_id="{job_id}"}})')
        assert float(sent[0]["value"][1]) > RECORDS  # more than a byte a record went remote
    finally:
        job.cancel().result(timeout=30)


def test_num_restarts_counts_the_injected_failure(
        cluster: RunningJobManager, prometheus: Callable[..., PrometheusServer],
        tmp_path: Path) -> None:
    server = prometheus(_targets_url(cluster))
    plan = FailOnce(tmp_path / "failed", after_records=RECORDS // PARALLELISM // 3)
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(PARALLELISM)
    env.enable_checkpointing(200, CheckpointingMode.EXACTLY_ONCE)
    env.get_checkpoint_config().set_checkpoint_storage_dir((tmp_path / "chk").as_uri())
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(3, 200))
    _keyed_job(env, plan.source(HoldingSource(RECORDS)))
    job = env.execute_async("metrics-restarts")
    job_id = job.get_job_id()
    client = JobManagerClient(cluster.address, cluster.token)
    try:
        server.wait_for(f'weir_jobmanager_job_numRestarts{{job_id="{job_id}"}}', _total(1))
        assert plan.happened
        assert client.get_job(job_id).num_restarts == 1
        server.wait_for(f'weir_jobmanager_job_numberOfCompletedCheckpoints{{job_id="{job_id}"}}'
                        f' > 0', lambda result: len(result) == 1)
        restored = server.query(
            f'weir_jobmanager_job_lastCheckpointRestoreTimestamp{{job_id="{job_id}"}}')
        assert float(restored[0]["value"][1]) > 0  # it restored from a checkpoint
        assert server.query(f'weir_jobmanager_job_fullRestarts{{job_id="{job_id}"}}')
        # The TaskManagers count the bytes of the state their subtasks checkpointed.
        server.wait_for('sum(weir_taskmanager_Status_State_Size) > 0',
                        lambda result: len(result) == 1)
    finally:
        job.cancel().result(timeout=30)
        client.close()


LATENCY = "weir_taskmanager_job_latency_source_id_operator_id_operator_subtask_index_latency"


def test_latency_histograms_appear_only_when_latency_tracking_is_on(
        cluster: RunningJobManager, prometheus: Callable[..., PrometheusServer]) -> None:
    server = prometheus(_targets_url(cluster))
    jobs = []
    for interval in ("100 ms", None):
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(PARALLELISM)
        if interval is not None:
            env.get_config().set_string("metrics.latency.interval", interval)
        _keyed_job(env, HoldingSource(RECORDS))
        jobs.append(env.execute_async(f"latency-{interval or 'off'}"))
    tracked, untracked = (job.get_job_id() for job in jobs)
    try:
        quantiles = server.wait_for(
            f'{LATENCY}{{job_id="{tracked}",quantile=~"0.5|0.95|0.99"}}',
            lambda result: len(result) == 3 * PARALLELISM * 2)  # x subtasks x chained ops
        assert {s["metric"]["source_id"] for s in quantiles} == {"numbers"}
        assert {s["metric"]["operator_id"] for s in quantiles} == {"count", "discard"}
        for sample in quantiles:
            assert 0 <= float(sample["value"][1]) < 10_000, sample
        # The job without it: its records were all counted, and no latency series.
        server.wait_for(f'sum(weir_taskmanager_job_task_operator_user_mapped'
                        f'{{job_id="{untracked}"}})', _total(RECORDS))
        assert server.query(f'{LATENCY}{{job_id="{untracked}"}}') == []
    finally:
        for job in jobs:
            job.cancel().result(timeout=30)


def test_a_bad_latency_interval_is_refused_naming_the_key(cluster: RunningJobManager) -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.get_config().set_string("metrics.latency.interval", "often")
    _keyed_job(env, HoldingSource(10))
    with pytest.raises(Exception, match="metrics.latency.interval"):
        env.execute_async("bad-latency")


def test_metrics_port_flag_and_range(tmp_path: Path) -> None:
    """``--metrics-port`` places the JobManager; its TaskManagers take the first free ports
    of ``metrics.reporter.prom.port``'s range."""
    first = free_port()
    running = start_jobmanager(tmp_path / "jm.log", "--taskmanagers", "2", "--slots", "1",
                               "--metrics-port", str(first),
                               "-D", f"metrics.reporter.prom.port={first}-{first + 10}")
    try:
        assert running.metrics_address == f"127.0.0.1:{first}"
        with urllib.request.urlopen(f"http://{running.metrics_address}/targets",
                                    timeout=10) as response:
            groups = json.loads(response.read())
        ports = sorted(int(t.rsplit(":", 1)[1]) for g in groups[1:] for t in g["targets"])
        assert len(ports) == 2 and all(first < port <= first + 10 for port in ports), ports
    finally:
        stop_jobmanager(running)


@pytest.mark.parametrize("args, key", [
    (["-D", "metrics.reporter.prom.port=92x9"], "metrics.reporter.prom.port"),
    (["-D", "metrics.reporter.prom.enabled=yes please"], "metrics.reporter.prom.enabled"),
    (["--metrics-port", "9300-9200"], "--metrics-port"),
])
def test_bad_metrics_options_stop_the_jobmanager_naming_them(args: list[str], key: str) -> None:
    result = subprocess.run([sys.executable, "-m", "weir.jobmanager", *args], check=False,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and key in result.stderr, result.stderr
