"""What the JobManager asks of whatever starts its TaskManagers, whether Ray actors
(``weir.jobmanager.ray_resource_manager``) or threads of this process
(``weir.jobmanager.in_process_resource_manager``, the embedded cluster's default).

Nothing here imports Ray (0.8 s), so an embedded cluster without it never pays for it.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from weir.config.internal_ssl import InternalSslOptions
from weir.config.memory_sizes import parse_memory_size
from weir.graph.deployment import TaskManagerInfo
from weir.jobmanager.taskmanager_gateway import TaskManagerGateway

__all__ = ["TASKMANAGER_RAY_RESOURCES", "ResourceManager", "TaskManagerSpec",
           "taskmanager_memory", "taskmanager_ray_resources", "taskmanager_runtime"]

log = logging.getLogger(__name__)
TASKMANAGER_RAY_RESOURCES = "taskmanager.ray.resources"
TASKMANAGER_MEMORY = "taskmanager.memory.process.size"


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

    def taskmanager_arguments(self, name: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The TaskManager class's constructor arguments for TaskManager ``name``."""
        return ((name, self.jobmanager_address, self.token, self.slots, self.bind_host),
                {"cluster_secret": self.cluster_secret, "internal_ssl": self.internal_ssl,
                 "jobmanager_tls_ca": self.jobmanager_tls_ca,
                 "metrics_configuration": self.metrics_configuration})


class ResourceManager(ABC):
    """Starts and owns the TaskManagers of one JobManager, named ``taskmanager-<n>``, and
    keeps the cluster at its size: one that is gone is reported and replaced."""

    def __init__(self) -> None:
        self._spec = TaskManagerSpec(0, 0, "", None)
        self._on_lost: Callable[[str, str], None] = lambda name, cause: None
        self.gateways: dict[str, TaskManagerGateway] = {}
        self.infos: dict[str, TaskManagerInfo] = {}
        self._next_index = 0
        self._stopping = False

    async def start(self, spec: TaskManagerSpec,
                    on_taskmanager_lost: Callable[[str, str], None]) -> None:
        """Start ``spec.count`` TaskManagers; ``on_taskmanager_lost(name, cause)`` reports
        one that is gone."""
        self._spec = spec
        self._on_lost = on_taskmanager_lost
        await asyncio.gather(*(self.start_taskmanager() for _ in range(spec.count)))

    async def start_taskmanager(self) -> TaskManagerInfo:
        name = f"taskmanager-{self._next_index}"
        self._next_index += 1
        gateway, info = await self._launch(name)
        self.gateways[name] = gateway
        self.infos[name] = info
        log.info("started %s (data port %s)", name, info.data_port)
        return info

    async def _lost(self, name: str, cause: str) -> None:
        """TaskManager ``name`` is gone: report it and start one in its place."""
        self.gateways.pop(name, None)
        self.infos.pop(name, None)
        self._on_lost(name, cause)
        while not self._stopping:
            try:
                info = await self.start_taskmanager()
                log.info("%s replaces %s", info.name, name)
                return
            except Exception as error:  # noqa: BLE001 - e.g. no node has room yet
                log.warning("starting a replacement for %s failed: %s", name, error)
                await asyncio.sleep(1.0)

    async def stop(self) -> None:
        self._stopping = True
        await asyncio.gather(*(self._stop_taskmanager(name) for name in list(self.gateways)))
        self.gateways.clear()
        self.infos.clear()

    @abstractmethod
    async def _launch(self, name: str) -> tuple[TaskManagerGateway, TaskManagerInfo]:
        """Start TaskManager ``name``; returns how to call it and where peers reach it."""

    @abstractmethod
    def kill(self, name: str) -> None:
        """End TaskManager ``name`` at once, as a crash would: it is then reported lost
        and replaced."""

    @abstractmethod
    async def _stop_taskmanager(self, name: str) -> None:
        """Stop TaskManager ``name`` gracefully (bounded in time)."""


def taskmanager_runtime() -> Any:
    """The TaskManager class, found through the ``weir.runtime`` entry point: the
    JobManager never imports the TaskManager package."""
    found = entry_points(group="weir.runtime", name="taskmanager")
    if not found:
        raise RuntimeError("the TaskManager runtime is not installed (entry point "
                           "weir.runtime:taskmanager); reinstall weir")
    return next(iter(found)).load()
