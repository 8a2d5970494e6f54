"""``weir run``: run a user's program in this process, its jobs sent to a JobManager.

The program runs as ``__main__`` (so cloudpickle ships its functions by
value) inside a ``SubmissionContext``: every ``env.execute()`` it makes
submits to the JobManager named on the command line.
"""

from __future__ import annotations

import contextlib
import functools
import os
import runpy
import sys
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO

from weir.common.job_client import JobExecutionException
from weir.config import ConfigError
from weir.executors import SavepointRestoreSettings, SubmissionContext, submission_context
from weir.graph.generator import InvalidJobError
from weir.proto import jobmanager_pb2 as pb
from weir.rpc.client import JobManagerClient
from weir.rpc.errors import WeirError

__all__ = ["RunOptions", "run_program"]

EXIT_USAGE = 2


@dataclass(frozen=True)
class RunOptions:
    """What ``weir run`` was asked to do."""

    file: str
    address: str
    token: str | None = None
    parallelism: int | None = None
    detached: bool = False
    job_args: Sequence[str] = field(default_factory=tuple)
    restore: SavepointRestoreSettings = field(default_factory=SavepointRestoreSettings)
    tls_ca: bytes | None = None  # PEM the JobManager's certificate chains to; None: plain gRPC


def run_program(options: RunOptions, out: IO[str], err: IO[str]) -> int:
    """Run the program, then report its jobs; returns the exit code.

    Steps:
        1. check that the file exists (exit 2 if not);
        2. run it under a SubmissionContext (attached: each ``execute()`` blocks
           while the job's print() lines stream to ``out``);
        3. a failed job prints its cause to ``err`` (exit 1); an exception of the
           program prints the program's traceback (exit 1); weir's own errors
           propagate to the caller, which prints them as ``error: ...``;
        4. report how each job ended (attached; its id was printed at submission).

    Raises:
        WeirError: the JobManager is unreachable, rejected the token, ...
        InvalidJobError: the program's job cannot run as defined.
        KeyboardInterrupt: the user interrupted the program.
    """
    if not os.path.isfile(options.file):
        err.write(f"error: no such file: {options.file}\n")
        return EXIT_USAGE
    context = SubmissionContext(options.address, options.token, options.parallelism,
                                options.detached, functools.partial(_announce, out),
                                options.restore, tls_ca=options.tls_ca)
    try:
        with submission_context(context), _program_environment(options.file, options.job_args):
            # An absolute path, as ``python FILE`` gives ``__main__`` since 3.9: the program's
            # functions then name their file absolutely in tracebacks made on TaskManagers.
            runpy.run_path(os.path.abspath(options.file), run_name="__main__")
    except SystemExit as exit_request:
        code = _exit_code(exit_request, err)
        if code != 0:
            return code
    except JobExecutionException as failure:
        out.flush()
        err.write(f"{failure}\n")
        return 1
    except KeyboardInterrupt:
        _hint_running_jobs(context, err)
        raise
    except Exception as error:
        if _is_weir_error(error):
            raise
        out.flush()
        err.write(_program_traceback(error, options.file))
        return 1
    return _report(context, options.file, out, err)


@contextlib.contextmanager
def _program_environment(path: str, job_args: Sequence[str]) -> Iterator[None]:
    """``sys.argv`` and ``sys.path[0]`` as ``python FILE ARGS...`` would set them."""
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [path, *job_args]
    folder = os.path.dirname(os.path.abspath(path))
    if sys.path:
        sys.path[0] = folder
    else:
        sys.path.append(folder)
    try:
        yield
    finally:
        sys.argv = saved_argv
        sys.path[:] = saved_path


def _is_weir_error(error: Exception) -> bool:
    return isinstance(error, (WeirError, InvalidJobError, ConfigError))


def _exit_code(exit_request: SystemExit, err: IO[str]) -> int:
    code = exit_request.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    err.write(f"{code}\n")
    return 1


def _program_traceback(error: BaseException, path: str) -> str:
    """The traceback from the program's own first frame on (weir's runner frames cut off)."""
    target = os.path.abspath(path)
    frame = error.__traceback__
    while frame is not None and os.path.abspath(frame.tb_frame.f_code.co_filename) != target:
        frame = frame.tb_next
    if frame is None:  # e.g. a SyntaxError: the message already names file and line
        return "".join(traceback.format_exception_only(type(error), error))
    return "".join(traceback.format_exception(type(error), error, frame))


def _report(context: SubmissionContext, path: str, out: IO[str], err: IO[str]) -> int:
    if not context.submitted_job_ids:
        err.write(f"error: {path} did not submit a job: a weir program defines a job and "
                  "calls env.execute()\n")
        return 1
    if context.detached:
        return 0
    code = 0
    with JobManagerClient(context.address, context.token,
                          tls_root_certificates=context.tls_ca) as rpc:
        for job_id in context.submitted_job_ids:
            code = max(code, _report_attached(rpc.get_job(job_id), out, err))
    return code


def _announce(out: IO[str], job_id: str) -> None:
    out.write(f"Job has been submitted with JobID {job_id}\n")
    out.flush()


def _report_attached(job: pb.JobDetails, out: IO[str], err: IO[str]) -> int:
    state = pb.JobState.Name(job.state)
    if job.state == pb.FINISHED:
        out.write(f"Job {job.job_id} finished in {job.end_time - job.start_time:.2f} s\n")
        return 0
    if job.state in (pb.FAILED, pb.CANCELED):
        out.flush()
        err.write(f"Job {job.job_id} {state.lower()}\n")
        return 1
    out.write(f"Job {job.job_id} is {state.lower()}: `weir status {job.job_id}` follows it\n")
    return 0


def _hint_running_jobs(context: SubmissionContext, err: IO[str]) -> None:
    """Interrupting ``weir run`` stops following the job, not the job itself."""
    if context.detached or not context.submitted_job_ids:
        return
    job_id = context.submitted_job_ids[-1]
    err.write(f"\nInterrupted: job {job_id} was not cancelled "
              f"(`weir cancel {job_id}` stops it).\n")
