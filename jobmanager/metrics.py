"""The JobManager's metrics and endpoint: Flink's job metrics, and the ``http_sd`` target
list that points Prometheus at every TaskManager's endpoint.

Exported as ``weir_jobmanager_job_<name>{job_id, job_name}`` (Flink: ``flink_jobmanager_job_…``):
``uptime``, ``numRestarts``, ``fullRestarts``, ``lastCheckpointDuration``,
``lastCheckpointSize``, ``numberOfCompletedCheckpoints``, ``numberOfFailedCheckpoints``,
``numberOfInProgressCheckpoints``, ``totalNumberOfCheckpoints``,
``lastCheckpointRestoreTimestamp``; and ``weir_jobmanager_<name>``: ``numRunningJobs``,
``numRegisteredTaskManagers``, ``taskSlotsTotal``. Every value is read from the job
masters when Prometheus scrapes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from weir.graph.deployment import TaskManagerInfo
from weir.metrics import MetricGroup
from weir.metrics.group import MetricRegistry
from weir.metrics.prometheus import (
    ENABLED,
    HOST,
    PORT,
    MetricsServer,
    PrometheusReporterOptions,
    parse_port_range,
)
from weir.proto import jobmanager_pb2 as pb

if TYPE_CHECKING:
    from weir.jobmanager.job_master import JobMaster

__all__ = ["JobManagerMetrics", "taskmanager_metrics_configuration"]

_WILDCARD = ("0.0.0.0", "::", "")
_TERMINAL = (pb.FINISHED, pb.CANCELED, pb.FAILED)


def taskmanager_metrics_configuration(configuration: Mapping[str, str],
                                      options: PrometheusReporterOptions) -> dict[str, str]:
    """The ``metrics.reporter.prom.*`` keys TaskManagers start with: the JobManager's,
    with ``enabled`` resolved (so an embedded cluster's default reaches them)."""
    return {ENABLED: "true" if options.enabled else "false", HOST: options.host,
            **({PORT: configuration[PORT]} if PORT in configuration else {})}


class JobManagerMetrics:
    """The JobManager's registry and endpoint (``/metrics`` and ``/targets``)."""

    def __init__(self, configuration: Mapping[str, str], default_enabled: bool,
                 port_override: str | None, advertised_host: str | None,
                 taskmanagers: Callable[[], Mapping[str, TaskManagerInfo]],
                 clock: Callable[[], float] = time.time) -> None:
        options = PrometheusReporterOptions.from_configuration(configuration, default_enabled)
        self.taskmanager_configuration = taskmanager_metrics_configuration(configuration,
                                                                           options)
        if port_override is not None:
            options = PrometheusReporterOptions(
                options.enabled, options.host, parse_port_range(port_override,
                                                                "--metrics-port"))
        self.options = options
        self._registry = MetricRegistry() if options.enabled else None
        self.group = MetricGroup(self._registry, ("jobmanager",), {})
        self._advertised_host = advertised_host
        self._taskmanagers = taskmanagers
        self._clock = clock
        self._jobs: dict[str, MetricGroup] = {}
        self._server: MetricsServer | None = None
        self.port = 0

    def start(self, running_jobs: Callable[[], int]) -> int:
        """Serve ``/metrics`` and ``/targets``; returns the port (0: metrics are off).

        Raises:
            OSError: no port of the range is free.
        """
        if self._registry is None:
            return 0
        self.group.gauge("numRunningJobs", running_jobs)
        self.group.gauge("numRegisteredTaskManagers", lambda: len(self._taskmanagers()))
        self.group.gauge("taskSlotsTotal",
                         lambda: sum(info.slots for info in self._taskmanagers().values()))
        self._server = MetricsServer(self._registry, self.options, self.targets)
        self.port = self._server.start()
        return self.port

    def close(self) -> None:
        if self._server is not None:
            self._server.close()

    def job_started(self, job: JobMaster) -> None:
        """Register the job's metrics (until ``job_ended``)."""
        group = self.group.add_scoped_group("job", {"job_id": job.job_id,
                                                    "job_name": job.graph.name})
        self._jobs[job.job_id] = group
        coordinator = job.coordinator

        def latest(attribute: str) -> int:
            metadata = coordinator.latest
            return -1 if metadata is None else int(getattr(metadata, attribute))

        group.gauge("uptime", lambda: -1 if job.state in _TERMINAL
                    else int((self._clock() - job.start_time) * 1000))
        group.gauge("numRestarts", lambda: job.num_restarts)
        group.gauge("fullRestarts", lambda: job.num_restarts)
        group.gauge("lastCheckpointDuration", lambda: latest("duration_ms"))
        group.gauge("lastCheckpointSize", lambda: latest("size"))
        group.gauge("lastCompletedCheckpointId", lambda: latest("checkpoint_id"))
        group.gauge("numberOfCompletedCheckpoints", lambda: coordinator.completed_count)
        group.gauge("numberOfFailedCheckpoints", lambda: coordinator.failed_count)
        group.gauge("numberOfInProgressCheckpoints", lambda: len(coordinator.pending))
        group.gauge("totalNumberOfCheckpoints", lambda: coordinator.completed_count
                    + coordinator.failed_count + len(coordinator.pending))
        group.gauge("lastCheckpointRestoreTimestamp", lambda: job.restore_timestamp_ms)

    def job_ended(self, job_id: str) -> None:
        group = self._jobs.pop(job_id, None)
        if group is not None:
            group.close()

    def targets(self) -> list[dict[str, Any]]:
        """Prometheus ``http_sd`` JSON: this endpoint and every TaskManager's."""
        host = self.options.host
        if host in _WILDCARD:
            host = self._advertised_host or "127.0.0.1"
        groups = [{"targets": [f"{host}:{self.port}"], "labels": {"component": "jobmanager"}}]
        for _, info in sorted(self._taskmanagers().items()):
            if info.metrics_port:
                groups.append({"targets": [f"{info.metrics_host}:{info.metrics_port}"],
                               "labels": {"component": "taskmanager"}})
        return groups
