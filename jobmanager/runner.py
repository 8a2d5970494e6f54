"""The JobManager process: gRPC server, dispatcher and TaskManagers, started and stopped together."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field

import grpc

from weir.config.internal_ssl import InternalSslOptions
from weir.jobmanager.dispatcher import Dispatcher
from weir.jobmanager.metrics import JobManagerMetrics
from weir.jobmanager.resource_manager import (
    ResourceManager,
    TaskManagerSpec,
    taskmanager_memory,
    taskmanager_ray_resources,
)
from weir.jobmanager.server import JobManagerHealth, create_server
from weir.rpc.auth import DEFAULT_MAX_MESSAGE_BYTES
from weir.rpc.credentials import ServerTls

__all__ = ["JobManager", "JobManagerConfig"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobManagerConfig:
    host: str = "127.0.0.1"
    port: int = 6123
    token: str | None = None
    taskmanagers: int = 2
    slots: int = 2
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    advertised_host: str | None = None
    taskmanager_bind_host: str = "127.0.0.1"
    # Cluster configuration with Flink's keys (checkpoints, S3, restart strategy, …).
    configuration: dict[str, str] = field(default_factory=dict)
    # TLS on the gRPC port (clients and TaskManagers alike); None: plain gRPC.
    tls: ServerTls | None = None
    # The JobManager's metrics port or range (``--metrics-port``), over
    # ``metrics.reporter.prom.port``; and whether metrics are served unless
    # ``metrics.reporter.prom.enabled`` says otherwise (off for the embedded cluster).
    metrics_port: str | None = None
    metrics_enabled_by_default: bool = True
    # TaskManagers on threads of this process instead of Ray actors (the embedded cluster).
    in_process_taskmanagers: bool = False


class JobManager:
    """Start with ``await start()`` on the event loop that will serve it (Ray must be
    initialized, unless its TaskManagers run in process), or in two steps: ``prepare()``
    while Ray starts, then ``open()``."""

    def __init__(self, config: JobManagerConfig) -> None:
        self.config = config
        self.port = 0
        self._server: grpc.aio.Server | None = None
        self._resources: ResourceManager | None = None
        self._dispatcher: Dispatcher | None = None
        self._internal_ssl: InternalSslOptions | None = None
        self.metrics: JobManagerMetrics | None = None
        self._health = JobManagerHealth()

    @property
    def address(self) -> str:
        host = self.config.advertised_host or self.config.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"{host}:{self.port}"

    async def start(self) -> None:
        """``prepare()``, then ``open()``."""
        await self.prepare()
        await self.open()

    async def prepare(self) -> None:
        """What needs neither Ray nor a port: load the TaskManager runtime, build the
        dispatcher. The embedded cluster runs it while Ray starts (not more: Ray forks its
        processes then, which a running gRPC server would complain about)."""
        config = self.config
        self._internal_ssl = InternalSslOptions.from_configuration(config.configuration)
        resources = self._resources = _resource_manager(config.in_process_taskmanagers)
        self.metrics = JobManagerMetrics(config.configuration, config.metrics_enabled_by_default,
                                         config.metrics_port, config.advertised_host,
                                         lambda: resources.infos)
        self._dispatcher = Dispatcher(resources, config.configuration, self.metrics)

    async def open(self) -> None:
        """Serve gRPC and metrics, start the TaskManagers (on Ray, which must be initialized,
        unless they run in process), recover the jobs of a previous JobManager."""
        config = self.config
        dispatcher, resources, metrics = self._dispatcher, self._resources, self.metrics
        assert dispatcher is not None and resources is not None and metrics is not None, \
            "prepare() first"
        await self._health.starting()
        self._server = create_server(dispatcher, config.token, config.max_message_bytes,
                                     self._health)
        bind = f"{config.host}:{config.port}"
        try:
            self.port = (self._server.add_secure_port(bind, config.tls.server_credentials())
                         if config.tls else self._server.add_insecure_port(bind))
        except RuntimeError as error:
            raise OSError(f"cannot listen on {config.host}:{config.port}: {error}") from None
        await self._server.start()
        metrics_port = metrics.start(lambda: dispatcher.running_jobs)
        if metrics_port:
            log.info("metrics at http://%s:%s/metrics", metrics.options.host, metrics_port)
        await resources.start(
            TaskManagerSpec(config.taskmanagers, config.slots, self.address, config.token,
                            bind_host=config.taskmanager_bind_host,
                            resources=taskmanager_ray_resources(config.configuration),
                            memory=taskmanager_memory(config.configuration),
                            cluster_secret=secrets.token_bytes(32),
                            internal_ssl=self._internal_ssl,
                            jobmanager_tls_ca=config.tls.trusted_certificates if config.tls
                            else None,
                            metrics_configuration=metrics.taskmanager_configuration),
            dispatcher.taskmanager_lost)
        await dispatcher.recover_jobs()
        await self._health.serving()
        log.info("JobManager listening on %s:%s", config.host, self.port)

    async def stop(self, grace_s: float = 2.0) -> None:
        await self._health.stopping()
        if self._server is not None:
            await self._server.stop(grace_s)
        if self.metrics is not None:
            self.metrics.close()
        if self._resources is not None:
            await self._resources.stop()


def _resource_manager(in_process: bool) -> ResourceManager:
    """Imported here: importing Ray takes 0.8 s, which in-process TaskManagers never pay."""
    if in_process:
        from weir.jobmanager.in_process_resource_manager import InProcessResourceManager

        return InProcessResourceManager()
    from weir.jobmanager.ray_resource_manager import RayResourceManager

    return RayResourceManager()
