"""Starts TaskManager actors on Ray and tells the JobManager when one dies.

TaskManagers are named Ray actors (``taskmanager-<n>`` in namespace ``weir``). The
TaskManager class declares the Ray concurrency groups it needs (``CONCURRENCY_GROUPS``)
and the one cancellation is called in (``CONTROL_GROUP``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from typing import Any

import ray

from weir.graph.deployment import TaskManagerInfo
from weir.jobmanager.resource_manager import ResourceManager, taskmanager_runtime
from weir.jobmanager.taskmanager_gateway import TaskManagerGateway

__all__ = ["RAY_NAMESPACE", "RayResourceManager", "RayTaskManagerGateway", "init_ray",
           "ray_init_options"]

log = logging.getLogger(__name__)
RAY_NAMESPACE = "weir"


def ray_init_options(address: str | None, environ: Mapping[str, str]) -> dict[str, Any]:
    """``ray.init``'s arguments for a JobManager joining the Ray cluster at ``address`` (or
    ``RAY_ADDRESS`` in ``environ``), or, with neither, starting a local one.

    A Ray started here runs the v2 autoscaler monitor: v1's, on the SIGTERM of
    ``ray.shutdown()``, reports its end to the GCS that was stopped just before, and is
    killed only after a second; v2's exits at once. Nothing here autoscales either way.
    Ray's token authentication stays on (Ray's default for a cluster it starts). Ray refuses
    a ``_system_config`` when joining a cluster, hence none then.
    """
    options: dict[str, Any] = {"address": address, "namespace": RAY_NAMESPACE,
                               "include_dashboard": False, "logging_level": logging.WARNING}
    if address is None and not environ.get("RAY_ADDRESS"):
        options["_system_config"] = {"enable_autoscaler_v2": True}
    return options


def init_ray(address: str | None = None) -> None:
    """Join or start Ray as ``ray_init_options`` says."""
    ray.init(**ray_init_options(address, os.environ))


class RayTaskManagerGateway(TaskManagerGateway):
    """Calls on a TaskManager actor; cancellation runs in the actor's control concurrency
    group, on a thread of its own."""

    def __init__(self, handle: Any, control_group: str) -> None:
        self._handle = handle
        self._control_group = control_group

    async def _call(self, method: str, *arguments: Any) -> Any:
        return await getattr(self._handle, method).remote(*arguments)

    async def _call_control(self, method: str, *arguments: Any) -> Any:
        return await getattr(self._handle, method).options(
            concurrency_group=self._control_group).remote(*arguments)


class RayResourceManager(ResourceManager):
    """TaskManagers as named Ray actors, placed by Ray across its nodes."""

    def __init__(self) -> None:
        super().__init__()
        runtime = taskmanager_runtime()
        self._control_group: str = runtime.CONTROL_GROUP
        # Ray's typed overloads of remote() leave out concurrency_groups, which it takes.
        self._actor_class = ray.remote(  # type: ignore[call-overload]
            concurrency_groups=runtime.CONCURRENCY_GROUPS)(runtime)
        self._handles: dict[str, Any] = {}
        self._watchers: dict[str, asyncio.Task[None]] = {}

    async def _launch(self, name: str) -> tuple[TaskManagerGateway, TaskManagerInfo]:
        spec = self._spec
        arguments, keywords = spec.taskmanager_arguments(name)
        handle = self._actor_class.options(
            name=name, namespace=RAY_NAMESPACE, num_cpus=spec.num_cpus, memory=spec.memory,
            resources=dict(spec.resources), max_concurrency=1000, scheduling_strategy="SPREAD",
        ).remote(*arguments, **keywords)
        info: TaskManagerInfo = await handle.start.remote()
        self._handles[name] = handle
        self._watchers[name] = asyncio.get_running_loop().create_task(self._watch(name, handle))
        return RayTaskManagerGateway(handle, self._control_group), info

    async def _watch(self, name: str, handle: Any) -> None:
        try:
            await handle.wait_for_death.remote()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - any failure of the call means the actor is gone
            log.warning("%s is gone: %s", name, error)
            self._handles.pop(name, None)
            self._watchers.pop(name, None)
            await self._lost(name, f"TaskManager {name} died: {type(error).__name__}")

    def kill(self, name: str) -> None:
        """Its watcher then reports it lost and starts a replacement."""
        handle = self._handles.get(name)
        if handle is not None:
            log.warning("killing %s", name)
            ray.kill(handle, no_restart=True)

    async def _stop_taskmanager(self, name: str) -> None:
        watcher = self._watchers.pop(name, None)
        if watcher is not None:
            watcher.cancel()
        handle = self._handles.pop(name)
        try:
            await asyncio.wait_for(handle.shutdown.remote(), 5)
        except Exception:
            log.debug("graceful shutdown of %s failed", name, exc_info=True)
        ray.kill(handle)
