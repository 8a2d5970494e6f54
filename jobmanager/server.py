"""gRPC servicers: thin adapters from ``weir.v1.JobManager`` and the internal service to the
Dispatcher, the bearer-token check, and ``grpc.health.v1.Health`` for probes."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from weir.jobmanager.dispatcher import Dispatcher, JobSubmissionError, UnknownJobError
from weir.jobmanager.job_status import cancel_refusal
from weir.proto import jobmanager_pb2 as pb
from weir.proto import jobmanager_pb2_grpc as pb_grpc
from weir.rpc.auth import AUTHORIZATION_KEY, channel_options

__all__ = ["HEALTH_CHECK_METHOD", "JOBMANAGER_SERVICE", "JobManagerHealth",
           "JobManagerInternalServicer", "JobManagerServicer", "TokenInterceptor",
           "create_server"]

# The service name a readiness probe asks about (the overall server, "", is what liveness asks).
JOBMANAGER_SERVICE = "weir.v1.JobManager"
# The one method callers may use without the token: Kubernetes' gRPC probes send no metadata,
# and the answer (SERVING or not) tells nothing about jobs. Watch (a stream) still needs it.
HEALTH_CHECK_METHOD = "/grpc.health.v1.Health/Check"


class TokenInterceptor(grpc.aio.ServerInterceptor):
    """Rejects every call without ``authorization: Bearer <token>``."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

        async def deny(request: Any, context: grpc.aio.ServicerContext) -> None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")

        self._deny_unary = grpc.unary_unary_rpc_method_handler(deny)

        async def deny_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")
            yield  # pragma: no cover - abort raises

        self._deny_stream = grpc.unary_stream_rpc_method_handler(deny_stream)

    async def intercept_service(
            self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
            handler_call_details: grpc.HandlerCallDetails) -> Any:
        if handler_call_details.method == HEALTH_CHECK_METHOD:
            return await continuation(handler_call_details)
        for key, value in handler_call_details.invocation_metadata or ():
            if key == AUTHORIZATION_KEY and hmac.compare_digest(
                    value.encode() if isinstance(value, str) else value, self._expected):
                return await continuation(handler_call_details)
        if handler_call_details.method.endswith("StreamJobOutput"):
            return self._deny_stream
        return self._deny_unary


class JobManagerServicer(pb_grpc.JobManagerServicer):
    def __init__(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher

    async def SubmitJob(self, request: pb.SubmitJobRequest,
                        context: grpc.aio.ServicerContext) -> pb.SubmitJobResponse:
        try:
            job_id = await self._dispatcher.submit(request.job_graph, request.savepoint_path,
                                                   request.allow_non_restored_state)
        except JobSubmissionError as error:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(error))
        return pb.SubmitJobResponse(job_id=job_id)

    async def ListJobs(self, request: pb.ListJobsRequest,
                       context: grpc.aio.ServicerContext) -> pb.ListJobsResponse:
        jobs = sorted(self._dispatcher.jobs.values(), key=lambda m: m.start_time)
        return pb.ListJobsResponse(jobs=[m.summary() for m in jobs])

    async def GetJob(self, request: pb.GetJobRequest,
                     context: grpc.aio.ServicerContext) -> pb.JobDetails:
        return (await self._job(request.job_id, context)).details()

    async def CancelJob(self, request: pb.CancelJobRequest,
                        context: grpc.aio.ServicerContext) -> pb.CancelJobResponse:
        master = await self._job(request.job_id, context)
        refusal = cancel_refusal(request.job_id, master.state)
        if refusal:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, refusal)
        master.cancel()
        return pb.CancelJobResponse()

    async def TriggerSavepoint(self, request: pb.TriggerSavepointRequest,
                               context: grpc.aio.ServicerContext) -> pb.TriggerSavepointResponse:
        await self._job(request.job_id, context)
        try:
            path = await self._dispatcher.trigger_savepoint(
                request.job_id, request.target_directory, request.stop)
        except (JobSubmissionError, RuntimeError) as error:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(error))
        return pb.TriggerSavepointResponse(savepoint_path=path)

    async def ListCheckpoints(self, request: pb.ListCheckpointsRequest,
                              context: grpc.aio.ServicerContext) -> pb.ListCheckpointsResponse:
        master = await self._job(request.job_id, context)
        return pb.ListCheckpointsResponse(checkpoints=master.coordinator.list_checkpoints())

    async def StreamJobOutput(self, request: pb.StreamJobOutputRequest,
                              context: grpc.aio.ServicerContext) -> AsyncIterator[pb.JobOutput]:
        master = await self._job(request.job_id, context)
        async for output in master.output.follow(request.collect, master.details):
            yield output

    async def _job(self, job_id: str, context: grpc.aio.ServicerContext) -> Any:
        try:
            return self._dispatcher.get(job_id)
        except UnknownJobError:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no job {job_id}")


class JobManagerInternalServicer(pb_grpc.JobManagerInternalServicer):
    def __init__(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher

    async def UpdateTaskExecutionState(self, request: pb.TaskExecutionStateUpdate,
                                       context: grpc.aio.ServicerContext) -> pb.Ack:
        self._dispatcher.update_task(request)
        return pb.Ack()

    async def ReportTaskOutput(self, request: pb.TaskOutput,
                               context: grpc.aio.ServicerContext) -> pb.Ack:
        await self._dispatcher.report_output(request)
        return pb.Ack()

    async def Heartbeat(self, request: pb.TaskManagerHeartbeat,
                        context: grpc.aio.ServicerContext) -> pb.Ack:
        self._dispatcher.heartbeat(request)
        return pb.Ack()

    async def AcknowledgeTaskCheckpoint(self, request: pb.AcknowledgeCheckpoint,
                                        context: grpc.aio.ServicerContext) -> pb.Ack:
        self._dispatcher.acknowledge_checkpoint(request)
        return pb.Ack()

    async def DeclineTaskCheckpoint(self, request: pb.DeclineCheckpoint,
                                    context: grpc.aio.ServicerContext) -> pb.Ack:
        self._dispatcher.decline_checkpoint(request)
        return pb.Ack()


class JobManagerHealth:
    """What ``grpc.health.v1.Health`` answers, as Kubernetes' probes ask it.

    The overall server (service ``""``, liveness) is SERVING from the start; the JobManager
    service (``weir.v1.JobManager``, readiness) is NOT_SERVING until ``serving()`` — once
    its TaskManagers run and its jobs are recovered — and again after ``stopping()``.
    Touched only on the server's event loop.
    """

    def __init__(self) -> None:
        self.servicer = health.aio.HealthServicer()  # the overall server starts SERVING

    async def starting(self) -> None:
        """The JobManager service NOT_SERVING (call before the server starts)."""
        await self.servicer.set(JOBMANAGER_SERVICE, health_pb2.HealthCheckResponse.NOT_SERVING)

    async def serving(self) -> None:
        await self.servicer.set(JOBMANAGER_SERVICE, health_pb2.HealthCheckResponse.SERVING)

    async def stopping(self) -> None:
        """Every service NOT_SERVING from now on (graceful shutdown)."""
        await self.servicer.enter_graceful_shutdown()


def create_server(dispatcher: Dispatcher, token: str | None,
                  max_message_bytes: int,
                  health_service: JobManagerHealth | None = None) -> grpc.aio.Server:
    interceptors = [TokenInterceptor(token)] if token else []
    server = grpc.aio.server(interceptors=interceptors,
                             options=channel_options(max_message_bytes))
    pb_grpc.add_JobManagerServicer_to_server(JobManagerServicer(dispatcher), server)
    pb_grpc.add_JobManagerInternalServicer_to_server(JobManagerInternalServicer(dispatcher),
                                                     server)
    if health_service is not None:
        health_pb2_grpc.add_HealthServicer_to_server(health_service.servicer, server)
    return server
