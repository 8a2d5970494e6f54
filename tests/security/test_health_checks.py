"""``grpc.health.v1.Health`` on the JobManager's port, as Kubernetes' gRPC probes use it:
``Check`` answers without the token (probes send no metadata) and says nothing but
SERVING / NOT_SERVING; everything else on the port still needs the token."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.fixtures.cluster import RunningJobManager
from weir.jobmanager.server import JOBMANAGER_SERVICE, JobManagerHealth, create_server
from weir.proto import jobmanager_pb2 as pb
from weir.proto import jobmanager_pb2_grpc as pb_grpc

pytestmark = pytest.mark.timeout(120)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _check(address: str, service: str) -> Any:
    with grpc.insecure_channel(address) as channel:
        return health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=10).status


def test_a_started_jobmanager_is_live_and_ready_without_the_token(
        jobmanager: RunningJobManager) -> None:
    assert _check(jobmanager.address, "") == SERVING  # liveness
    assert _check(jobmanager.address, JOBMANAGER_SERVICE) == SERVING  # readiness


def test_only_check_is_open_without_the_token(jobmanager: RunningJobManager) -> None:
    with grpc.insecure_channel(jobmanager.address) as channel:
        with pytest.raises(grpc.RpcError) as listed:
            pb_grpc.JobManagerStub(channel).ListJobs(pb.ListJobsRequest(), timeout=10)
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=""), timeout=10)
        with pytest.raises(grpc.RpcError) as watched:
            next(watch)
        with pytest.raises(grpc.RpcError) as unknown:
            health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="weir.v1.JobManagerInternal"), timeout=10)

    assert listed.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert watched.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


def test_readiness_follows_the_jobmanager_lifecycle() -> None:
    """Not ready while TaskManagers start and jobs recover; not ready once stopping;
    alive throughout until the stop."""

    async def scenario() -> list[tuple[Any, Any]]:
        health = JobManagerHealth()
        await health.starting()
        server = create_server(dispatcher=None, token="secret",  # type: ignore[arg-type]
                               max_message_bytes=1 << 20, health_service=health)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        seen = []

        async def statuses() -> tuple[Any, Any]:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = health_pb2_grpc.HealthStub(channel)
                return tuple([(await stub.Check(health_pb2.HealthCheckRequest(service=name),
                                                timeout=10)).status
                              for name in ("", JOBMANAGER_SERVICE)])

        try:
            seen.append(await statuses())
            await health.serving()
            seen.append(await statuses())
            await health.stopping()
            seen.append(await statuses())
            await health.serving()  # a late call cannot make a stopping JobManager ready
            seen.append(await statuses())
        finally:
            await server.stop(0)
        return seen

    assert asyncio.run(scenario()) == [
        (SERVING, NOT_SERVING), (SERVING, SERVING), (NOT_SERVING, NOT_SERVING),
        (NOT_SERVING, NOT_SERVING)]
