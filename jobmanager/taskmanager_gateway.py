"""The JobManager's calls on one TaskManager (Flink's ``TaskExecutorGateway``), the same
whether it is a Ray actor or runs in this process: subclasses say how a call travels."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from weir.graph.deployment import TaskDeployment

__all__ = ["TaskManagerGateway"]


class TaskManagerGateway(ABC):
    """Each call returns once the TaskManager has carried it out (or raises: it is gone)."""

    async def deploy_task(self, deployment: TaskDeployment) -> None:
        await self._call("deploy_task", deployment)

    async def cancel_job(self, job_id: str, attempt: int) -> None:
        """Returns once every task of ``job_id`` up to ``attempt`` stopped."""
        await self._call_control("cancel_job", job_id, attempt)

    async def trigger_checkpoint(self, job_id: str, attempt: int,
                                 tasks: list[tuple[str, int]], checkpoint_id: int,
                                 timestamp_ms: int, target_uri: str, shared_uri: str = "",
                                 base_checkpoint_id: int = 0) -> None:
        await self._call("trigger_checkpoint", job_id, attempt, tasks, checkpoint_id,
                         timestamp_ms, target_uri, shared_uri, base_checkpoint_id)

    async def notify_checkpoint_complete(self, job_id: str, attempt: int, checkpoint_id: int,
                                         final: bool) -> None:
        await self._call("notify_checkpoint_complete", job_id, attempt, checkpoint_id, final)

    async def notify_checkpoint_aborted(self, job_id: str, attempt: int,
                                        checkpoint_id: int) -> None:
        await self._call("notify_checkpoint_aborted", job_id, attempt, checkpoint_id)

    @abstractmethod
    async def _call(self, method: str, *arguments: Any) -> Any:
        """Run the TaskManager's ``method`` on its event loop."""

    @abstractmethod
    async def _call_control(self, method: str, *arguments: Any) -> Any:
        """Run ``method`` off the TaskManager's event loop, so that a task blocking that
        loop cannot keep the call from being heard (cancellation)."""
