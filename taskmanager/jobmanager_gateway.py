"""The TaskManager's client of the JobManager's internal gRPC service."""

from __future__ import annotations

from weir.graph.deployment import TaskDeployment
from weir.proto import jobmanager_pb2 as pb
from weir.proto import jobmanager_pb2_grpc as pb_grpc
from weir.rpc.auth import DEFAULT_MAX_MESSAGE_BYTES, bearer_metadata, channel_options
from weir.rpc.credentials import aio_channel

__all__ = ["JobManagerGateway", "TaskOutputReporter", "task_id"]


def task_id(deployment: TaskDeployment) -> pb.TaskId:
    return pb.TaskId(job_id=deployment.job_id, attempt=deployment.attempt,
                     vertex_id=deployment.vertex_id, subtask=deployment.subtask_index)


class JobManagerGateway:
    """Reports task states, output and heartbeats. Created on the TaskManager's event loop.

    Over TLS when ``tls_root_certificates`` (PEM, from the JobManager) are given.
    """

    def __init__(self, address: str, token: str | None,
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
                 tls_root_certificates: bytes | None = None) -> None:
        self._channel = aio_channel(address, channel_options(max_message_bytes),
                                    tls_root_certificates)
        self._stub = pb_grpc.JobManagerInternalStub(self._channel)
        self._metadata = bearer_metadata(token)

    async def close(self) -> None:
        await self._channel.close()

    async def update_task_state(self, deployment: TaskDeployment, state: pb.ExecutionState,
                                failure_cause: str = "", records_in: int = 0,
                                records_out: int = 0) -> None:
        await self._stub.UpdateTaskExecutionState(
            pb.TaskExecutionStateUpdate(task=task_id(deployment), state=state,
                                        failure_cause=failure_cause, records_in=records_in,
                                        records_out=records_out),
            metadata=self._metadata)

    async def report_end_of_input(self, deployment: TaskDeployment, records_in: int,
                                  records_out: int) -> None:
        await self._stub.UpdateTaskExecutionState(
            pb.TaskExecutionStateUpdate(task=task_id(deployment), state=pb.TASK_RUNNING,
                                        end_of_input=True, records_in=records_in,
                                        records_out=records_out),
            metadata=self._metadata)

    async def acknowledge_checkpoint(self, ack: pb.AcknowledgeCheckpoint) -> None:
        await self._stub.AcknowledgeTaskCheckpoint(ack, metadata=self._metadata, timeout=60)

    async def decline_checkpoint(self, deployment: TaskDeployment, checkpoint_id: int,
                                 reason: str) -> None:
        await self._stub.DeclineTaskCheckpoint(
            pb.DeclineCheckpoint(task=task_id(deployment), checkpoint_id=checkpoint_id,
                                 reason=reason),
            metadata=self._metadata, timeout=60)

    async def report_output(self, output: pb.TaskOutput) -> None:
        await self._stub.ReportTaskOutput(output, metadata=self._metadata)

    async def heartbeat(self, heartbeat: pb.TaskManagerHeartbeat) -> None:
        await self._stub.Heartbeat(heartbeat, metadata=self._metadata, timeout=10)


class TaskOutputReporter:
    """The OutputReporter of one task: print lines and collected batches, in order."""

    def __init__(self, gateway: JobManagerGateway, deployment: TaskDeployment) -> None:
        self._gateway = gateway
        self._task = task_id(deployment)

    async def print_lines(self, lines: list[str]) -> None:
        await self._gateway.report_output(pb.TaskOutput(task=self._task, print_lines=lines))

    async def collected(self, batch: bytes) -> None:
        await self._gateway.report_output(pb.TaskOutput(task=self._task, collected_batch=batch))
