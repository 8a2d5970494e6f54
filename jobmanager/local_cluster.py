"""The embedded local cluster behind ``env.execute()`` when no JobManager is configured.

It starts a JobManager on a background thread (bound to 127.0.0.1 on a free port, with a
random token) and its TaskManagers, runs the job through the same gRPC path as a remote
cluster, and shuts everything down when the job ends.

``local.taskmanager.runtime`` says where the TaskManagers run: ``in-process`` (the
default, as Flink's MiniCluster: threads of this process, no Ray, a start in about a
second; they share the GIL, hence one core) or ``ray`` (actors of a local Ray started
here: a process each, so parallelism uses the cores, after Ray's 6-7 s start on a
2-core machine).
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import logging
import math
import secrets
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any

from weir.common.job_client import JobClient
from weir.config import ConfigError, Configuration
from weir.executors import submit_job
from weir.jobmanager.runner import JobManager, JobManagerConfig
from weir.jobmanager.scheduler import required_slots
from weir.proto import jobmanager_pb2 as pb
from weir.rpc.client import JobManagerClient

__all__ = ["LocalCluster", "LocalExecutor", "LocalExecutorFactory"]

NUMBER_TASKMANAGER = "local.number-taskmanager"
TASKMANAGER_RUNTIME = "local.taskmanager.runtime"
IN_PROCESS = "in-process"
RAY = "ray"
NUMBER_SLOTS = "taskmanager.numberOfTaskSlots"
METRICS_REPORTER = "metrics.reporter.prom."
log = logging.getLogger(__name__)


class LocalCluster:
    """A JobManager on its own thread and event loop, with its TaskManagers on a local Ray
    or, ``in_process``, on threads of this process."""

    def __init__(self, taskmanagers: int, slots: int,
                 metrics_configuration: dict[str, str] | None = None, *,
                 in_process: bool = False) -> None:
        """``metrics_configuration``: the job's ``metrics.reporter.prom.*`` keys; with none,
        the embedded cluster serves no metrics (``make demo`` opens no port)."""
        self.token = secrets.token_urlsafe(24)
        metrics = metrics_configuration or {}
        self._config = JobManagerConfig(port=0, token=self.token, taskmanagers=taskmanagers,
                                        slots=slots, configuration=metrics,
                                        metrics_enabled_by_default=bool(metrics),
                                        in_process_taskmanagers=in_process)
        self._owns_ray = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="weir-jobmanager",
                                        daemon=True)
        self._jobmanager: JobManager | None = None

    @property
    def address(self) -> str:
        assert self._jobmanager is not None
        return self._jobmanager.address

    @property
    def config(self) -> JobManagerConfig:
        return self._config

    @property
    def metrics_port(self) -> int:
        """The JobManager's metrics port (0: metrics are off)."""
        assert self._jobmanager is not None
        return self._jobmanager.metrics.port if self._jobmanager.metrics else 0

    def start(self) -> LocalCluster:
        """Start Ray (unless in process) while the JobManager's thread loads the runtime
        (``JobManager.prepare``), then the JobManager. On failure, stops what started and
        raises."""
        in_process = self._config.in_process_taskmanagers
        log.info("starting a local cluster: a JobManager, %d TaskManager(s) %s",
                 self._config.taskmanagers, "in this process" if in_process else "on Ray")
        started = time.perf_counter()
        self._thread.start()
        jobmanager = self._jobmanager = JobManager(self._config)
        try:
            preparing = self._run(jobmanager.prepare())
            try:
                if not in_process:
                    self._owns_ray = _start_ray()
            finally:
                preparing.result()
            ray_ready = time.perf_counter()
            self._run(jobmanager.open()).result()
        except BaseException:
            self.shutdown()
            raise
        if in_process:
            log.info("local cluster up in %.2f s: JobManager and TaskManagers in process",
                     time.perf_counter() - started)
        else:
            log.info("local cluster up in %.2f s: Ray %.2f s, JobManager and TaskManagers "
                     "%.2f s", time.perf_counter() - started, ray_ready - started,
                     time.perf_counter() - ray_ready)
        return self

    def shutdown(self) -> None:
        """Stop the JobManager and its TaskManagers, then close the event loop and its
        threads: a process that runs many jobs keeps no thread or descriptor of this one."""
        if self._loop.is_closed():
            return
        started = time.perf_counter()
        if self._jobmanager is not None:
            self._run(self._jobmanager.stop(0.5)).result()
            self._jobmanager = None
        self._run(self._loop.shutdown_default_executor()).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()
        stopped = time.perf_counter()
        atexit.unregister(_skip_final_collections)
        atexit.register(_skip_final_collections)
        if not self._owns_ray:
            log.info("local cluster stopped in %.2f s", stopped - started)
            return
        import ray

        ray.shutdown()
        log.info("local cluster stopped in %.2f s: JobManager and TaskManagers %.2f s, Ray "
                 "%.2f s", time.perf_counter() - started, stopped - started,
                 time.perf_counter() - stopped)

    def _run(self, coroutine: Coroutine[Any, Any, None]) -> Future[None]:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)


def _start_ray() -> bool:
    """Start a local Ray unless one runs in this process already; whether it did. Ray is
    imported here, not with this module: importing it takes 0.8 s."""
    import ray

    from weir.jobmanager.ray_resource_manager import init_ray

    if ray.is_initialized():
        return False
    init_ray()
    return True


def _skip_final_collections() -> None:
    """At exit, after an embedded cluster ran in this process: the interpreter's last garbage
    collections would walk every object Ray, gRPC and protobuf made (measured: 0.4-0.6 s of
    a ``python job.py``'s exit on Ray, 0.07 s with them frozen)."""
    gc.freeze()


class LocalExecutor:
    """Runs each job on a fresh embedded cluster sized from the configuration."""

    def __init__(self, configuration: Configuration) -> None:
        self._configuration = configuration

    def execute(self, job_graph: pb.JobGraph, *, collect: bool = False) -> JobClient:
        """Raises:
            ConfigError: ``local.taskmanager.runtime`` is neither ``in-process`` nor ``ray``.
        """
        runtime = self._configuration.get_string(TASKMANAGER_RUNTIME, IN_PROCESS)
        if runtime not in (IN_PROCESS, RAY):
            raise ConfigError(f"{TASKMANAGER_RUNTIME} must be {IN_PROCESS!r} (TaskManagers on "
                              f"threads of this process) or {RAY!r} (on a local Ray); got "
                              f"{runtime!r}")
        in_process = runtime == IN_PROCESS
        # As Flink's MiniCluster, one TaskManager in process: its subtasks exchange records
        # through queues, not TCP; on Ray, two processes.
        taskmanagers = self._configuration.get_integer(NUMBER_TASKMANAGER,
                                                       1 if in_process else 2)
        slots = self._configuration.get_integer(
            NUMBER_SLOTS, max(1, math.ceil(required_slots(job_graph) / taskmanagers)))
        metrics = {key: value for key, value in self._configuration.to_dict().items()
                   if key.startswith(METRICS_REPORTER)}
        cluster = LocalCluster(taskmanagers, slots, metrics, in_process=in_process).start()
        try:
            rpc = JobManagerClient(cluster.address, cluster.token)
            job_id = submit_job(rpc, job_graph)
        except BaseException:
            cluster.shutdown()
            raise
        return JobClient(job_id, rpc, collect=collect, on_terminated=cluster.shutdown)


def LocalExecutorFactory(configuration: Configuration) -> LocalExecutor:
    """Entry point ``weir.executors:local``."""
    return LocalExecutor(configuration)
