"""Where ``env.execute()`` sends a job (Flink's PipelineExecutor).

In order: the context installed by ``weir run``; a JobManager named by
``WEIR_JOBMANAGER`` or the ``jobmanager.address`` option (its token from ``WEIR_TOKEN``
or the file ``WEIR_TOKEN_FILE``; over TLS trusting the PEM file ``WEIR_TLS_CA`` or
``security.ssl.rest.ca``); otherwise the
embedded local cluster, found through the ``weir.executors`` entry point so
the client never imports the runtime.

A job restores its state from a savepoint named by Flink's keys
``execution.savepoint.path`` and ``execution.savepoint.ignore-unclaimed-state``
in its configuration; ``weir run -s PATH [-n]`` sets the same keys, over the
program's own.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Protocol

from weir.checkpoint.settings import checkpoint_storage_dir
from weir.common.job_client import JobClient
from weir.config import Configuration
from weir.proto import jobmanager_pb2 as pb
from weir.rpc.client import JobManagerClient
from weir.rpc.credentials import resolve_tls_ca, resolve_token
from weir.rpc.errors import WeirError

__all__ = [
    "IGNORE_UNCLAIMED_STATE",
    "SAVEPOINT_PATH",
    "ExecutorFactory",
    "PipelineExecutor",
    "RemoteExecutor",
    "SavepointRestoreSettings",
    "SubmissionContext",
    "executor_for",
    "submission_context",
    "submit_job",
]

JOBMANAGER_ENV = "WEIR_JOBMANAGER"
SAVEPOINT_PATH = "execution.savepoint.path"
IGNORE_UNCLAIMED_STATE = "execution.savepoint.ignore-unclaimed-state"


@dataclass(frozen=True)
class SavepointRestoreSettings:
    """Where a job restores its state from (Flink's ``SavepointRestoreSettings``).

    ``path`` is a savepoint or retained checkpoint directory ("" restores nothing);
    ``allow_non_restored_state`` drops the savepoint's state of operators the job
    no longer has instead of rejecting the job.
    """

    path: str = ""
    allow_non_restored_state: bool = False

    @staticmethod
    def from_configuration(configuration: Mapping[str, str]) -> SavepointRestoreSettings:
        """The settings named by ``execution.savepoint.*`` in ``configuration``; a plain
        local path is made absolute here, where the program runs.

        Raises:
            ConfigError: the path is not a file:// or s3:// location, or
                ``ignore-unclaimed-state`` is not a boolean.
        """
        config = Configuration(configuration)
        return SavepointRestoreSettings(
            checkpoint_storage_dir(config.get_string(SAVEPOINT_PATH), SAVEPOINT_PATH) or "",
            config.get_boolean(IGNORE_UNCLAIMED_STATE, False))

    def to_configuration(self) -> dict[str, str]:
        """The configuration entries for what is set (a path, allowing non-restored state)."""
        entries = {SAVEPOINT_PATH: self.path} if self.path else {}
        if self.allow_non_restored_state:
            entries[IGNORE_UNCLAIMED_STATE] = "true"
        return entries


def submit_job(rpc: JobManagerClient, job_graph: pb.JobGraph,
               overrides: Mapping[str, str] | None = None) -> str:
    """Submit ``job_graph``, restoring from the savepoint its configuration names
    (``overrides``, e.g. those of ``weir run -s``, win over the job's own entries)."""
    restore = SavepointRestoreSettings.from_configuration(
        {**job_graph.configuration, **(overrides or {})})
    return rpc.submit_job(job_graph, restore.path, restore.allow_non_restored_state)


class PipelineExecutor(Protocol):
    def execute(self, job_graph: pb.JobGraph, *, collect: bool = False) -> JobClient: ...


class ExecutorFactory(Protocol):
    def __call__(self, configuration: Configuration) -> PipelineExecutor: ...


class RemoteExecutor:
    """Submits to a running JobManager; ``on_submitted`` is called with each new job's id;
    ``restore`` (from ``weir run -s``) overrides the job's own savepoint settings;
    ``tls_ca`` (PEM) makes the connection TLS."""

    def __init__(self, address: str, token: str | None = None, detached: bool = False,
                 on_submitted: Callable[[str], None] | None = None,
                 restore: SavepointRestoreSettings | None = None,
                 tls_ca: bytes | None = None) -> None:
        self._address = address
        self._token = token
        self._tls_ca = tls_ca
        self._detached = detached
        self._on_submitted = on_submitted
        self._restore = restore or SavepointRestoreSettings()

    def execute(self, job_graph: pb.JobGraph, *, collect: bool = False) -> JobClient:
        rpc = JobManagerClient(self._address, self._token, tls_root_certificates=self._tls_ca)
        job_id = submit_job(rpc, job_graph, self._restore.to_configuration())
        if self._on_submitted is not None:
            self._on_submitted(job_id)
        return JobClient(job_id, rpc, follow=not self._detached or collect, collect=collect)


@dataclass
class SubmissionContext:
    """Set by ``weir run`` around the user's program.

    ``on_submitted`` is told each job id as soon as the JobManager accepted the
    job (``weir run`` prints it, as ``flink run`` does, before following the job).
    ``restore`` is the savepoint of ``weir run -s PATH [-n]``.
    """

    address: str
    token: str | None = None
    parallelism: int | None = None
    detached: bool = False
    on_submitted: Callable[[str], None] | None = None
    restore: SavepointRestoreSettings = field(default_factory=SavepointRestoreSettings)
    submitted_job_ids: list[str] = field(default_factory=list)
    tls_ca: bytes | None = None  # PEM the JobManager's certificate chains to; None: plain gRPC

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
                              context.job_submitted, context.restore, context.tls_ca)
    address = os.environ.get(JOBMANAGER_ENV) or configuration.get_string("jobmanager.address")
    if address:
        return RemoteExecutor(address, resolve_token(None, None, os.environ),
                              tls_ca=resolve_tls_ca(None, os.environ, configuration.to_dict()))
    found = entry_points(group="weir.executors", name="local")
    if not found:
        raise WeirError("no JobManager configured and the embedded cluster is not installed: "
                        "set WEIR_JOBMANAGER=HOST:PORT or install weir with its runtime")
    factory: ExecutorFactory = next(iter(found)).load()
    return factory(configuration)
