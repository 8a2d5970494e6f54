"""A synchronous client of ``weir.v1.JobManager`` that turns gRPC failures into clear errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Self, TypeVar

import grpc

from weir.proto import jobmanager_pb2 as pb
from weir.proto import jobmanager_pb2_grpc as pb_grpc
from weir.rpc.auth import DEFAULT_MAX_MESSAGE_BYTES, bearer_metadata, channel_options
from weir.rpc.credentials import channel
from weir.rpc.errors import (
    AuthenticationError,
    JobManagerUnavailableError,
    JobNotFoundError,
    TlsError,
    WeirError,
)

__all__ = ["DEFAULT_JOBMANAGER_ADDRESS", "JobManagerClient"]

DEFAULT_JOBMANAGER_ADDRESS = "127.0.0.1:6123"
R = TypeVar("R")


class JobManagerClient:
    """Calls the JobManager at ``address`` (HOST:PORT), with a bearer token when given, over
    TLS when ``tls_root_certificates`` (PEM: the CA the JobManager's certificate chains to)
    are given."""

    def __init__(self, address: str, token: str | None = None,
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
                 timeout_s: float = 30.0, tls_root_certificates: bytes | None = None) -> None:
        self.address = address
        self._metadata = bearer_metadata(token)
        self._max_message_bytes = max_message_bytes
        self._timeout_s = timeout_s
        self._tls = tls_root_certificates is not None
        self._channel = channel(address, channel_options(max_message_bytes),
                                tls_root_certificates)
        self._stub = pb_grpc.JobManagerStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _call(self, method: Callable[..., R], request: Any, job_id: str = "",
              deadline: bool = True) -> R:
        try:
            return method(request, metadata=self._metadata,
                          timeout=self._timeout_s if deadline else None, wait_for_ready=False)
        except grpc.RpcError as error:
            raise self._translate(error, job_id) from None

    def _translate(self, error: grpc.RpcError, job_id: str) -> Exception:
        code = error.code()  # type: ignore[attr-defined]
        details = error.details() or ""  # type: ignore[attr-defined]
        if code == grpc.StatusCode.UNAVAILABLE and "handshake failed" in details.lower():
            return TlsError(self.address, details)
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) \
                and "Received message larger" not in details:
            # A TLS port closes the connection of a plain client at once.
            hint = ("if it serves TLS, pass the CA of its certificate with --tls-ca or "
                    "WEIR_TLS_CA") if not self._tls and "Socket closed" in details else ""
            return JobManagerUnavailableError(self.address, hint)
        if code == grpc.StatusCode.UNAUTHENTICATED:
            return AuthenticationError(self.address, token_sent=bool(self._metadata))
        if code == grpc.StatusCode.NOT_FOUND:
            return JobNotFoundError(job_id)
        if code == grpc.StatusCode.FAILED_PRECONDITION:  # the JobManager says why
            return WeirError(details)
        if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
            return WeirError(f"message too large for the JobManager ({details}); the limit is "
                             f"{self._max_message_bytes // (1024 * 1024)} MiB: read large data "
                             "through a source instead of capturing it in functions")
        return WeirError(f"JobManager error ({code.name}): {details}")

    def submit_job(self, job_graph: pb.JobGraph, savepoint_path: str = "",
                   allow_non_restored_state: bool = False) -> str:
        """Submit the job, restoring its state from ``savepoint_path`` when given."""
        size = job_graph.ByteSize()
        if size > self._max_message_bytes:
            raise WeirError(
                f"the job graph is {size / 2**20:.1f} MiB, above the {self._max_message_bytes // 2**20}"
                " MiB message limit: read large data through a source instead of capturing it "
                "in functions or from_collection()")
        request = pb.SubmitJobRequest(job_graph=job_graph, savepoint_path=savepoint_path,
                                      allow_non_restored_state=allow_non_restored_state)
        return self._call(self._stub.SubmitJob, request).job_id

    def list_jobs(self) -> list[pb.JobSummary]:
        return list(self._call(self._stub.ListJobs, pb.ListJobsRequest()).jobs)

    def get_job(self, job_id: str) -> pb.JobDetails:
        return self._call(self._stub.GetJob, pb.GetJobRequest(job_id=job_id), job_id)

    def cancel_job(self, job_id: str) -> None:
        self._call(self._stub.CancelJob, pb.CancelJobRequest(job_id=job_id), job_id)

    def trigger_savepoint(self, job_id: str, target_directory: str = "",
                          stop: bool = False) -> str:
        """Take a savepoint (and with ``stop``, then stop the job); returns its path.

        No deadline: the JobManager answers when the savepoint completes or fails (it
        aborts a savepoint after the checkpoint timeout).
        """
        request = pb.TriggerSavepointRequest(job_id=job_id, target_directory=target_directory,
                                             stop=stop)
        return self._call(self._stub.TriggerSavepoint, request, job_id,
                          deadline=False).savepoint_path

    def list_checkpoints(self, job_id: str) -> list[pb.CheckpointInfo]:
        """The job's recent checkpoints and savepoints (completed, failed, in progress)."""
        request = pb.ListCheckpointsRequest(job_id=job_id)
        return list(self._call(self._stub.ListCheckpoints, request, job_id).checkpoints)

    def stream_output(self, job_id: str, collect: bool = False) -> Iterator[pb.JobOutput]:
        """Print lines (and collected batches) of the job as they come, then its final status."""
        try:
            yield from self._stub.StreamJobOutput(
                pb.StreamJobOutputRequest(job_id=job_id, collect=collect),
                metadata=self._metadata)
        except grpc.RpcError as error:
            raise self._translate(error, job_id) from None
