"""The CheckpointCoordinator's way to the tasks of one job: the gateways of the
TaskManagers its current attempt runs on."""

from __future__ import annotations

import asyncio

from weir.jobmanager.pending_checkpoint import TaskKey
from weir.jobmanager.scheduler import SlotAssignment
from weir.jobmanager.taskmanager_gateway import TaskManagerGateway

__all__ = ["TaskGateway"]


class TaskGateway:
    """Sends checkpoint triggers and notifications of the current attempt of one job."""

    def __init__(self, job_id: str, gateways: dict[str, TaskManagerGateway]) -> None:
        self.job_id = job_id
        self.attempt = 0
        self.assignment: SlotAssignment = {}
        self._gateways = gateways

    def _taskmanagers(self) -> list[TaskManagerGateway]:
        return [self._gateways[tm] for tm in sorted(set(self.assignment.values()))
                if tm in self._gateways]

    async def trigger(self, tasks: list[TaskKey], checkpoint_id: int, timestamp_ms: int,
                      target_uri: str, shared_uri: str = "", base_checkpoint_id: int = 0) -> None:
        by_taskmanager: dict[str, list[TaskKey]] = {}
        for task in tasks:
            tm = self.assignment.get(task)
            if tm is not None:
                by_taskmanager.setdefault(tm, []).append(task)
        await asyncio.gather(*(
            self._gateways[tm].trigger_checkpoint(
                self.job_id, self.attempt, keys, checkpoint_id, timestamp_ms, target_uri,
                shared_uri, base_checkpoint_id)
            for tm, keys in by_taskmanager.items()))

    async def notify_complete(self, checkpoint_id: int, final: bool) -> None:
        await asyncio.gather(*(
            gateway.notify_checkpoint_complete(self.job_id, self.attempt, checkpoint_id, final)
            for gateway in self._taskmanagers()))

    async def notify_aborted(self, checkpoint_id: int) -> None:
        await asyncio.gather(*(
            gateway.notify_checkpoint_aborted(self.job_id, self.attempt, checkpoint_id)
            for gateway in self._taskmanagers()))
