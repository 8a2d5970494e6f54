"""The TaskManager: a thin adapter that deploys and cancels StreamTasks and posts them
control messages. It runs as a Ray actor, or on a thread of the embedded cluster's process.

All of a TaskManager's tasks, its data connections and its JobManager client run on its
asyncio event loop. Cancellation alone is received on another thread (the Ray concurrency
group ``CONTROL_GROUP``, with its own event loop; in process, the JobManager's), so that a
task blocking the event loop cannot keep a cancel from being heard: the cancel is armed on
the watchdog there, then carried out on the event loop (``weir.taskmanager.cancellation``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from typing import ClassVar

from weir.config import TaskCancellation
from weir.config.internal_ssl import InternalSslOptions
from weir.graph.deployment import DeployedTask, TaskDeployment, TaskManagerInfo
from weir.proto import jobmanager_pb2 as pb
from weir.taskmanager.cancellation import TaskCancelerWatchdog
from weir.taskmanager.garbage_collection import tune_for_streaming
from weir.taskmanager.jobmanager_gateway import JobManagerGateway, task_id
from weir.taskmanager.mailbox import (
    NotifyCheckpointAborted,
    NotifyCheckpointComplete,
    TriggerCheckpoint,
)
from weir.taskmanager.metrics import TaskManagerMetrics
from weir.taskmanager.network.environment import NetworkEnvironment
from weir.taskmanager.network.events import CheckpointBarrier
from weir.taskmanager.task import StreamTask
from weir.taskmanager.task_table import TaskTable

__all__ = ["TaskManagerActor"]

log = logging.getLogger(__name__)
HEARTBEAT_INTERVAL_S = 1.0
REPORTED_TASK_GRACE_S = 1.0
FINAL_STATES = frozenset({pb.TASK_FINISHED, pb.TASK_FAILED, pb.TASK_CANCELED})
CONTROL = "control"


def _reachable_address(bind_host: str) -> str:
    """The address peers reach a data port bound to ``bind_host`` on: the host itself, or,
    for a wildcard bind, this node's address as Ray knows it (a pod's IP in Kubernetes)."""
    if bind_host in ("0.0.0.0", "::", ""):
        import ray  # only a TaskManager that Ray started binds a wildcard

        return str(ray.util.get_node_ip_address())
    return bind_host


class TaskManagerActor:
    """Runs subtasks in ``slots`` slots; the JobManager decides what goes where.

    ``cluster_secret`` (from the JobManager) is what peers must prove to hold before this
    TaskManager reads anything they send on its data port; ``internal_ssl`` adds TLS.
    """

    # The Ray concurrency groups of the methods (the JobManager creates the actor with them
    # and calls ``cancel_job`` in ``CONTROL_GROUP``).
    CONTROL_GROUP: ClassVar[str] = CONTROL
    CONCURRENCY_GROUPS: ClassVar[dict[str, int]] = {CONTROL: 100}

    def __init__(self, name: str, jobmanager_address: str, token: str | None, slots: int,
                 bind_host: str = "127.0.0.1", *,
                 cluster_secret: bytes | None = None,
                 internal_ssl: InternalSslOptions | None = None,
                 jobmanager_tls_ca: bytes | None = None,
                 metrics_configuration: Mapping[str, str] | None = None) -> None:
        self._name = name
        # ``metrics.reporter.prom.*`` of the cluster: this TaskManager's own endpoint.
        self._metrics = TaskManagerMetrics(name, metrics_configuration or {})
        self._jobmanager_address = jobmanager_address
        self._token = token
        self._jobmanager_tls_ca = jobmanager_tls_ca  # PEM; None: the JobManager is plain gRPC
        self._slots = slots
        self._bind_host = bind_host
        self._advertised_host = _reachable_address(bind_host)
        self._tasks: TaskTable | None = None
        # Per job: its cancellation options. Written on the event loop at deployment, read
        # by the control thread (a dict lookup is atomic).
        self._cancellation: dict[str, TaskCancellation] = {}
        self._watchdog = TaskCancelerWatchdog()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._network = NetworkEnvironment(bind_host, cluster_secret=cluster_secret,
                                           internal_ssl=internal_ssl)
        self._gateway: JobManagerGateway | None = None
        self._heartbeat: asyncio.Task[None] | None = None

    async def start(self, own_process: bool = True) -> TaskManagerInfo:
        """Open the data port and start heartbeats; returns where peers reach this TaskManager.
        In ``own_process`` (a Ray actor's), tune the garbage collector for streaming."""
        self._loop = asyncio.get_running_loop()
        await self._network.start()
        self._gateway = JobManagerGateway(self._jobmanager_address, self._token,
                                          tls_root_certificates=self._jobmanager_tls_ca)
        self._tasks = TaskTable(self._gateway)
        self._heartbeat = asyncio.get_running_loop().create_task(self._heartbeats())
        self._metrics.track_state_size(self._task_snapshot)
        self._metrics.start()
        if own_process:
            tune_for_streaming()
        return await self.info()

    def _task_snapshot(self) -> list[StreamTask]:
        """The running tasks, read from the metrics reporter's thread while the event loop
        may add or remove one (then the copy is simply taken again)."""
        for _ in range(3):
            try:
                return list(self._tasks or ())
            except RuntimeError:  # the table changed during the copy
                continue
        return []

    async def ping(self) -> int:
        return os.getpid()

    async def info(self) -> TaskManagerInfo:
        """Where peers reach this TaskManager's data port and Prometheus its metrics."""
        metrics_host = self._metrics.options.host
        if metrics_host in ("0.0.0.0", "::"):
            metrics_host = self._advertised_host
        return TaskManagerInfo(self._name, self._advertised_host, self._network.port,
                               self._slots, metrics_host, self._metrics.port)

    async def wait_for_death(self) -> None:
        """Never returns: the JobManager awaits it to learn when this actor dies."""
        await asyncio.Event().wait()

    async def deploy_task(self, deployment: TaskDeployment) -> None:
        assert self._gateway is not None and self._tasks is not None, "start() first"
        self._cancellation[deployment.job_id] = TaskCancellation.from_configuration(
            deployment.configuration)
        self._tasks.start(StreamTask(deployment, self._network, self._gateway, self._name,
                                     metric_group=self._metrics.group))

    async def list_tasks(self) -> list[DeployedTask]:
        """Every task this TaskManager holds now (a stopped task is gone), for tests and
        operators: which job, attempt, vertex and subtask, and its state."""
        return [] if self._tasks is None else self._tasks.listing()

    async def trigger_checkpoint(self, job_id: str, attempt: int,
                                 tasks: list[tuple[str, int]], checkpoint_id: int,
                                 timestamp_ms: int, target_uri: str, shared_uri: str = "",
                                 base_checkpoint_id: int = 0) -> None:
        """Checkpoint ``checkpoint_id`` starts at these subtasks (sources, or subtasks
        whose input ended); ``shared_uri`` and ``base_checkpoint_id`` as in
        ``CheckpointBarrier``."""
        assert self._tasks is not None, "start() first"
        trigger = TriggerCheckpoint(CheckpointBarrier(checkpoint_id, timestamp_ms, target_uri,
                                                      shared_uri, base_checkpoint_id))
        for vertex_id, subtask in tasks:
            task = self._tasks.get((job_id, attempt, vertex_id, subtask))
            if task is not None:
                task.post(trigger)

    async def notify_checkpoint_complete(self, job_id: str, attempt: int, checkpoint_id: int,
                                         final: bool) -> None:
        assert self._tasks is not None, "start() first"
        complete = NotifyCheckpointComplete(checkpoint_id, final)
        for task in self._tasks.of_attempt(job_id, attempt):
            task.post(complete)

    async def notify_checkpoint_aborted(self, job_id: str, attempt: int,
                                        checkpoint_id: int) -> None:
        assert self._tasks is not None, "start() first"
        aborted = NotifyCheckpointAborted(checkpoint_id)
        for task in self._tasks.of_attempt(job_id, attempt):
            task.post(aborted)

    async def cancel_job(self, job_id: str, attempt: int) -> None:
        """Cancel every task of ``job_id`` up to ``attempt`` (none deployed later runs);
        returns once they all stopped.

        Runs on the control thread. Unless the tasks stopped within the job's
        ``task.cancellation.timeout``, the watchdog ends this process: then the event loop
        is stuck, which no cancel can undo.
        """
        assert self._loop is not None and self._tasks is not None, "start() first"
        cancellation = self._cancellation.get(job_id, TaskCancellation())
        with self._watchdog.watch(f"cancelling the tasks of job {job_id} (attempts up to "
                                  f"{attempt}) on {self._name}", cancellation.timeout_s):
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(
                self._tasks.cancel(job_id, attempt, cancellation.interval_s), self._loop))

    async def shutdown(self) -> None:
        """Cancel the tasks, then close the data port, the metrics endpoint and the
        JobManager client.

        A task that already reported its final state (the last tasks of a job that just
        finished, when the cluster stops with it) awaits only the JobManager's answer: it
        gets up to ``REPORTED_TASK_GRACE_S`` to return, lest cancelling it send a second,
        CANCELED report over the closing client, which fails with a warning.
        """
        if self._tasks is not None:
            await self._await_reported_tasks()
            self._tasks.cancel_all()
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        await self._network.close()
        self._metrics.close()
        if self._gateway is not None:
            await self._gateway.close()

    async def _await_reported_tasks(self) -> None:
        assert self._tasks is not None
        deadline = asyncio.get_running_loop().time() + REPORTED_TASK_GRACE_S
        while (any(task.state in FINAL_STATES for task in self._tasks)
               and asyncio.get_running_loop().time() < deadline):
            await asyncio.sleep(0.005)

    async def _heartbeats(self) -> None:
        assert self._gateway is not None and self._tasks is not None
        while True:
            await asyncio.sleep(HEARTBEAT_INTERVAL_S)
            beat = pb.TaskManagerHeartbeat(taskmanager=self._name)
            for task in self._tasks:
                beat.tasks.add(task=task_id(task.deployment), records_in=task.records_in,
                               records_out=task.records_out)
            try:
                await self._gateway.heartbeat(beat)
            except Exception:
                log.debug("heartbeat to the JobManager failed", exc_info=True)

