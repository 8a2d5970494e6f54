"""``weir savepoint``, ``weir stop`` and ``weir checkpoints``: a job's snapshots.

As in Flink's CLI, a savepoint is taken of a running job into a directory
(else the JobManager's ``state.savepoints.dir``), ``stop`` takes one and then
ends the job (FINISHED), and ``weir run -s PATH`` resumes from it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import IO

from weir.checkpoint import CheckpointStorageError, parse_storage_uri
from weir.cli.tables import (
    MAX_CELL_WIDTH,
    RIGHT,
    format_bytes,
    format_duration,
    format_timestamp,
    render_table,
)
from weir.common.job_status import JobStatus
from weir.proto import jobmanager_pb2 as pb
from weir.rpc.client import JobManagerClient
from weir.rpc.errors import WeirError

__all__ = [
    "checkpoint_status_name",
    "checkpoints_table",
    "list_checkpoints",
    "stop_job",
    "storage_location",
    "trigger_savepoint",
    "wait_until_ended",
]

STOP_TIMEOUT_S = 60.0
_POLL_S = 0.1
_NONE = "-"


def storage_location(text: str, what: str) -> str:
    """``text`` as the JobManager reads it: ``s3://…`` and ``file://…`` unchanged, a plain
    path made absolute here (the JobManager runs in another directory).

    Raises:
        WeirError: an unsupported scheme, an S3 URI without a bucket, ...
    """
    try:
        return str(parse_storage_uri(text))
    except CheckpointStorageError as error:
        raise WeirError(f"invalid {what}: {error}") from None


def trigger_savepoint(rpc: JobManagerClient, job_id: str, target_directory: str | None,
                      out: IO[str]) -> int:
    """Take a savepoint of the running job and print its path."""
    target = _target(target_directory)
    out.write(f"Triggering savepoint for job {job_id}.\n")
    out.flush()
    path = rpc.trigger_savepoint(job_id, target)
    out.write(f"Savepoint completed. Path: {path}\n"
              f"Resume a job from it with: weir run --from-savepoint {path} FILE\n")
    return 0


def stop_job(rpc: JobManagerClient, job_id: str, target_directory: str | None, out: IO[str],
             timeout_s: float = STOP_TIMEOUT_S) -> int:
    """Stop the job with a savepoint: print the savepoint's path, then wait (up to
    ``timeout_s``) until the job ended, as ``flink stop`` does."""
    target = _target(target_directory)
    out.write(f"Suspending job {job_id} with a savepoint.\n")
    out.flush()
    path = rpc.trigger_savepoint(job_id, target, stop=True)
    out.write(f"Savepoint completed. Path: {path}\n")
    out.flush()
    job = wait_until_ended(rpc, job_id, timeout_s)
    state = pb.JobState.Name(job.state)  # type: ignore[arg-type]
    if JobStatus(job.state).is_globally_terminal_state():
        out.write(f"Job {job_id} is {state}.\n")
    else:
        out.write(f"Job {job_id} is still {state} after {timeout_s:.0f} s: "
                  f"`weir status {job_id}` follows it\n")
    return 0


def _target(directory: str | None) -> str:
    """The savepoint directory to send; "" lets the JobManager use state.savepoints.dir."""
    return storage_location(directory, "savepoint directory") if directory else ""


def wait_until_ended(rpc: JobManagerClient, job_id: str, timeout_s: float,
                     clock: Callable[[], float] = time.monotonic,
                     sleep: Callable[[float], None] = time.sleep) -> pb.JobDetails:
    """The job once it reached a terminal state, or as it is at the deadline."""
    deadline = clock() + timeout_s
    while True:
        job = rpc.get_job(job_id)
        if JobStatus(job.state).is_globally_terminal_state() or clock() >= deadline:
            return job
        sleep(_POLL_S)


def list_checkpoints(rpc: JobManagerClient, job_id: str, out: IO[str]) -> int:
    """Print the job's recent checkpoints and savepoints, oldest first."""
    out.write(checkpoints_table(rpc.list_checkpoints(job_id)) + "\n")
    return 0


def checkpoint_status_name(status: int) -> str:
    """COMPLETED, FAILED or IN_PROGRESS."""
    return pb.CheckpointStatus.Name(status).removeprefix("CHECKPOINT_")  # type: ignore[arg-type]


def checkpoints_table(checkpoints: Sequence[pb.CheckpointInfo]) -> str:
    """One row per checkpoint: id, status, kind, trigger time, duration, size, path and
    why it failed; sizes are those of completed checkpoints."""
    if not checkpoints:
        return "No checkpoints."
    rows = [(str(c.id), checkpoint_status_name(c.status),
             "savepoint" if c.is_savepoint else "checkpoint",
             format_timestamp(c.trigger_time), format_duration(c.duration_ms / 1000),
             format_bytes(c.size_bytes) if c.status == pb.COMPLETED else _NONE,
             c.path or _NONE, c.failure_reason or _NONE)
            for c in sorted(checkpoints, key=lambda c: c.id)]
    headers = ("ID", "STATUS", "KIND", "TRIGGERED", "DURATION", "SIZE", "PATH", "FAILURE")
    # A path is only useful whole; the failure, last, pads nothing.
    return render_table(headers, rows, align=(RIGHT, "<", "<", "<", RIGHT, RIGHT, "<", "<"),
                        max_widths=(MAX_CELL_WIDTH,) * 6 + (None, None))
