"""Where ``env.execute()`` sends a job (Flink's PipelineExecutor).

In order: the context installed by ``weir run``; a JobManager named by
``WEIR_JOBMANAGER`` or the ``jobmanager.address`` option; otherwise the
embedded local cluster, found through the ``weir.executors`` entry point so
the client never imports the runtime.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Protocol

from weir.common.configuration import Configuration
from weir.common.job_client import JobClient
from weir.proto import jobmanager_pb2 as pb
from weir.rpc.client import JobManagerClient
from weir.rpc.errors import WeirError

__all__ = [
    "ExecutorFactory",
    "PipelineExecutor",
    "RemoteExecutor",
    "SubmissionContext",
    "executor_for",
    "submission_context",
]

JOBMANAGER_ENV = "WEIR_JOBMANAGER"
TOKEN_ENV = "WEIR_TOKEN"


class PipelineExecutor(Protocol):
    def execute(self, job_graph: pb.JobGraph, *, collect: bool = False) -> JobClient: ...


class ExecutorFactory(Protocol):
    def __call__(self, configuration: Configuration) -> PipelineExecutor: ...


class RemoteExecutor:
    """Submits to a running JobManager; ``on_submitted`` is called with each new job's id."""

    def __init__(self, address: str, token: str | None = None, detached: bool = False,
                 on_submitted: Callable[[str], None] | None = None) -> None:
        self._address = address
        self._token = token
        self._detached = detached
        self._on_submitted = on_submitted

    def execute(self, job_graph: pb.JobGraph, *, collect: bool = False) -> JobClient:
        rpc = JobManagerClient(self._address, self._token)
        job_id = rpc.submit_job(job_graph)
        if self._on_submitted is not None:
            self._on_submitted(job_id)
        return JobClient(job_id, rpc, follow=not self._detached or collect, collect=collect)


@dataclass
class SubmissionContext:
    """Set by ``weir run`` around the user's program.

    ``on_submitted`` is told each job id as soon as the JobManager accepted the
    job (``weir run`` prints it, as ``flink run`` does, before following the job).
    """

    address: str
    token: str | None = None
    parallelism: int | None = None
    detached: bool = False
    on_submitted: Callable[[str], None] | None = None
    submitted_job_ids: list[str] = field(default_factory=list)

    def job_submitted(self, job_id: str) -> None:
        self.submitted_job_ids.append(job_id)
        if self.on_submitted is not None:
            self.on_submitted(job_id)


_context: contextvars.ContextVar[SubmissionContext | None] = contextvars.ContextVar(
    "weir_submission_context", default=None)


@contextlib.contextmanager
def submission_context(context: SubmissionContext) -> Iterator[SubmissionContext]:
    token = _context.set(context)
    try:
        yield context
    finally:
        _context.reset(token)


def current_submission_context() -> SubmissionContext | None:
    return _context.get()


def executor_for(configuration: Configuration) -> PipelineExecutor:
    """The executor for a job with this configuration (see the module docstring)."""
    context = _context.get()
    if context is not None:
        return RemoteExecutor(context.address, context.token, context.detached,
                              context.job_submitted)
    address = os.environ.get(JOBMANAGER_ENV) or configuration.get_string("jobmanager.address")
    if address:
        return RemoteExecutor(address, os.environ.get(TOKEN_ENV))
    found = entry_points(group="weir.executors", name="local")
    if not found:
        raise WeirError("no JobManager configured and the embedded cluster is not installed: "
                        "set WEIR_JOBMANAGER=HOST:PORT or install weir with its runtime")
    factory: ExecutorFactory = next(iter(found)).load()
    return factory(configuration)
