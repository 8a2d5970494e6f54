"""``JobClient`` and ``JobExecutionResult`` (``pyflink.common.job_client``).

A JobClient follows its job on a background thread: it writes the job's
``print()`` lines to the user's stdout as they arrive, queues collected results
for ``execute_and_collect``, and completes the result future at the end.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import IO, Any, Self

from weir.common.job_status import JobStatus
from weir.proto import jobmanager_pb2 as pb
from weir.rpc.client import JobManagerClient
from weir.rpc.errors import WeirError

__all__ = ["CloseableIterator", "JobClient", "JobExecutionException", "JobExecutionResult"]

_END = object()


class JobExecutionException(WeirError):
    """The job failed or was canceled; the message holds the cause (the user's traceback)."""

    def __init__(self, job_id: str, state: str, cause: str) -> None:
        detail = f":\n{cause}" if cause else ""
        super().__init__(f"Job {job_id} {state.lower()}{detail}")
        self.job_id = job_id
        self.state = state
        self.cause = cause


class JobExecutionResult:
    """The result of a finished job."""

    def __init__(self, job_id: str, net_runtime_ms: int) -> None:
        self._job_id = job_id
        self._net_runtime_ms = net_runtime_ms

    def get_job_id(self) -> str:
        return self._job_id

    def get_net_runtime(self) -> int:
        """Run time in milliseconds."""
        return self._net_runtime_ms

    def is_job_execution_result(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"JobExecutionResult(job_id={self._job_id}, net_runtime={self._net_runtime_ms} ms)"


class JobClient:
    """A handle on a submitted job."""

    def __init__(self, job_id: str, rpc: JobManagerClient, *, follow: bool = True,
                 collect: bool = False, stdout: IO[str] | None = None,
                 on_terminated: Callable[[], None] | None = None) -> None:
        self._job_id = job_id
        self._rpc = rpc
        self._stdout = stdout or sys.stdout
        self._on_terminated = on_terminated
        self._result: Future[JobExecutionResult] = Future()
        self.collected: queue.Queue[Any] = queue.Queue()
        self._collect = collect
        if follow:
            threading.Thread(target=self._follow, name=f"weir-job-{job_id[:8]}",
                             daemon=True).start()

    def get_job_id(self) -> str:
        return self._job_id

    def get_job_status(self) -> Future[JobStatus]:
        return _completed(lambda: JobStatus(self._rpc.get_job(self._job_id).state))

    def cancel(self) -> Future[None]:
        return _completed(lambda: self._rpc.cancel_job(self._job_id))

    def get_job_execution_result(self) -> Future[JobExecutionResult]:
        return self._result

    def _follow(self) -> None:
        outcome: JobExecutionResult | BaseException
        try:
            outcome = self._outcome(self._read_output())
        except BaseException as error:  # noqa: BLE001 - handed to the waiting user thread
            outcome = error
        self.collected.put(_END)
        if self._on_terminated is not None:
            self._on_terminated()
        if isinstance(outcome, BaseException):
            self._result.set_exception(outcome)
        else:
            self._result.set_result(outcome)

    def _read_output(self) -> pb.JobDetails:
        for output in self._rpc.stream_output(self._job_id, collect=self._collect):
            kind = output.WhichOneof("kind")
            if kind == "print_line":
                self._stdout.write(output.print_line + "\n")
                self._stdout.flush()
            elif kind == "collected_batch":
                self.collected.put(output.collected_batch)
            elif kind == "final_status":
                return output.final_status
        raise WeirError(f"lost the JobManager while following job {self._job_id}")

    def _outcome(self, final: pb.JobDetails) -> JobExecutionResult | BaseException:
        if final.state == pb.FINISHED:
            runtime = int((final.end_time - final.start_time) * 1000)
            return JobExecutionResult(self._job_id, runtime)
        return JobExecutionException(self._job_id, pb.JobState.Name(final.state),
                                     final.failure_cause)


class CloseableIterator:
    """Iterates the results of ``execute_and_collect``; closing it cancels an unfinished job."""

    def __init__(self, client: JobClient, loads: Callable[[bytes], list[Any]]) -> None:
        self._client = client
        self._loads = loads
        self._pending: list[Any] = []
        self._done = False

    def __iter__(self) -> CloseableIterator:
        return self

    def __next__(self) -> Any:
        while not self._pending:
            if self._done:
                raise StopIteration
            item = self._client.collected.get()
            if item is _END:
                self._done = True
                self._client.get_job_execution_result().result()  # raises if the job failed
                continue
            self._pending = self._loads(item)
            self._pending.reverse()
        return self._pending.pop()

    def close(self) -> None:
        if not self._done and not self._client.get_job_execution_result().done():
            try:
                self._client.cancel().result()
            except WeirError:
                pass
        self._done = True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _completed(call: Callable[[], Any]) -> Future[Any]:
    future: Future[Any] = Future()
    try:
        future.set_result(call())
    except BaseException as error:  # noqa: BLE001 - delivered through the future
        future.set_exception(error)
    return future
