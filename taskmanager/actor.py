"""The TaskManager Ray actor: a thin adapter that deploys and cancels StreamTasks and
posts them control messages.

All of a TaskManager's tasks, its data connections and its JobManager client
run on the actor's asyncio event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os

from weir.config.internal_ssl import InternalSslOptions
from weir.graph.deployment import TaskDeployment, TaskManagerInfo
from weir.proto import jobmanager_pb2 as pb
from weir.taskmanager.jobmanager_gateway import JobManagerGateway, task_id
from weir.taskmanager.mailbox import (
    NotifyCheckpointAborted,
    NotifyCheckpointComplete,
    TriggerCheckpoint,
)
from weir.taskmanager.network.environment import NetworkEnvironment
from weir.taskmanager.network.events import CheckpointBarrier
from weir.taskmanager.task import StreamTask

__all__ = ["TaskManagerActor"]

log = logging.getLogger(__name__)
HEARTBEAT_INTERVAL_S = 1.0
TaskKey = tuple[str, int, str, int]


class TaskManagerActor:
    """Runs subtasks in ``slots`` slots; the JobManager decides what goes where.

    ``cluster_secret`` (from the JobManager) is what peers must prove to hold before this
    TaskManager reads anything they send on its data port; ``internal_ssl`` adds TLS.
    """

    def __init__(self, name: str, jobmanager_address: str, token: str | None, slots: int,
                 bind_host: str = "127.0.0.1", advertised_host: str | None = None, *,
                 cluster_secret: bytes | None = None,
                 internal_ssl: InternalSslOptions | None = None,
                 jobmanager_tls_ca: bytes | None = None) -> None:
        self._name = name
        self._jobmanager_address = jobmanager_address
        self._token = token
        self._jobmanager_tls_ca = jobmanager_tls_ca  # PEM; None: the JobManager is plain gRPC
        self._slots = slots
        self._bind_host = bind_host
        self._advertised_host = advertised_host or bind_host
        self._tasks: dict[TaskKey, tuple[StreamTask, asyncio.Task[None]]] = {}
        self._network = NetworkEnvironment(bind_host, cluster_secret=cluster_secret,
                                           internal_ssl=internal_ssl)
        self._gateway: JobManagerGateway | None = None
        self._heartbeat: asyncio.Task[None] | None = None

    async def start(self) -> TaskManagerInfo:
        """Open the data port and start heartbeats; returns where peers reach this TaskManager."""
        port = await self._network.start()
        self._gateway = JobManagerGateway(self._jobmanager_address, self._token,
                                          tls_root_certificates=self._jobmanager_tls_ca)
        self._heartbeat = asyncio.get_running_loop().create_task(self._heartbeats())
        return TaskManagerInfo(self._name, self._advertised_host, port, self._slots)

    async def ping(self) -> int:
        return os.getpid()

    async def info(self) -> TaskManagerInfo:
        """Where peers reach this TaskManager's data port (as ``start`` returned)."""
        return TaskManagerInfo(self._name, self._advertised_host, self._network.port,
                               self._slots)

    async def wait_for_death(self) -> None:
        """Never returns: the JobManager awaits it to learn when this actor dies."""
        await asyncio.Event().wait()

    async def deploy_task(self, deployment: TaskDeployment) -> None:
        assert self._gateway is not None, "start() first"
        task = StreamTask(deployment, self._network, self._gateway, self._name)
        key = (deployment.job_id, deployment.attempt, deployment.vertex_id,
               deployment.subtask_index)
        runner = asyncio.get_running_loop().create_task(task.run())
        self._tasks[key] = (task, runner)
        runner.add_done_callback(lambda _: self._tasks.pop(key, None))

    def _tasks_of(self, job_id: str, attempt: int) -> list[StreamTask]:
        return [task for (job, task_attempt, *_), (task, _) in list(self._tasks.items())
                if job == job_id and task_attempt == attempt]

    async def trigger_checkpoint(self, job_id: str, attempt: int,
                                 tasks: list[tuple[str, int]], checkpoint_id: int,
                                 timestamp_ms: int, target_uri: str) -> None:
        """Checkpoint ``checkpoint_id`` starts at these subtasks (sources, or subtasks
        whose input ended)."""
        trigger = TriggerCheckpoint(CheckpointBarrier(checkpoint_id, timestamp_ms, target_uri))
        for vertex_id, subtask in tasks:
            entry = self._tasks.get((job_id, attempt, vertex_id, subtask))
            if entry is not None:
                entry[0].post(trigger)

    async def notify_checkpoint_complete(self, job_id: str, attempt: int, checkpoint_id: int,
                                         final: bool) -> None:
        complete = NotifyCheckpointComplete(checkpoint_id, final)
        for task in self._tasks_of(job_id, attempt):
            task.post(complete)

    async def notify_checkpoint_aborted(self, job_id: str, attempt: int,
                                        checkpoint_id: int) -> None:
        aborted = NotifyCheckpointAborted(checkpoint_id)
        for task in self._tasks_of(job_id, attempt):
            task.post(aborted)

    async def cancel_job(self, job_id: str) -> None:
        """Cancel every task of ``job_id`` (any attempt) and wait until they stopped."""
        runners = [runner for (job, *_), (_, runner) in list(self._tasks.items()) if job == job_id]
        for runner in runners:
            runner.cancel()
        await asyncio.gather(*runners, return_exceptions=True)

    async def shutdown(self) -> None:
        for _, runner in list(self._tasks.values()):
            runner.cancel()
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        await self._network.close()
        if self._gateway is not None:
            await self._gateway.close()

    async def _heartbeats(self) -> None:
        assert self._gateway is not None
        while True:
            await asyncio.sleep(HEARTBEAT_INTERVAL_S)
            beat = pb.TaskManagerHeartbeat(taskmanager=self._name)
            for task, _ in list(self._tasks.values()):
                beat.tasks.add(task=task_id(task.deployment), records_in=task.records_in,
                               records_out=task.records_out)
            try:
                await self._gateway.heartbeat(beat)
            except Exception:
                log.debug("heartbeat to the JobManager failed", exc_info=True)
