"""JobMaster: runs one job — deploys its subtasks, tracks their states, ends the job.

A job finishes when every subtask finished (sources exhausted, every record
delivered). The first failure fails the job: the other subtasks are
cancelled and the user's traceback becomes the job's failure cause.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from weir.graph.deployment import TaskDeployment
from weir.jobmanager.job_output import JobOutputLog
from weir.jobmanager.job_status import (
    JOB_TERMINAL,
    TASK_TERMINAL,
    check_job_transition,
    check_task_transition,
)
from weir.jobmanager.scheduler import SlotAssignment, build_deployments
from weir.proto import jobmanager_pb2 as pb

__all__ = ["JobMaster", "SubtaskStatus"]

log = logging.getLogger(__name__)


@dataclass
class SubtaskStatus:
    state: int
    taskmanager: str
    records_in: int = 0
    records_out: int = 0


class JobMaster:
    """Touched only on the JobManager's event loop."""

    def __init__(self, job_id: str, graph: pb.JobGraph, handles: dict[str, Any],
                 on_terminal: Callable[[JobMaster], None]) -> None:
        self.job_id = job_id
        self.graph = graph
        self.state = pb.CREATED
        self.start_time = time.time()
        self.end_time = 0.0
        self.failure_cause = ""
        self.output = JobOutputLog()
        self.attempt = 0
        self.assignment: SlotAssignment = {}
        self._handles = handles
        self._on_terminal = on_terminal
        self._subtasks: dict[tuple[str, int], SubtaskStatus] = {}
        self._background: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------- lifecycle

    async def deploy(self, assignment: SlotAssignment, taskmanagers: dict[str, Any]) -> None:
        """Deploy every subtask; the job is RUNNING from here, as in Flink, because
        fast subtasks may finish before the last deploy call returns."""
        self.assignment = assignment
        deployments = build_deployments(self.job_id, self.attempt, self.graph, assignment,
                                        taskmanagers)
        for d in deployments:
            self._subtasks[(d.vertex_id, d.subtask_index)] = SubtaskStatus(
                pb.TASK_DEPLOYING, assignment[(d.vertex_id, d.subtask_index)])
        if self.state == pb.CREATED:
            self._transition(pb.RUNNING)
        try:
            await asyncio.gather(*(self._deploy_one(d) for d in deployments))
        except Exception as error:  # noqa: BLE001 - a failed deployment fails the job
            self.fail(f"deploying the job failed: {type(error).__name__}: {error}")

    async def _deploy_one(self, deployment: TaskDeployment) -> None:
        tm = self.assignment[(deployment.vertex_id, deployment.subtask_index)]
        await self._handles[tm].deploy_task.remote(deployment)

    def cancel(self) -> None:
        if self.state in JOB_TERMINAL or self.state in (pb.CANCELING, pb.FAILING):
            return
        self._transition(pb.CANCELING)
        self._cancel_tasks()

    def fail(self, cause: str) -> None:
        if self.state in JOB_TERMINAL or self.state == pb.FAILING:
            return
        self.failure_cause = cause
        if self.state == pb.CANCELING:
            return  # cancelling already; the job ends CANCELED
        self._transition(pb.FAILING)
        self._cancel_tasks()

    def _cancel_tasks(self) -> None:
        taskmanagers = {s.taskmanager for s in self._subtasks.values()
                        if s.state not in TASK_TERMINAL}
        for tm in taskmanagers:
            handle = self._handles.get(tm)
            if handle is not None:
                self._spawn(self._cancel_on(tm, handle))
        self._check_all_terminal()

    async def _cancel_on(self, tm: str, handle: Any) -> None:
        try:
            await handle.cancel_job.remote(self.job_id)
        except Exception as error:  # noqa: BLE001 - a dead TaskManager cannot report
            self.taskmanager_lost(tm, f"TaskManager {tm} failed while cancelling: {error}")

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --------------------------------------------------------------- reports

    def update_task(self, update: pb.TaskExecutionStateUpdate) -> None:
        if update.task.attempt != self.attempt:
            return
        status = self._subtasks.get((update.task.vertex_id, update.task.subtask))
        if status is None or not check_task_transition(status.state, update.state):
            return
        status.state = update.state
        status.records_in = update.records_in
        status.records_out = update.records_out
        if update.state == pb.TASK_FAILED:
            self.fail(update.failure_cause or "a task failed")
        self._check_all_terminal()

    def update_metrics(self, metrics: pb.TaskMetrics) -> None:
        status = self._subtasks.get((metrics.task.vertex_id, metrics.task.subtask))
        if status is not None and metrics.task.attempt == self.attempt \
                and status.state not in TASK_TERMINAL:
            status.records_in = metrics.records_in
            status.records_out = metrics.records_out

    def taskmanager_lost(self, tm: str, cause: str) -> None:
        lost = [s for s in self._subtasks.values()
                if s.taskmanager == tm and s.state not in TASK_TERMINAL]
        if not lost:
            return
        for status in lost:
            status.state = pb.TASK_FAILED
        self.fail(cause)
        self._check_all_terminal()

    def _check_all_terminal(self) -> None:
        if self.state in JOB_TERMINAL or not self._subtasks:
            return
        states = [s.state for s in self._subtasks.values()]
        if not all(state in TASK_TERMINAL for state in states):
            return
        if self.state == pb.CANCELING:
            self._transition(pb.CANCELED)
        elif self.state == pb.FAILING:
            self._transition(pb.FAILED)
        elif all(state == pb.TASK_FINISHED for state in states):
            self._transition(pb.FINISHED)

    def _transition(self, target: int) -> None:
        check_job_transition(self.state, target)
        log.info("job %s: %s -> %s", self.job_id, pb.JobState.Name(self.state),
                 pb.JobState.Name(target))
        self.state = target
        if target in JOB_TERMINAL:
            self.end_time = time.time()
            self._spawn(self.output.close())
            self._on_terminal(self)

    # ------------------------------------------------------------------ views

    def summary(self) -> pb.JobSummary:
        return pb.JobSummary(job_id=self.job_id, name=self.graph.name, state=self.state,
                             start_time=self.start_time, end_time=self.end_time)

    def details(self) -> pb.JobDetails:
        details = pb.JobDetails(job_id=self.job_id, name=self.graph.name, state=self.state,
                                start_time=self.start_time, end_time=self.end_time,
                                failure_cause=self.failure_cause)
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
