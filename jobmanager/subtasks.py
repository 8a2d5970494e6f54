"""The subtasks of a job's current attempt and their execution states.

Every state change goes through ``SubtaskStates`` (guarded by the task lifecycle in
``job_status``), so it can tell waiters the moment the last subtask became terminal: a
restart awaits that instead of polling.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from weir.jobmanager.clock import Scheduler, wait_for_event
from weir.jobmanager.job_status import TASK_TERMINAL, check_task_transition
from weir.jobmanager.pending_checkpoint import TaskKey
from weir.proto import jobmanager_pb2 as pb

__all__ = ["SubtaskStates", "SubtaskStatus"]


@dataclass
class SubtaskStatus:
    """``state`` changes through ``SubtaskStates`` only; the counters are free to update."""

    state: int
    taskmanager: str
    records_in: int = 0
    records_out: int = 0
    end_of_input: bool = False


class SubtaskStates:
    """Touched only on the JobManager's event loop."""

    def __init__(self) -> None:
        self._statuses: dict[TaskKey, SubtaskStatus] = {}
        self._all_terminal = asyncio.Event()  # set while every subtask is terminal
        self._all_terminal.set()

    def reset(self, placement: Mapping[TaskKey, str]) -> None:
        """A new attempt: each subtask is DEPLOYING to the TaskManager ``placement`` names."""
        self._statuses = {key: SubtaskStatus(pb.TASK_DEPLOYING, tm)
                          for key, tm in placement.items()}
        self._signal()

    def __iter__(self) -> Iterator[TaskKey]:
        return iter(self._statuses)

    def get(self, key: TaskKey) -> SubtaskStatus | None:
        return self._statuses.get(key)

    def update(self, key: TaskKey, state: int) -> SubtaskStatus | None:
        """Move subtask ``key`` to ``state``; None (and nothing changes) when the subtask is
        not of this attempt or already terminal (a late report).

        Raises:
            IllegalTransitionError: when its lifecycle does not allow the move.
        """
        status = self._statuses.get(key)
        if status is None or (state != status.state
                              and not check_task_transition(status.state, state)):
            return None
        status.state = state
        self._signal()
        return status

    def mark_lost(self, taskmanager: str) -> bool:
        """The subtasks on ``taskmanager`` that were not terminal failed with it; True if
        there were any."""
        lost = [s for s in self._statuses.values()
                if s.taskmanager == taskmanager and s.state not in TASK_TERMINAL]
        for status in lost:
            status.state = pb.TASK_FAILED
        self._signal()
        return bool(lost)

    def live_taskmanagers(self) -> set[str]:
        """The TaskManagers running subtasks that are not terminal yet."""
        return {s.taskmanager for s in self._statuses.values() if s.state not in TASK_TERMINAL}

    @property
    def all_terminal(self) -> bool:
        return self._all_terminal.is_set()

    @property
    def all_finished(self) -> bool:
        return all(s.state == pb.TASK_FINISHED for s in self._statuses.values())

    async def wait_all_terminal(self, timeout_s: float | None,
                                scheduler: Scheduler | None = None) -> bool:
        """Wait until every subtask is terminal, at most ``timeout_s`` (None: no limit) on
        ``scheduler``'s clock (None: the event loop's). True if they are."""
        return await wait_for_event(self._all_terminal, timeout_s, scheduler)

    def _signal(self) -> None:
        if all(s.state in TASK_TERMINAL for s in self._statuses.values()):
            self._all_terminal.set()
        else:
            self._all_terminal.clear()
