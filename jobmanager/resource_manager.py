"""Starts TaskManager actors on Ray and tells the JobManager when one dies.

TaskManagers are named Ray actors (``taskmanager-<n>`` in namespace ``weir``).
The actor class is found through the ``weir.runtime`` entry point, so the
JobManager never imports the TaskManager package; it declares the Ray concurrency groups
its methods use (``CONCURRENCY_GROUPS``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import ray

from weir.config.internal_ssl import InternalSslOptions
from weir.config.memory_sizes import parse_memory_size
from weir.graph.deployment import TaskManagerInfo

__all__ = ["RAY_NAMESPACE", "TASKMANAGER_RAY_RESOURCES", "RayResourceManager",
           "TaskManagerSpec", "init_ray", "ray_init_options", "taskmanager_memory",
           "taskmanager_ray_resources"]

log = logging.getLogger(__name__)
RAY_NAMESPACE = "weir"
TASKMANAGER_RAY_RESOURCES = "taskmanager.ray.resources"
TASKMANAGER_MEMORY = "taskmanager.memory.process.size"


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


def taskmanager_memory(configuration: Mapping[str, str]) -> int | None:
    """Bytes of memory each TaskManager actor reserves on its Ray node, from Flink's
    ``taskmanager.memory.process.size`` (None: no reservation). Ray places a TaskManager
    only on a node with that much unreserved memory; the keyed state of a job that needs
    more belongs in the RocksDB backend, whose caches are bounded."""
    value = configuration.get(TASKMANAGER_MEMORY)
    return None if value is None else parse_memory_size(value, TASKMANAGER_MEMORY) or None


def taskmanager_ray_resources(configuration: Mapping[str, str]) -> dict[str, float]:
    """The custom Ray resources each TaskManager actor requests, from
    ``taskmanager.ray.resources`` = ``name:amount[,name:amount...]`` (e.g. to keep
    TaskManagers on the nodes that offer ``name``).

    Raises:
        ValueError: naming the item that is not ``name:amount`` with a positive amount.
    """
    resources: dict[str, float] = {}
    for item in filter(None, (i.strip() for i in
                              configuration.get(TASKMANAGER_RAY_RESOURCES, "").split(","))):
        name, _, amount = item.rpartition(":")
        try:
            value = float(amount)
        except ValueError:
            value = 0.0
        if not name.strip() or not value > 0:
            raise ValueError(f"{TASKMANAGER_RAY_RESOURCES} takes name:amount[,name:amount...] "
                             f"with positive amounts, got {item!r}")
        resources[name.strip()] = value
    return resources


@dataclass(frozen=True)
class TaskManagerSpec:
    """How to start TaskManagers.

    ``cluster_secret`` is what TaskManagers prove to each other on every data connection
    (the JobManager makes it when it starts; never logged, hence not in the repr);
    ``internal_ssl`` turns TLS on for those connections.
    """

    count: int
    slots: int
    jobmanager_address: str
    token: str | None
    bind_host: str = "127.0.0.1"  # of the data ports; a wildcard advertises the node's IP
    num_cpus: float = 0
    resources: dict[str, float] = field(default_factory=dict)  # custom Ray resources
    memory: int | None = None  # bytes reserved per TaskManager (Ray's memory resource)
    cluster_secret: bytes | None = field(default=None, repr=False)
    internal_ssl: InternalSslOptions | None = None
    # PEM certificates TaskManagers trust when they call the JobManager's gRPC port over
    # TLS (None: plain gRPC).
    jobmanager_tls_ca: bytes | None = None
    # The ``metrics.reporter.prom.*`` keys each TaskManager serves its metrics with.
    metrics_configuration: dict[str, str] = field(default_factory=dict)


def _actor_class() -> Any:
    found = entry_points(group="weir.runtime", name="taskmanager")
    if not found:
        raise RuntimeError("the TaskManager runtime is not installed (entry point "
                           "weir.runtime:taskmanager); reinstall weir")
    actor_class = next(iter(found)).load()
    # Ray's typed overloads of remote() leave out concurrency_groups, which it takes.
    return ray.remote(  # type: ignore[call-overload]
        concurrency_groups=actor_class.CONCURRENCY_GROUPS)(actor_class)


class RayResourceManager:
    """Owns the TaskManager actors of one JobManager."""

    def __init__(self) -> None:
        self._spec = TaskManagerSpec(0, 0, "", None)
        self._on_lost: Callable[[str, str], None] = lambda name, cause: None
        self._actor_class = _actor_class()
        self.handles: dict[str, Any] = {}
        self.infos: dict[str, TaskManagerInfo] = {}
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self._next_index = 0
        self._stopping = False

    async def start(self, spec: TaskManagerSpec,
                    on_taskmanager_lost: Callable[[str, str], None]) -> None:
        """Start ``spec.count`` TaskManagers; ``on_taskmanager_lost(name, cause)`` reports deaths."""
        self._spec = spec
        self._on_lost = on_taskmanager_lost
        await asyncio.gather(*(self.start_taskmanager() for _ in range(self._spec.count)))

    async def start_taskmanager(self) -> TaskManagerInfo:
        name = f"taskmanager-{self._next_index}"
        self._next_index += 1
        spec = self._spec
        handle = self._actor_class.options(
            name=name, namespace=RAY_NAMESPACE, num_cpus=spec.num_cpus, memory=spec.memory,
            resources=dict(spec.resources), max_concurrency=1000, scheduling_strategy="SPREAD",
        ).remote(name, spec.jobmanager_address, spec.token, spec.slots, spec.bind_host,
                 cluster_secret=spec.cluster_secret,
                 internal_ssl=spec.internal_ssl, jobmanager_tls_ca=spec.jobmanager_tls_ca,
                 metrics_configuration=spec.metrics_configuration)
        info: TaskManagerInfo = await handle.start.remote()
        self.handles[name] = handle
        self.infos[name] = info
        self._watchers[name] = asyncio.get_running_loop().create_task(self._watch(name, handle))
        log.info("started %s (data port %s)", name, info.data_port)
        return info

    async def _watch(self, name: str, handle: Any) -> None:
        try:
            await handle.wait_for_death.remote()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - any failure of the call means the actor is gone
            self.handles.pop(name, None)
            self.infos.pop(name, None)
            log.warning("%s is gone: %s", name, error)
            self._on_lost(name, f"TaskManager {name} died: {type(error).__name__}")
            await self._replace(name)

    async def _replace(self, name: str) -> None:
        """Keep the cluster at its size: start a TaskManager in place of a dead one."""
        while not self._stopping:
            try:
                info = await self.start_taskmanager()
                log.info("%s replaces %s", info.name, name)
                return
            except Exception as error:  # noqa: BLE001 - e.g. no node has room yet
                log.warning("starting a replacement for %s failed: %s", name, error)
                await asyncio.sleep(1.0)

    def kill(self, name: str) -> None:
        """End TaskManager ``name`` at once, as a crash would: its watcher then reports it
        lost and starts a replacement."""
        handle = self.handles.get(name)
        if handle is not None:
            log.warning("killing %s", name)
            ray.kill(handle, no_restart=True)

    async def stop(self) -> None:
        self._stopping = True
        for watcher in self._watchers.values():
            watcher.cancel()
        await asyncio.gather(*(self._stop_taskmanager(name, handle)
                               for name, handle in self.handles.items()))
        self.handles.clear()
        self.infos.clear()

    @staticmethod
    async def _stop_taskmanager(name: str, handle: Any) -> None:
        try:
            await asyncio.wait_for(handle.shutdown.remote(), 5)
        except Exception:
            log.debug("graceful shutdown of %s failed", name, exc_info=True)
        ray.kill(handle)
