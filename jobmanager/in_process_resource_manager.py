"""TaskManagers on threads of the JobManager's own process, as Flink's MiniCluster runs
its TaskExecutors in the JVM that runs the job: the embedded cluster's default.

Each TaskManager has a thread and an event loop of its own, as a Ray actor has, and is
the same class the Ray actors run; it binds its data port as ever (peers still prove the
cluster secret). Nothing here imports Ray: a ``python job.py`` starts in about a second
instead of the 6-7 s a cold Ray takes on a 2-core machine. The price is the GIL: the
TaskManagers share one core, so parallelism divides the work without speeding it up.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from weir.graph.deployment import TaskManagerInfo
from weir.jobmanager.resource_manager import ResourceManager, taskmanager_runtime
from weir.jobmanager.taskmanager_gateway import TaskManagerGateway

__all__ = ["InProcessResourceManager", "InProcessTaskManagerGateway"]

log = logging.getLogger(__name__)
STOP_TIMEOUT_S = 5.0


class InProcessTaskManagerGateway(TaskManagerGateway):
    """Calls run on the TaskManager's event loop; cancellation runs on the caller's (the
    JobManager's) loop, which a task blocking the TaskManager's loop cannot hold up."""

    def __init__(self, taskmanager: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._taskmanager = taskmanager
        self._loop = loop

    async def _call(self, method: str, *arguments: Any) -> Any:
        return await _on(self._loop, getattr(self._taskmanager, method)(*arguments))

    async def _call_control(self, method: str, *arguments: Any) -> Any:
        return await getattr(self._taskmanager, method)(*arguments)


@dataclass
class _Running:
    taskmanager: Any
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread


class InProcessResourceManager(ResourceManager):
    """TaskManagers as threads of this process."""

    def __init__(self) -> None:
        super().__init__()
        self._runtime = taskmanager_runtime()
        self._running: dict[str, _Running] = {}
        self._killing: set[asyncio.Task[None]] = set()

    async def _launch(self, name: str) -> tuple[TaskManagerGateway, TaskManagerInfo]:
        arguments, keywords = self._spec.taskmanager_arguments(name)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=_serve, args=(loop,), name=f"weir-{name}", daemon=True)
        thread.start()

        async def create() -> tuple[Any, TaskManagerInfo]:
            taskmanager = self._runtime(*arguments, **keywords)
            # The process is the user's: its garbage collector keeps the user's settings.
            return taskmanager, await taskmanager.start(own_process=False)

        try:
            taskmanager, info = await _on(loop, create())
        except BaseException:
            loop.call_soon_threadsafe(loop.stop)
            raise
        self._running[name] = _Running(taskmanager, loop, thread)
        return InProcessTaskManagerGateway(taskmanager, loop), info

    def kill(self, name: str) -> None:
        """Its tasks are cancelled and its connections closed, as a crash would; it is then
        reported lost and replaced."""
        if name in self._running:
            log.warning("killing %s", name)
            task = asyncio.get_running_loop().create_task(self._kill(name))
            self._killing.add(task)
            task.add_done_callback(self._killing.discard)

    async def _kill(self, name: str) -> None:
        await self._stop_taskmanager(name)
        await self._lost(name, f"TaskManager {name} was killed")

    async def _stop_taskmanager(self, name: str) -> None:
        running = self._running.pop(name, None)
        if running is None:
            return
        try:
            await asyncio.wait_for(_on(running.loop, running.taskmanager.shutdown()),
                                   STOP_TIMEOUT_S)
        except Exception:
            log.debug("graceful shutdown of %s failed", name, exc_info=True)
        running.loop.call_soon_threadsafe(running.loop.stop)
        await asyncio.to_thread(running.thread.join, STOP_TIMEOUT_S)


def _on(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, Any]
        ) -> asyncio.Future[Any]:
    """Run ``coroutine`` on ``loop`` (another thread's); awaitable on the caller's loop."""
    return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, loop))


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    """A TaskManager's thread: its loop until stopped, then what is left on it is cancelled
    and the loop closed, so no socket or task outlives it."""
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        leftover = asyncio.all_tasks(loop)
        for task in leftover:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
