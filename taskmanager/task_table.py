"""The tasks of one TaskManager from deployment until they stopped (Flink's TaskSlotTable,
as far as tasks go), and what cancelling them means.

Cancelling the tasks of a job up to an attempt, in order:

1. the attempt is remembered: a task of it (or of an earlier one) deployed afterwards never
   runs (a deploy call can overtake the cancel call that should have stopped it);
2. each task is marked CANCELING and its run cancelled, again every
   ``task.cancellation.interval`` while it is still running;
3. when a task's run ends, the task is gone from the table; one whose run was cancelled
   before it started (or while it reported its end) has not told the JobManager, so the
   table reports it CANCELED: the job's restart waits for that report.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from weir.graph.deployment import DeployedTask, TaskDeployment
from weir.proto import jobmanager_pb2 as pb
from weir.taskmanager.cancellation import cancel_until_stopped
from weir.taskmanager.jobmanager_gateway import JobManagerGateway
from weir.taskmanager.task import StreamTask

__all__ = ["TaskKey", "TaskTable"]

log = logging.getLogger(__name__)
TaskKey = tuple[str, int, str, int]  # (job id, attempt, vertex id, subtask)


@dataclass
class _Entry:
    task: StreamTask
    runner: asyncio.Task[None]
    cancelling: bool = False


class TaskTable:
    """Touched only on the TaskManager's event loop."""

    def __init__(self, gateway: JobManagerGateway) -> None:
        self._gateway = gateway
        self._entries: dict[TaskKey, _Entry] = {}
        self._cancelled_attempts: dict[str, int] = {}  # job id -> highest cancelled attempt
        self._reports: set[asyncio.Task[None]] = set()

    def start(self, task: StreamTask) -> None:
        """Run ``task`` until it ends, unless its attempt was cancelled already."""
        d = task.deployment
        key = (d.job_id, d.attempt, d.vertex_id, d.subtask_index)
        entry = _Entry(task, asyncio.get_running_loop().create_task(task.run()))
        self._entries[key] = entry
        entry.runner.add_done_callback(lambda _: self._ended(key))
        if d.attempt <= self._cancelled_attempts.get(d.job_id, -1):
            entry.cancelling = True
            entry.runner.cancel()

    def get(self, key: TaskKey) -> StreamTask | None:
        entry = self._entries.get(key)
        return None if entry is None else entry.task

    def of_attempt(self, job_id: str, attempt: int) -> list[StreamTask]:
        return [entry.task for (job, task_attempt, *_), entry in self._entries.items()
                if job == job_id and task_attempt == attempt]

    def __iter__(self) -> Iterator[StreamTask]:
        return iter([entry.task for entry in self._entries.values()])

    def listing(self) -> list[DeployedTask]:
        """Every task in the table and its state (CANCELING once cancelled)."""
        return [DeployedTask(job, attempt, vertex, subtask,
                             pb.TASK_CANCELING if entry.cancelling else entry.task.state)
                for (job, attempt, vertex, subtask), entry in self._entries.items()]

    async def cancel(self, job_id: str, attempt: int, interval_s: float) -> None:
        """Cancel the tasks of ``job_id`` up to ``attempt`` (see the module docstring);
        returns once they all stopped."""
        fence = self._cancelled_attempts
        fence[job_id] = max(attempt, fence.get(job_id, attempt))
        cancelled = [entry for (job, task_attempt, *_), entry in self._entries.items()
                     if job == job_id and task_attempt <= attempt]
        for entry in cancelled:
            entry.cancelling = True
        await cancel_until_stopped([entry.runner for entry in cancelled], interval_s)

    def cancel_all(self) -> None:
        """Cancel every task without waiting (the TaskManager shuts down)."""
        for entry in self._entries.values():
            entry.runner.cancel()

    def _ended(self, key: TaskKey) -> None:
        entry = self._entries.pop(key)
        if entry.runner.cancelled():
            report = asyncio.get_running_loop().create_task(
                self._report_cancelled(entry.task.deployment))
            self._reports.add(report)
            report.add_done_callback(self._reports.discard)

    async def _report_cancelled(self, deployment: TaskDeployment) -> None:
        try:
            await self._gateway.update_task_state(deployment, pb.TASK_CANCELED)
        except Exception:  # the JobManager may be gone: nothing more to tell it
            log.warning("reporting a cancelled task to the JobManager failed", exc_info=True)
