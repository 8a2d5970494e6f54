"""The CheckpointCoordinator's way to the tasks: Ray calls on the TaskManager actors."""

from __future__ import annotations

import asyncio
from typing import Any

from weir.jobmanager.pending_checkpoint import TaskKey
from weir.jobmanager.scheduler import SlotAssignment

__all__ = ["RayTaskGateway"]


class RayTaskGateway:
    """Sends checkpoint triggers and notifications of the current attempt of one job."""

    def __init__(self, job_id: str, handles: dict[str, Any]) -> None:
        self.job_id = job_id
        self.attempt = 0
        self.assignment: SlotAssignment = {}
        self._handles = handles

    def _taskmanagers(self) -> list[Any]:
        return [self._handles[tm] for tm in sorted(set(self.assignment.values()))
                if tm in self._handles]

    async def trigger(self, tasks: list[TaskKey], checkpoint_id: int, timestamp_ms: int,
                      target_uri: str, shared_uri: str = "", base_checkpoint_id: int = 0) -> None:
        by_taskmanager: dict[str, list[TaskKey]] = {}
        for task in tasks:
            tm = self.assignment.get(task)
            if tm is not None:
                by_taskmanager.setdefault(tm, []).append(task)
        await asyncio.gather(*(
            self._handles[tm].trigger_checkpoint.remote(
                self.job_id, self.attempt, keys, checkpoint_id, timestamp_ms, target_uri,
                shared_uri, base_checkpoint_id)
            for tm, keys in by_taskmanager.items()))

    async def notify_complete(self, checkpoint_id: int, final: bool) -> None:
        await asyncio.gather(*(
            handle.notify_checkpoint_complete.remote(self.job_id, self.attempt, checkpoint_id,
                                                     final)
            for handle in self._taskmanagers()))

    async def notify_aborted(self, checkpoint_id: int) -> None:
        await asyncio.gather(*(
            handle.notify_checkpoint_aborted.remote(self.job_id, self.attempt, checkpoint_id)
            for handle in self._taskmanagers()))
