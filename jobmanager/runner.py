"""The JobManager process: gRPC server, dispatcher and TaskManagers, started and stopped together."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field

import grpc

from weir.config.internal_ssl import InternalSslOptions
from weir.jobmanager.dispatcher import Dispatcher
from weir.jobmanager.resource_manager import (
    RayResourceManager,
    TaskManagerSpec,
    taskmanager_memory,
    taskmanager_ray_resources,
)
from weir.jobmanager.server import create_server
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


class JobManager:
    """Start with ``await start()`` on the event loop that will serve it (Ray must be initialized)."""

    def __init__(self, config: JobManagerConfig) -> None:
        self.config = config
        self.port = 0
        self._server: grpc.aio.Server | None = None
        self._resources: RayResourceManager | None = None

    @property
    def address(self) -> str:
        host = self.config.advertised_host or self.config.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"{host}:{self.port}"

    async def start(self) -> None:
        config = self.config
        internal_ssl = InternalSslOptions.from_configuration(config.configuration)
        self._resources = RayResourceManager()
        dispatcher = Dispatcher(self._resources, config.configuration)
        self._server = create_server(dispatcher, config.token, config.max_message_bytes)
        bind = f"{config.host}:{config.port}"
        try:
            self.port = (self._server.add_secure_port(bind, config.tls.server_credentials())
                         if config.tls else self._server.add_insecure_port(bind))
        except RuntimeError as error:
            raise OSError(f"cannot listen on {config.host}:{config.port}: {error}") from None
        await self._server.start()
        remote_taskmanagers = config.taskmanager_bind_host != "127.0.0.1"
        await self._resources.start(
            TaskManagerSpec(config.taskmanagers, config.slots, self.address, config.token,
                            bind_host=config.taskmanager_bind_host,
                            advertised_host=config.advertised_host if remote_taskmanagers
                            else None,
                            resources=taskmanager_ray_resources(config.configuration),
                            memory=taskmanager_memory(config.configuration),
                            cluster_secret=secrets.token_bytes(32), internal_ssl=internal_ssl,
                            jobmanager_tls_ca=config.tls.trusted_certificates if config.tls
                            else None),
            dispatcher.taskmanager_lost)
        await dispatcher.recover_jobs()
        log.info("JobManager listening on %s:%s", config.host, self.port)

    async def stop(self, grace_s: float = 2.0) -> None:
        if self._server is not None:
            await self._server.stop(grace_s)
        if self._resources is not None:
            await self._resources.stop()
