"""JobMaster: runs one job — deploys its subtasks, tracks them, checkpoints, restarts.

A job finishes when every subtask finished (sources exhausted, every record
delivered and, with checkpointing on, the final checkpoint complete). A task
failure or a lost TaskManager restarts the job when the restart strategy
allows it: every task of the attempt is cancelled, slots are taken again
(replacement TaskManagers come from the resource manager), and the next
attempt starts from the latest completed checkpoint. Otherwise the job fails
with the user's traceback as its cause.

No task of an attempt survives it: a TaskManager never runs a task of an attempt it was
told to cancel, ends its own process when its cancelled tasks do not stop within
``task.cancellation.timeout`` (its watchdog), and one that did neither by then is killed
here; a killed or dead TaskManager is replaced by the resource manager.

Time comes from the injected clocks and scheduler (the real ones by default), so restart
delays and the wait for cancelled tasks run on a manual clock in tests.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from weir.checkpoint import CheckpointMetadata, CheckpointSettings
from weir.config import TaskCancellation
from weir.graph.deployment import TaskDeployment, TaskManagerInfo, TaskRestore
from weir.jobmanager.checkpoint_coordinator import CheckpointCoordinator, CompletedCheckpointStore
from weir.jobmanager.clock import Scheduler, sleep
from weir.jobmanager.job_output import JobOutputLog
from weir.jobmanager.job_status import JOB_TERMINAL, TASK_TERMINAL, check_job_transition
from weir.jobmanager.pending_checkpoint import CheckpointFailureReason
from weir.jobmanager.restart_strategy import RestartStrategy
from weir.jobmanager.scheduler import SlotAssignment, build_deployments
from weir.jobmanager.state_assignment import assign_restored_state
from weir.jobmanager.subtasks import SubtaskStates
from weir.jobmanager.task_gateway import TaskGateway
from weir.jobmanager.taskmanager_gateway import TaskManagerGateway
from weir.proto import jobmanager_pb2 as pb

__all__ = ["JobMaster", "JobResources", "RestorePoint"]

log = logging.getLogger(__name__)
# How long after task.cancellation.timeout a TaskManager whose watchdog ended it takes to
# be reported dead (Ray notices a dead actor process within seconds).
CANCELLATION_GRACE_S = 10.0
SLOT_WAIT_TIMEOUT_S = 120.0


class JobResources(Protocol):
    """The slots and TaskManagers a job runs on (the Dispatcher's slot pool)."""

    gateways: dict[str, TaskManagerGateway]

    def allocate(self, graph: pb.JobGraph) -> tuple[SlotAssignment, dict[str, TaskManagerInfo]]:
        """Raises NotEnoughSlotsError when the free slots cannot hold the job."""

    def release(self, assignment: SlotAssignment) -> None: ...

    async def wait_for_slots(self, graph: pb.JobGraph, timeout_s: float) -> None: ...

    def kill_taskmanager(self, name: str) -> None:
        """End TaskManager ``name`` at once; it is reported lost and replaced as a dead one."""


class RecoverableCheckpointStore(CompletedCheckpointStore, Protocol):
    async def latest_completed(self) -> tuple[CheckpointMetadata, str] | None:
        """The newest checkpoint whose metadata and files are intact, and its directory."""


@dataclass(frozen=True)
class RestorePoint:
    """Where an attempt's state comes from."""

    metadata: CheckpointMetadata
    directory: str
    allow_non_restored_state: bool = False


class JobMaster:
    """Touched only on the JobManager's event loop."""

    def __init__(self, job_id: str, graph: pb.JobGraph, resources: JobResources,
                 configuration: dict[str, str], settings: CheckpointSettings,
                 store: RecoverableCheckpointStore, restart_strategy: RestartStrategy,
                 on_terminal: Callable[[JobMaster], None],
                 initial_restore: RestorePoint | None = None, first_attempt: int = 0,
                 on_attempt: Callable[[JobMaster], None] = lambda master: None,
                 scheduler: Scheduler | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time,
                 cancellation: TaskCancellation | None = None) -> None:
        self.job_id = job_id
        self.graph = graph
        self.configuration = configuration
        self.state = pb.CREATED
        self._scheduler = scheduler
        self._clock = clock
        self._wall_clock = wall_clock
        self.start_time = wall_clock()
        self.end_time = 0.0
        self.failure_cause = ""
        self.last_restart_cause = ""
        self.num_restarts = 0
        self.output = JobOutputLog()
        self.attempt = first_attempt
        self._on_attempt = on_attempt
        self.assignment: SlotAssignment = {}
        self.restored_id = 0
        self.restored_path = ""
        self.restore_timestamp_ms = -1  # when the job last restored state (-1: never)
        self._resources = resources
        self._store = store
        self._restart_strategy = restart_strategy
        self._cancellation = cancellation or TaskCancellation()  # Flink's defaults
        self._on_terminal = on_terminal
        self._restore_point = initial_restore
        self._subtasks = SubtaskStates()
        self._background: set[asyncio.Task[Any]] = set()
        self._stopping_with_savepoint = False
        self._gateway = TaskGateway(job_id, resources.gateways)
        self.coordinator = CheckpointCoordinator(
            job_id, settings, store, self._gateway, on_failure=self._checkpointing_failed,
            scheduler=scheduler, clock=clock, wall_clock=wall_clock)

    # ------------------------------------------------------------- lifecycle

    async def start(self, assignment: SlotAssignment,
                    taskmanagers: dict[str, TaskManagerInfo]) -> None:
        """Deploy the first attempt on slots the dispatcher already allocated."""
        await self._deploy(assignment, taskmanagers)

    async def _deploy(self, assignment: SlotAssignment,
                      taskmanagers: dict[str, TaskManagerInfo]) -> None:
        """Deploy every subtask of the current attempt; the job is RUNNING from here, as in
        Flink, because fast subtasks may finish before the last deploy call returns."""
        self.assignment = assignment
        try:
            restores = await self._restores()
        except Exception as error:  # noqa: BLE001 - unusable state fails the job
            self.fail(f"cannot restore the job's state: {error}")
            return
        deployments = build_deployments(self.job_id, self.attempt, self.graph, assignment,
                                        taskmanagers, self.configuration, restores)
        self._subtasks.reset(assignment)
        self._gateway.assignment = assignment
        self._gateway.attempt = self.attempt
        self._on_attempt(self)
        self._transition(pb.RUNNING)
        self.coordinator.start(
            self._subtasks, [(d.vertex_id, d.subtask_index) for d in deployments if d.is_source],
            {v.id: v.parallelism for v in self.graph.vertices})
        try:
            await asyncio.gather(*(self._deploy_one(d) for d in deployments))
        except Exception as error:  # noqa: BLE001 - a failed deployment is a task failure
            self._task_failed(f"deploying the job failed: {type(error).__name__}: {error}")

    async def _restores(self) -> dict[tuple[str, int], TaskRestore]:
        """The state of each subtask: from the latest complete, intact checkpoint, else from
        the savepoint the job was submitted with, else none."""
        latest = await self._store.latest_completed()
        if latest is not None:
            self._restore_point = RestorePoint(*latest)
        point = self._restore_point
        if point is None:
            return {}
        self.restored_id = point.metadata.checkpoint_id
        self.restored_path = point.directory
        self.restore_timestamp_ms = int(self._wall_clock() * 1000)
        self.coordinator.next_id = max(self.coordinator.next_id, self.restored_id + 1)
        return assign_restored_state(self.graph, point.metadata, point.directory,
                                     point.allow_non_restored_state)

    async def _deploy_one(self, deployment: TaskDeployment) -> None:
        tm = self.assignment[(deployment.vertex_id, deployment.subtask_index)]
        await self._resources.gateways[tm].deploy_task(deployment)

    def cancel(self) -> None:
        if self.state in JOB_TERMINAL or self.state in (pb.CANCELING, pb.FAILING):
            return
        self._transition(pb.CANCELING)
        self.coordinator.stop(CheckpointFailureReason.JOB_CANCELLED)
        self._cancel_tasks()

    def fail(self, cause: str) -> None:
        if self.state in JOB_TERMINAL or self.state == pb.FAILING:
            return
        self.failure_cause = cause
        if self.state == pb.CANCELING:
            return  # cancelling already; the job ends CANCELED
        self._transition(pb.FAILING)
        self.coordinator.stop(CheckpointFailureReason.JOB_FAILURE)
        self._cancel_tasks()

    async def trigger_savepoint(self, target_directory: str, stop: bool) -> str:
        """Take a savepoint into ``target_directory``; with ``stop``, then end the job."""
        if self.state != pb.RUNNING:
            raise RuntimeError(f"job {self.job_id} is {pb.JobState.Name(self.state)}, "
                               "not RUNNING: savepoints are taken of running jobs")
        path = await self.coordinator.trigger(savepoint_uri=target_directory, stop_job=stop)
        if stop and self.state == pb.RUNNING:
            self._stopping_with_savepoint = True
            self.coordinator.stop(CheckpointFailureReason.JOB_STOPPED_WITH_SAVEPOINT)
            self._cancel_tasks()
        return path

    def _cancel_tasks(self) -> None:
        for tm in self._subtasks.live_taskmanagers():
            gateway = self._resources.gateways.get(tm)
            if gateway is None:
                self._subtasks.mark_lost(tm)
            else:
                self._spawn(self._cancel_on(tm, gateway))
        if not self._subtasks.all_terminal:
            self._spawn(self._enforce_cancellation(self.attempt))
        self._check_all_terminal()

    async def _cancel_on(self, tm: str, gateway: TaskManagerGateway) -> None:
        try:
            await gateway.cancel_job(self.job_id, self.attempt)
        except Exception:  # noqa: BLE001 - a dead TaskManager cannot report
            self._subtasks.mark_lost(tm)
            self._check_all_terminal()

    async def _enforce_cancellation(self, attempt: int) -> None:
        """Kill the TaskManagers that still run tasks of ``attempt`` when
        ``task.cancellation.timeout`` and the grace have passed: their watchdog should have
        ended them, so something keeps even that from running (and without it the job
        would wait for them forever)."""
        timeout_s = self._cancellation.timeout_s
        if timeout_s is None or await self._subtasks.wait_all_terminal(
                timeout_s + CANCELLATION_GRACE_S, self._scheduler) or self.attempt != attempt:
            return
        for tm in sorted(self._subtasks.live_taskmanagers()):
            log.error("job %s: %s did not stop the tasks of attempt %d within %.0f s of the "
                      "cancel; killing it", self.job_id, tm, attempt,
                      timeout_s + CANCELLATION_GRACE_S)
            self._resources.kill_taskmanager(tm)
            self._subtasks.mark_lost(tm)
        self._check_all_terminal()

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --------------------------------------------------------------- restarts

    def _task_failed(self, cause: str) -> None:
        """A task failed or a TaskManager was lost: restart, or fail the job."""
        if self.state != pb.RUNNING or self._stopping_with_savepoint:
            if self.state == pb.CREATED:
                self.fail(cause)
            return
        delay = self._restart_strategy.on_failure(self._clock())
        if delay is None:
            self.fail(cause)
            return
        self.num_restarts += 1
        self.last_restart_cause = cause
        log.warning("job %s: restarting in %.1f s (restart %d) after: %s", self.job_id, delay,
                    self.num_restarts, cause)
        self._transition(pb.RESTARTING)
        self.coordinator.stop(CheckpointFailureReason.TASK_FAILURE)
        self._cancel_tasks()
        self._spawn(self._restart(delay))

    def _checkpointing_failed(self, cause: str) -> None:
        self._task_failed(cause)

    async def _restart(self, delay_s: float) -> None:
        """Redeploy once every task of the failed attempt is terminal (bounded by
        ``_enforce_cancellation``, unless the watchdog is off) and ``delay_s`` has passed
        since."""
        await self._subtasks.wait_all_terminal(None)
        await sleep(delay_s, self._scheduler)
        if self.state != pb.RESTARTING:
            return  # cancelled meanwhile
        self._resources.release(self.assignment)
        self.assignment = {}
        try:
            await self._resources.wait_for_slots(self.graph, SLOT_WAIT_TIMEOUT_S)
            assignment, taskmanagers = self._resources.allocate(self.graph)
        except Exception as error:  # noqa: BLE001 - no slots: the job cannot run any more
            self.failure_cause = f"cannot restart: {error}"
            self._transition(pb.FAILING)
            self._transition(pb.FAILED)
            return
        if self.state != pb.RESTARTING:
            self._resources.release(assignment)
            return
        self.attempt += 1
        await self._deploy(assignment, taskmanagers)

    # --------------------------------------------------------------- reports

    def update_task(self, update: pb.TaskExecutionStateUpdate) -> None:
        if update.task.attempt != self.attempt:
            return
        key = (update.task.vertex_id, update.task.subtask)
        status = self._subtasks.update(key, update.state)
        if status is None:
            return
        status.records_in = update.records_in
        status.records_out = update.records_out
        if update.end_of_input and not status.end_of_input:
            status.end_of_input = True
            self.coordinator.task_input_ended(key)
        if update.state == pb.TASK_FAILED:
            self._task_failed(update.failure_cause or "a task failed")
        self._check_all_terminal()

    def update_metrics(self, metrics: pb.TaskMetrics) -> None:
        status = self._subtasks.get((metrics.task.vertex_id, metrics.task.subtask))
        if status is not None and metrics.task.attempt == self.attempt \
                and status.state not in TASK_TERMINAL:
            status.records_in = metrics.records_in
            status.records_out = metrics.records_out

    def acknowledge_checkpoint(self, ack: pb.AcknowledgeCheckpoint) -> None:
        if ack.task.attempt == self.attempt:
            self.coordinator.acknowledge((ack.task.vertex_id, ack.task.subtask),
                                         ack.checkpoint_id,
                                         ack.state if ack.HasField("state") else None,
                                         list(ack.operators_with_state),
                                         list(ack.shared_state))
        else:  # an earlier attempt's checkpoint was aborted: drop what it uploaded
            self.coordinator.shared_state_acknowledged(ack.checkpoint_id,
                                                       list(ack.shared_state))

    def decline_checkpoint(self, decline: pb.DeclineCheckpoint) -> None:
        if decline.task.attempt == self.attempt:
            self.coordinator.decline((decline.task.vertex_id, decline.task.subtask),
                                     decline.checkpoint_id, decline.reason)

    def taskmanager_lost(self, tm: str, cause: str) -> None:
        if not self._subtasks.mark_lost(tm):
            return
        if self.state == pb.RUNNING:
            self._task_failed(cause)
        elif self.state == pb.CREATED:
            self.fail(cause)
        self._check_all_terminal()

    def _check_all_terminal(self) -> None:
        if self.state in JOB_TERMINAL or not self._subtasks.all_terminal:
            return
        if self.state == pb.CANCELING:
            self._transition(pb.CANCELED)
        elif self.state == pb.FAILING:
            self._transition(pb.FAILED)
        elif self.state == pb.RUNNING and (self._stopping_with_savepoint
                                           or self._subtasks.all_finished):
            self.coordinator.stop(CheckpointFailureReason.JOB_FINISHED)
            self._transition(pb.FINISHED)

    def _transition(self, target: pb.JobState) -> None:
        check_job_transition(self.state, target)
        log.info("job %s: %s -> %s", self.job_id, pb.JobState.Name(self.state),
                 pb.JobState.Name(target))
        self.state = target
        if target in JOB_TERMINAL:
            self.end_time = self._wall_clock()
            self._resources.release(self.assignment)
            self.assignment = {}
            self._spawn(self.output.close())
            self._on_terminal(self)

    # ------------------------------------------------------------------ views

    def summary(self) -> pb.JobSummary:
        return pb.JobSummary(job_id=self.job_id, name=self.graph.name, state=self.state,
                             start_time=self.start_time, end_time=self.end_time)

    def details(self) -> pb.JobDetails:
        details = pb.JobDetails(job_id=self.job_id, name=self.graph.name, state=self.state,
                                start_time=self.start_time, end_time=self.end_time,
                                failure_cause=self.failure_cause,
                                num_restarts=self.num_restarts,
                                last_restart_cause=self.last_restart_cause,
                                checkpoints=self.coordinator.counts(self.restored_id,
                                                                    self.restored_path))
        for vertex in self.graph.vertices:
            view = details.vertices.add(id=vertex.id, name=vertex.name,
                                        parallelism=vertex.parallelism)
            for index in range(vertex.parallelism):
                status = self._subtasks.get((vertex.id, index))
                if status is None:
                    view.subtasks.add(index=index, state=pb.TASK_CREATED)
                else:
                    view.subtasks.add(index=index, state=status.state,
                                      taskmanager=status.taskmanager,
                                      records_in=status.records_in,
                                      records_out=status.records_out)
        return details
