"""Dispatcher: accepts jobs, owns the slot pool, and routes reports to each job's master."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Coroutine, Mapping
from typing import Any

from weir.checkpoint import (
    CheckpointStorageError,
    checkpoint_settings,
    join_uri,
    load_savepoint,
    savepoint_dir_name,
    storage_for,
)
from weir.config import ConfigError, TaskCancellation
from weir.graph.deployment import TaskManagerInfo
from weir.jobmanager.checkpoint_store import JobCheckpointStore
from weir.jobmanager.job_master import JobMaster, RestorePoint
from weir.jobmanager.job_store import JobRecord, JobStore
from weir.jobmanager.metrics import JobManagerMetrics
from weir.jobmanager.resource_manager import ResourceManager
from weir.jobmanager.restart_strategy import restart_strategy_from_configuration
from weir.jobmanager.scheduler import NotEnoughSlotsError, SlotAssignment, assign_slots
from weir.jobmanager.state_assignment import StateAssignmentError, assign_restored_state
from weir.metrics.latency import latency_interval_ms
from weir.proto import jobmanager_pb2 as pb

__all__ = ["Dispatcher", "JobSubmissionError", "UnknownJobError"]

log = logging.getLogger(__name__)


class UnknownJobError(KeyError):
    pass


class JobSubmissionError(ValueError):
    """The job was rejected; the message says why."""


class Dispatcher:
    """Touched only on the JobManager's event loop.

    ``configuration`` is the cluster's (Flink keys); a job's own configuration
    overrides it for that job.
    """

    def __init__(self, resources: ResourceManager,
                 configuration: Mapping[str, str] | None = None,
                 metrics: JobManagerMetrics | None = None) -> None:
        self._resources = resources
        self._metrics = metrics
        self.configuration = dict(configuration or {})
        self.gateways = resources.gateways
        self.jobs: dict[str, JobMaster] = {}
        self._used_slots: dict[str, int] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._job_store = JobStore.from_configuration(self.configuration)
        self._requests: dict[str, pb.SubmitJobRequest] = {}

    # ------------------------------------------------------------ slot pool

    def _free_slots(self) -> dict[str, int]:
        return {name: info.slots - self._used_slots.get(name, 0)
                for name, info in self._resources.infos.items()}

    def allocate(self, graph: pb.JobGraph) -> tuple[SlotAssignment, dict[str, TaskManagerInfo]]:
        assignment = assign_slots(graph, self._free_slots())
        for tm in set(assignment.values()):
            self._used_slots[tm] = self._used_slots.get(tm, 0) + _slots_on(assignment, tm)
        return assignment, dict(self._resources.infos)

    def release(self, assignment: SlotAssignment) -> None:
        for tm in set(assignment.values()):
            if tm in self._used_slots:
                self._used_slots[tm] -= _slots_on(assignment, tm)

    async def wait_for_slots(self, graph: pb.JobGraph, timeout_s: float) -> None:
        """Wait until the free slots can hold ``graph`` (replacement TaskManagers start)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                assign_slots(graph, self._free_slots())
                return
            except NotEnoughSlotsError:
                await asyncio.sleep(0.1)
        assign_slots(graph, self._free_slots())  # raises with the reason

    @property
    def running_jobs(self) -> int:
        return sum(1 for master in self.jobs.values() if master.state == pb.RUNNING)

    def kill_taskmanager(self, name: str) -> None:
        self._resources.kill(name)

    # ------------------------------------------------------------- submission

    async def submit(self, graph: pb.JobGraph, savepoint_path: str = "",
                     allow_non_restored_state: bool = False, job_id: str | None = None,
                     first_attempt: int = 0) -> str:
        _validate(graph)
        configuration = {**self.configuration, **graph.configuration}
        try:
            settings = checkpoint_settings(configuration)
            restart_strategy = restart_strategy_from_configuration(configuration)
            cancellation = TaskCancellation.from_configuration(configuration)
            latency_interval_ms(configuration)
        except ConfigError as error:
            raise JobSubmissionError(str(error)) from None
        initial_restore = None
        if savepoint_path:
            initial_restore = await self._savepoint(graph, savepoint_path, configuration,
                                                    allow_non_restored_state)
        try:
            assignment, taskmanagers = self.allocate(graph)
        except NotEnoughSlotsError as error:
            raise JobSubmissionError(str(error)) from None
        job_id = job_id or uuid.uuid4().hex
        master = JobMaster(job_id, graph, self, self.configuration, settings,
                           JobCheckpointStore(settings, job_id, configuration),
                           restart_strategy, self._job_ended, initial_restore,
                           first_attempt=first_attempt, on_attempt=self._attempt_started,
                           cancellation=cancellation)
        self.jobs[job_id] = master
        if self._metrics is not None:
            self._metrics.job_started(master)
        self._requests[job_id] = pb.SubmitJobRequest(
            job_graph=graph, savepoint_path=savepoint_path,
            allow_non_restored_state=allow_non_restored_state)
        self._spawn(master.start(assignment, taskmanagers))
        log.info("job %s (%s) submitted", job_id, graph.name)
        return job_id

    async def _savepoint(self, graph: pb.JobGraph, path: str, configuration: dict[str, str],
                         allow_non_restored_state: bool) -> RestorePoint:
        try:
            metadata = await load_savepoint(path, configuration)
            assign_restored_state(graph, metadata, path, allow_non_restored_state)
        except StateAssignmentError as error:
            raise JobSubmissionError(f"cannot restore from {path}: {error}") from None
        except Exception as error:  # noqa: BLE001 - a missing or unreadable savepoint
            raise JobSubmissionError(f"cannot read the savepoint at {path}: {error}") from None
        return RestorePoint(metadata, path, allow_non_restored_state)

    def _job_ended(self, master: JobMaster) -> None:
        log.info("job %s ended %s", master.job_id, pb.JobState.Name(master.state))
        self._requests.pop(master.job_id, None)
        if self._metrics is not None:
            self._metrics.job_ended(master.job_id)
        if self._job_store is not None:
            self._spawn(self._job_store.remove(master.job_id))

    def _attempt_started(self, master: JobMaster) -> None:
        """Record the attempt, so a recovered job's next attempt never reuses its number."""
        request = self._requests.get(master.job_id)
        if self._job_store is not None and request is not None:
            self._spawn(self._job_store.put(JobRecord(master.job_id, request, master.attempt)))

    async def recover_jobs(self) -> None:
        """Resubmit the jobs a previous JobManager left running (high availability)."""
        if self._job_store is None:
            return
        for record in await self._job_store.records():
            request = record.request
            log.info("recovering job %s (%s)", record.job_id, request.job_graph.name)
            try:
                await self.submit(request.job_graph, request.savepoint_path,
                                  request.allow_non_restored_state, job_id=record.job_id,
                                  first_attempt=record.attempt + 1)
            except JobSubmissionError as error:
                log.error("cannot recover job %s: %s", record.job_id, error)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def get(self, job_id: str) -> JobMaster:
        try:
            return self.jobs[job_id]
        except KeyError:
            raise UnknownJobError(job_id) from None

    async def trigger_savepoint(self, job_id: str, target_directory: str, stop: bool) -> str:
        master = self.get(job_id)
        # state.savepoints.dir of the job's settings: its own configuration over the cluster's.
        target = target_directory or master.coordinator.settings.savepoint_dir
        if not target:
            raise JobSubmissionError("no savepoint directory: give one, or set "
                                     "state.savepoints.dir")
        await _check_savepoint_directory(target, {**self.configuration,
                                                  **master.graph.configuration})
        return await master.trigger_savepoint(join_uri(target, savepoint_dir_name(job_id)), stop)

    # ---------------------------------------------------------------- reports

    def taskmanager_lost(self, name: str, cause: str) -> None:
        self._used_slots.pop(name, None)
        for master in self.jobs.values():
            master.taskmanager_lost(name, cause)

    def update_task(self, update: pb.TaskExecutionStateUpdate) -> None:
        master = self.jobs.get(update.task.job_id)
        if master is not None:
            master.update_task(update)

    def acknowledge_checkpoint(self, ack: pb.AcknowledgeCheckpoint) -> None:
        master = self.jobs.get(ack.task.job_id)
        if master is not None:
            master.acknowledge_checkpoint(ack)

    def decline_checkpoint(self, decline: pb.DeclineCheckpoint) -> None:
        master = self.jobs.get(decline.task.job_id)
        if master is not None:
            master.decline_checkpoint(decline)

    def heartbeat(self, heartbeat: pb.TaskManagerHeartbeat) -> None:
        for metrics in heartbeat.tasks:
            master = self.jobs.get(metrics.task.job_id)
            if master is not None:
                master.update_metrics(metrics)

    async def report_output(self, output: pb.TaskOutput) -> None:
        master = self.jobs.get(output.task.job_id)
        if master is None or output.task.attempt != master.attempt:
            return
        if output.print_lines:
            await master.output.add_lines(list(output.print_lines))
        if output.collected_batch:
            await master.output.add_batch(output.collected_batch)


async def _check_savepoint_directory(target: str, configuration: Mapping[str, str]) -> None:
    """Fail before any task snapshots when the savepoint directory cannot take files.

    Raises:
        JobSubmissionError: naming the directory and why it is not writable.
    """
    try:
        storage = storage_for(target, configuration)
    except CheckpointStorageError as error:
        raise JobSubmissionError(f"invalid savepoint directory {target}: {error}") from None
    try:
        await storage.check_writable()
    except CheckpointStorageError as error:
        cause = error.__cause__
        reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else error
        raise JobSubmissionError(f"the savepoint directory {target} is not writable "
                                 f"({reason})") from None


def _slots_on(assignment: SlotAssignment, tm: str) -> int:
    return len({subtask for (_, subtask), owner in assignment.items() if owner == tm})


def _validate(graph: pb.JobGraph) -> None:
    if not graph.vertices:
        raise JobSubmissionError("the job graph has no vertices")
    ids = {v.id for v in graph.vertices}
    for vertex in graph.vertices:
        if vertex.parallelism < 1 or vertex.parallelism > vertex.max_parallelism:
            raise JobSubmissionError(f"vertex '{vertex.name}' has parallelism "
                                     f"{vertex.parallelism} outside 1..{vertex.max_parallelism}")
        if not vertex.is_source and not vertex.inputs:
            raise JobSubmissionError(f"vertex '{vertex.name}' has no input")
        for edge in vertex.inputs:
            if edge.source_vertex_id not in ids:
                raise JobSubmissionError(f"vertex '{vertex.name}' reads from an unknown vertex")
