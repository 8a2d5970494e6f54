"""``weir list``, ``weir status`` and ``weir cancel``: what the JobManager knows about jobs.

The rendering functions are pure (they take the proto messages and the current
time) so they can be tested without a JobManager.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO, TYPE_CHECKING

from weir.cli.tables import (
    MAX_CELL_WIDTH,
    RIGHT,
    escape_control,
    format_bytes,
    format_count,
    format_duration,
    format_timestamp,
    render_table,
)
from weir.proto import jobmanager_pb2 as pb
from weir.rpc.client import JobManagerClient

if TYPE_CHECKING:
    from weir.cli.metrics import SourceLag

__all__ = [
    "cancel_job",
    "describe_job",
    "execution_state_name",
    "job_details_text",
    "job_duration",
    "job_state_name",
    "jobs_table",
    "list_jobs",
    "short_cause",
]

_NONE = "-"
# Chained vertices have long names ("Source: x -> Map -> Sink: y"): let them be wider.
_VERTEX_NAME_WIDTH = 2 * MAX_CELL_WIDTH


def list_jobs(rpc: JobManagerClient, out: IO[str], now: float) -> int:
    """Print every job the JobManager knows, oldest first."""
    out.write(jobs_table(rpc.list_jobs(), now) + "\n")
    return 0


def describe_job(rpc: JobManagerClient, job_id: str, out: IO[str], now: float,
                 lag: SourceLag | None = None) -> int:
    """Print one job: its header (with its last checkpoint and, given ``lag``, its
    sources' lag), its vertices and subtasks, and its failure cause."""
    job = rpc.get_job(job_id)
    completed = [c for c in rpc.list_checkpoints(job_id)
                 if c.status == pb.COMPLETED and not c.is_savepoint]
    last = max(completed, key=lambda c: c.id) if completed else None
    out.write(job_details_text(job, now, last, lag) + "\n")
    return 0


def cancel_job(rpc: JobManagerClient, job_id: str, out: IO[str]) -> int:
    """Cancel the job; the JobManager refuses (a WeirError saying the job's state) when
    it already ended."""
    rpc.cancel_job(job_id)
    out.write(f"Cancelled job {job_id}.\n")
    return 0


def job_state_name(state: int) -> str:
    return pb.JobState.Name(state)  # type: ignore[arg-type]


def execution_state_name(state: int) -> str:
    return pb.ExecutionState.Name(state).removeprefix("TASK_")  # type: ignore[arg-type]


def job_duration(start_time: float, end_time: float, now: float) -> str:
    """How long the job ran (until now when it has not ended)."""
    if start_time <= 0:
        return _NONE
    return format_duration((end_time if end_time > 0 else now) - start_time)


def jobs_table(jobs: Sequence[pb.JobSummary], now: float) -> str:
    if not jobs:
        return "No jobs."
    rows = [(job.job_id, job.name, job_state_name(job.state), format_timestamp(job.start_time),
             job_duration(job.start_time, job.end_time, now))
            for job in sorted(jobs, key=lambda j: (j.start_time, j.job_id))]
    return render_table(("JOB ID", "NAME", "STATE", "START", "DURATION"), rows)


def job_details_text(job: pb.JobDetails, now: float,
                     last_checkpoint: pb.CheckpointInfo | None = None,
                     lag: SourceLag | None = None) -> str:
    sections = [_header(job, now, last_checkpoint, lag)]
    if job.vertices:
        sections.append(_vertices_table(job.vertices))
    if job.failure_cause:
        cause = "\n".join(map(escape_control, job.failure_cause.rstrip().splitlines()))
        sections.append("Failure cause:\n" + cause)
    return "\n\n".join(sections)


def short_cause(cause: str) -> str:
    """The last non-empty line of a traceback (``ValueError: bad record``); ``-`` if none."""
    lines = [line.strip() for line in cause.splitlines() if line.strip()]
    return lines[-1] if lines else _NONE


def _header(job: pb.JobDetails, now: float, last_checkpoint: pb.CheckpointInfo | None,
            lag: SourceLag | None) -> str:
    counts = job.checkpoints
    fields = [
        ("Job ID", job.job_id),
        ("Name", job.name),
        ("State", job_state_name(job.state)),
        ("Start", format_timestamp(job.start_time)),
        ("End", format_timestamp(job.end_time)),
        ("Duration", job_duration(job.start_time, job.end_time, now)),
        ("Restarts", str(job.num_restarts)),
        ("Last restart cause", short_cause(job.last_restart_cause)),
        ("Checkpoints", (f"{counts.completed} completed, {counts.failed} failed, "
                         f"{counts.in_progress} in progress")),
        ("Latest checkpoint", f"{counts.latest_completed_id} {counts.latest_completed_path}"
                              if counts.latest_completed_id else _NONE),
        ("Restored from", f"{counts.restored_id} {counts.restored_path}".rstrip()
                          if counts.restored_id else _NONE),
        ("Last checkpoint", _last_checkpoint(last_checkpoint, now)),
        ("Source lag", _lag(lag)),
    ]
    width = max(len(label) for label, _ in fields) + 1
    return "\n".join(f"{label + ':':<{width}} {escape_control(value)}"
                     for label, value in fields)


def _last_checkpoint(checkpoint: pb.CheckpointInfo | None, now: float) -> str:
    if checkpoint is None:
        return _NONE
    return (f"{checkpoint.id}, {format_duration(max(0.0, now - checkpoint.trigger_time))} ago, "
            f"took {format_duration(checkpoint.duration_ms / 1000)}, "
            f"{format_bytes(checkpoint.size_bytes)}")


def _lag(lag: SourceLag | None) -> str:
    if lag is None:
        return _NONE
    text = (f"{format_count(int(lag.pending_records))} records pending "
            f"(max {format_count(int(lag.max_partition_lag))} in a partition)")
    if lag.emit_lag_ms is not None:
        text += f", emitted {format_duration(lag.emit_lag_ms / 1000)} after written"
    return text


def _vertices_table(vertices: Sequence[pb.VertexDetails]) -> str:
    rows: list[tuple[str, ...]] = []
    for vertex in vertices:
        subtasks = sorted(vertex.subtasks, key=lambda s: s.index)
        if not subtasks:
            rows.append((vertex.name, str(vertex.parallelism)) + (_NONE,) * 5)
        for position, subtask in enumerate(subtasks):
            first = position == 0
            rows.append((
                vertex.name if first else "",
                str(vertex.parallelism) if first else "",
                str(subtask.index),
                execution_state_name(subtask.state),
                subtask.taskmanager or _NONE,
                format_count(subtask.records_in),
                format_count(subtask.records_out),
            ))
    headers = ("VERTEX", "PARALLELISM", "SUBTASK", "STATE", "TASKMANAGER", "RECORDS IN",
               "RECORDS OUT")
    return render_table(headers, rows, align=("<", RIGHT, RIGHT, "<", "<", RIGHT, RIGHT),
                        max_widths=(_VERTEX_NAME_WIDTH,) + (MAX_CELL_WIDTH,) * 6)
