"""The TaskManager's metrics: its registry and endpoint, and the task and operator groups
with Flink's names.

Scopes and labels, as Flink's Prometheus reporter exports them (``weir_`` for ``flink_``):

- ``weir_taskmanager_Status_…{tm_id}``: the process' CPU and memory, and the size of the
  state its subtasks last checkpointed;
- ``weir_taskmanager_job_task_…{tm_id, job_id, job_name, task_name, subtask_index}``:
  ``numRecordsIn/Out`` (and ``…PerSecond``), ``numBytesIn/Out``, watermarks,
  ``busy/idle/backPressuredTimeMsPerSecond``, ``isBackPressured``, ``in/outPoolUsage``;
- ``weir_taskmanager_job_task_operator_…{…, operator_name, operator_id}``: per operator
  ``numRecordsIn/Out``, the source reader's figures (``pendingRecords``,
  ``records-lag-max``, …), ``numLateRecordsDropped`` and the user's own metrics.

Every value here is read when Prometheus scrapes; the task only adds to plain counters,
once per batch (``TaskIOMetrics``).
"""

from __future__ import annotations

import os
import resource
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from weir.graph.deployment import TaskDeployment
from weir.metrics import MetricGroup
from weir.metrics.group import MetricRegistry
from weir.metrics.prometheus import MetricsServer, PrometheusReporterOptions
from weir.metrics.types import Histogram, MeterView

__all__ = ["CountedOperator", "TaskIOMetrics", "TaskManagerMetrics", "TaskView", "operator_group",
           "register_operator"]

_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
LATENCY_HISTORY = 128


class TaskManagerMetrics:
    """One TaskManager's registry, its ``Status`` metrics and, when enabled, its endpoint."""

    def __init__(self, tm_id: str, configuration: Mapping[str, str]) -> None:
        self.options = PrometheusReporterOptions.from_configuration(configuration)
        self.registry = MetricRegistry() if self.options.enabled else None
        self.group = MetricGroup(self.registry, ("taskmanager",), {"tm_id": tm_id})
        self._server: MetricsServer | None = None
        self.port = 0
        status = self.group.add_group("Status").add_group("Python")
        status.add_group("CPU").gauge("Time", _cpu_seconds)
        status.add_group("CPU").register("Load", MeterView(_cpu_seconds, 60))
        status.add_group("Memory").gauge("RSS", _resident_bytes)

    def track_state_size(self, tasks: Callable[[], list[Any]]) -> None:
        """``Status.State.Size``: the bytes of the state ``tasks()`` (each with a
        ``state_size``) uploaded in their last checkpoints."""
        self.group.add_group("Status").add_group("State").gauge(
            "Size", lambda: sum(task.state_size for task in tasks()))

    def start(self) -> int:
        """Serve ``/metrics``; returns the port (0: metrics are off)."""
        if self.registry is None:
            return 0
        self._server = MetricsServer(self.registry, self.options)
        self.port = self._server.start()
        return self.port

    def close(self) -> None:
        if self._server is not None:
            self._server.close()


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE_BYTES


class TaskView(Protocol):
    """What the task metrics read from a running task (on the reporter's thread: reads only)."""

    records_in: int

    @property
    def records_out(self) -> int: ...

    @property
    def input_watermark(self) -> int: ...

    @property
    def output_watermark(self) -> int: ...

    @property
    def in_pool_usage(self) -> float: ...

    @property
    def out_pool_usage(self) -> float: ...

    @property
    def bytes_in(self) -> int: ...

    @property
    def bytes_out(self) -> int: ...


class TaskIOMetrics:
    """The task's group and the time it spends idle and back-pressured.

    Written by the task on its event loop; read by the reporter. ``busyTimeMsPerSecond``
    is what is left of each second, as in Flink.
    """

    def __init__(self, parent: MetricGroup, deployment: TaskDeployment) -> None:
        self._job = parent.add_scoped_group("job", {
            **parent.variables, "job_id": deployment.job_id, "job_name": deployment.job_name})
        self.group = self._job.add_scoped_group("task", {
            **self._job.variables, "task_name": deployment.vertex_name,
            "subtask_index": str(deployment.subtask_index)})
        self._subtask_index = str(deployment.subtask_index)
        self._latency: dict[tuple[str, str], Histogram] = {}
        self.idle_ms = 0.0
        self.back_pressured_ms = 0.0
        self.back_pressured = False  # waiting for credit now

    def register(self, task: TaskView) -> None:
        group = self.group
        group.gauge("numRecordsIn", lambda: task.records_in)
        group.gauge("numRecordsOut", lambda: task.records_out)
        group.register("numRecordsInPerSecond", MeterView(lambda: task.records_in))
        group.register("numRecordsOutPerSecond", MeterView(lambda: task.records_out))
        group.gauge("numBytesIn", lambda: task.bytes_in)
        group.gauge("numBytesOut", lambda: task.bytes_out)
        group.register("numBytesInPerSecond", MeterView(lambda: task.bytes_in))
        group.register("numBytesOutPerSecond", MeterView(lambda: task.bytes_out))
        group.gauge("currentInputWatermark", lambda: task.input_watermark)
        group.gauge("currentOutputWatermark", lambda: task.output_watermark)
        idle = MeterView(lambda: self.idle_ms)
        back_pressured = MeterView(lambda: self.back_pressured_ms)
        group.register("idleTimeMsPerSecond", idle)
        group.register("backPressuredTimeMsPerSecond", back_pressured)
        group.gauge("busyTimeMsPerSecond",
                    lambda: max(0.0, 1000.0 - idle.get_rate() - back_pressured.get_rate()))
        group.gauge("isBackPressured", lambda: self.back_pressured)
        group.gauge("inPoolUsage", lambda: task.in_pool_usage)
        group.gauge("outPoolUsage", lambda: task.out_pool_usage)

    def register_source(self, group: MetricGroup, records: Callable[[], int],
                        figures: Callable[[], Mapping[str, Any]]) -> None:
        """A source operator's ``numRecordsOut`` and its reader's figures (each numeric
        entry of ``figures()``, e.g. the Kafka reader's lag)."""
        group.gauge("numRecordsOut", records)
        group.register("numRecordsOutPerSecond", MeterView(records))
        for name, value in figures().items():
            if value is None or isinstance(value, int | float):
                group.gauge(name, _figure(figures, name))

    def report_latency(self, source_id: str, marked_time_ms: int, operator_ids: list[str],
                       now_ms: int) -> None:
        """A latency marker of ``source_id`` reached this task's operators: Flink's
        ``…job_latency_source_id_operator_id_operator_subtask_index_latency`` histograms
        (``metrics.latency.history-size`` 128 values each)."""
        delay = now_ms - marked_time_ms
        for operator_id in operator_ids:
            histogram = self._latency.get((source_id, operator_id))
            if histogram is None:
                histogram = self._latency[(source_id, operator_id)] = (
                    self._job.add_group("latency").add_group("source_id", source_id)
                    .add_group("operator_id", operator_id)
                    .add_group("operator_subtask_index", self._subtask_index)
                    .histogram("latency", LATENCY_HISTORY))
            histogram.update(delay)

    def close(self) -> None:
        self._job.close()


def _figure(figures: Callable[[], Mapping[str, Any]],
            name: str) -> Callable[[], float | int | None]:
    def read() -> float | int | None:
        value = figures().get(name)
        return value if isinstance(value, int | float) else None
    return read


def operator_group(task_group: MetricGroup, name: str, operator_id: str) -> MetricGroup:
    """The group of one operator of a task."""
    return task_group.add_scoped_group("operator", {
        **task_group.variables, "operator_name": name, "operator_id": operator_id})


class CountedOperator(Protocol):
    """An operator's record counts, which its chain adds to once per batch."""

    num_records_in: int
    num_records_out: int


def register_operator(group: MetricGroup, operator: CountedOperator) -> None:
    group.gauge("numRecordsIn", lambda: operator.num_records_in)
    group.gauge("numRecordsOut", lambda: operator.num_records_out)
    group.register("numRecordsInPerSecond", MeterView(lambda: operator.num_records_in))
    group.register("numRecordsOutPerSecond", MeterView(lambda: operator.num_records_out))
