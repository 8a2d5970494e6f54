"""``weir``: the command line (parser and dispatch), after Flink's ``flink`` CLI.

Exit codes: 0 success; 1 a failed job, a failing program or an error the
message explains (``error: ...`` on stderr, never a traceback of weir's own);
2 a usage mistake; 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import IO

from weir import __version__
from weir.cli import jobs, metrics, savepoints
from weir.cli.run import RunOptions, run_program
from weir.config import ConfigError
from weir.executors import JOBMANAGER_ENV, SavepointRestoreSettings
from weir.graph.generator import InvalidJobError
from weir.rpc.client import DEFAULT_JOBMANAGER_ADDRESS, JobManagerClient
from weir.rpc.credentials import TLS_CA_ENV, TOKEN_ENV, TOKEN_FILE_ENV, resolve_tls_ca
from weir.rpc.credentials import resolve_token as resolve_token_sources
from weir.rpc.errors import WeirError

__all__ = ["build_parser", "main", "resolve_address", "resolve_token"]

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
JOBMANAGER_COMMAND = "jobmanager"
JOBMANAGER_MODULE = "weir.jobmanager"
_ARGS_SEPARATOR = "--"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``weir`` command line with ``argv`` (default: ``sys.argv[1:]``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args[:1] == [JOBMANAGER_COMMAND]:
            return _exec_jobmanager(args[1:])
        return _dispatch(args, sys.stdout, sys.stderr)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except (WeirError, InvalidJobError, ConfigError) as error:
        sys.stdout.flush()
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="weir", description="Run and manage jobs on a weir stream-processing cluster.")
    parser.add_argument("--version", action="version", version=f"weir {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    connection = argparse.ArgumentParser(add_help=False)
    connection.add_argument(
        "--jobmanager", metavar="HOST:PORT",
        help=f"the JobManager (default: ${JOBMANAGER_ENV}, else {DEFAULT_JOBMANAGER_ADDRESS})")
    token = connection.add_mutually_exclusive_group()
    token.add_argument("--token-file", metavar="PATH",
                       help=f"a file holding the JobManager's bearer token (default: "
                            f"${TOKEN_ENV}, else the file ${TOKEN_FILE_ENV})")
    token.add_argument("--token", metavar="T",
                       help="the token itself (other local users can read it in the process "
                            "list: prefer --token-file)")
    connection.add_argument("--tls-ca", metavar="PEM",
                            help=f"connect over TLS, trusting the certificates in this file "
                                 f"(default: ${TLS_CA_ENV}; without it: plain gRPC)")

    run = commands.add_parser(
        "run", parents=[connection], help="run a Python program; its env.execute() submits",
        usage="weir run FILE [-p N] [-d] [-s PATH [-n]] [--jobmanager HOST:PORT] "
              "[--token-file PATH] [--tls-ca PEM] [-- ARGS ...]",
        epilog="Arguments after -- are passed to the program as sys.argv[1:].")
    run.add_argument("file", metavar="FILE", help="the Python program defining the job")
    run.add_argument("-p", "--parallelism", type=_positive_int, metavar="N",
                     help="default parallelism of the program's jobs")
    run.add_argument("-d", "--detached", action="store_true",
                     help="submit and return without waiting for the job to end")
    run.add_argument("-s", "--from-savepoint", "--fromSavepoint", metavar="PATH",
                     dest="from_savepoint",
                     help="restore the jobs' state from this savepoint or retained checkpoint "
                          "(sets execution.savepoint.path)")
    run.add_argument("-n", "--allow-non-restored-state", "--allowNonRestoredState",
                     action="store_true", dest="allow_non_restored_state",
                     help="skip the savepoint's state of operators the job no longer has "
                          "(sets execution.savepoint.ignore-unclaimed-state)")

    metrics_endpoint = argparse.ArgumentParser(add_help=False)
    metrics_endpoint.add_argument(
        "--metrics", metavar="HOST:PORT",
        help=f"the JobManager's Prometheus endpoint (default: ${metrics.METRICS_ENV}, else "
             f"the JobManager's host, port {metrics.DEFAULT_METRICS_PORT})")

    commands.add_parser("list", parents=[connection], help="list the jobs")
    status = commands.add_parser(
        "status", parents=[connection, metrics_endpoint],
        help="show a job: vertices, subtasks, restarts, checkpoints, source lag, failure cause")
    status.add_argument("job_id", metavar="JOB_ID")
    job_metrics = commands.add_parser(
        "metrics", parents=[connection, metrics_endpoint],
        help="a job's live figures per vertex: rates, backpressure, watermark and source lag, "
             "last checkpoint")
    job_metrics.add_argument("job_id", metavar="JOB_ID")
    job_metrics.add_argument("--watch", nargs="?", const=2.0, type=_positive_float,
                             metavar="SECONDS",
                             help="redraw in place every SECONDS (default 2) until Ctrl-C")
    cancel = commands.add_parser("cancel", parents=[connection], help="cancel a job")
    cancel.add_argument("job_id", metavar="JOB_ID")
    savepoint = commands.add_parser(
        "savepoint", parents=[connection], help="take a savepoint of a running job")
    savepoint.add_argument("job_id", metavar="JOB_ID")
    savepoint.add_argument("target_directory", metavar="TARGET_DIR", nargs="?",
                           help="where the savepoint goes, file:// path or s3:// URI "
                                "(default: the JobManager's state.savepoints.dir)")
    stop = commands.add_parser(
        "stop", parents=[connection],
        help="stop a running job with a savepoint (it ends FINISHED)")
    stop.add_argument("job_id", metavar="JOB_ID")
    stop.add_argument("-p", "--savepoint-path", "--savepointPath", metavar="DIR",
                      dest="savepoint_path",
                      help="where the savepoint goes (default: state.savepoints.dir)")
    checkpoints = commands.add_parser(
        "checkpoints", parents=[connection],
        help="list a job's recent checkpoints and savepoints")
    checkpoints.add_argument("job_id", metavar="JOB_ID")
    commands.add_parser(
        JOBMANAGER_COMMAND, add_help=False,
        help=f"start a JobManager (arguments go to `python -m {JOBMANAGER_MODULE}`; "
             "see `weir jobmanager --help`)")
    return parser


def resolve_address(option: str | None, environ: Mapping[str, str]) -> str:
    """The JobManager address: ``--jobmanager``, else ``$WEIR_JOBMANAGER``, else the default.

    Raises:
        WeirError: the address is not HOST:PORT.
    """
    address = option or environ.get(JOBMANAGER_ENV) or DEFAULT_JOBMANAGER_ADDRESS
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        source = "--jobmanager" if option else JOBMANAGER_ENV
        raise WeirError(f"{source} must be HOST:PORT, got {address!r}")
    return address


def resolve_token(option: str | None, environ: Mapping[str, str],
                  token_file: str | None = None) -> str | None:
    """The bearer token: ``--token``, else the file ``--token-file``, else ``$WEIR_TOKEN``,
    else the file ``$WEIR_TOKEN_FILE``, else none.

    Raises:
        ConfigError: a token file that cannot be read or holds no token.
    """
    return resolve_token_sources(option, token_file, environ)


def _dispatch(args: list[str], out: IO[str], err: IO[str]) -> int:
    own, job_args = _split_job_args(args)
    parser = build_parser()
    try:
        options, unknown = parser.parse_known_args(own)
        if unknown or (job_args and options.command != "run"):
            hint = " (pass the program's own arguments after --)" \
                if options.command == "run" else ""
            parser.error(f"unrecognized arguments: {' '.join(unknown + job_args)}{hint}")
    except SystemExit as exit_request:  # --help, --version and usage errors
        return exit_request.code if isinstance(exit_request.code, int) else EXIT_USAGE

    address = resolve_address(options.jobmanager, os.environ)
    token = resolve_token(options.token, os.environ, options.token_file)
    tls_ca = resolve_tls_ca(options.tls_ca, os.environ)
    if options.command == "run":
        return run_program(RunOptions(options.file, address, token, options.parallelism,
                                      options.detached, tuple(job_args), _restore(options),
                                      tls_ca),
                           out, err)
    if options.command in ("status", "metrics"):
        options.metrics = metrics.resolve_metrics_address(options.metrics, address, os.environ)
    with JobManagerClient(address, token, tls_root_certificates=tls_ca) as rpc:
        return _run_command(rpc, options, out)


def _run_command(rpc: JobManagerClient, options: argparse.Namespace, out: IO[str]) -> int:
    command = options.command
    if command == "list":
        return jobs.list_jobs(rpc, out, time.time())
    if command == "status":
        return jobs.describe_job(rpc, options.job_id, out, time.time(),
                                 _source_lag(options.metrics, options.job_id))
    if command == "metrics":
        return metrics.show_metrics(rpc, options.metrics, options.job_id, out, options.watch)
    if command == "cancel":
        return jobs.cancel_job(rpc, options.job_id, out)
    if command == "savepoint":
        return savepoints.trigger_savepoint(rpc, options.job_id, options.target_directory, out)
    if command == "stop":
        return savepoints.stop_job(rpc, options.job_id, options.savepoint_path, out)
    return savepoints.list_checkpoints(rpc, options.job_id, out)


def _source_lag(metrics_address: str, job_id: str) -> metrics.SourceLag | None:
    """The job's source lag for ``weir status``; None without one or without metrics."""
    try:
        return metrics.source_lag(metrics.fetch_samples(metrics_address, timeout_s=2), job_id)
    except WeirError:
        return None


def _restore(options: argparse.Namespace) -> SavepointRestoreSettings:
    path = options.from_savepoint
    return SavepointRestoreSettings(
        savepoints.storage_location(path, "savepoint path") if path else "",
        options.allow_non_restored_state)


def _split_job_args(args: list[str]) -> tuple[list[str], list[str]]:
    if _ARGS_SEPARATOR not in args:
        return args, []
    at = args.index(_ARGS_SEPARATOR)
    return args[:at], args[at + 1:]


def _exec_jobmanager(args: list[str]) -> int:
    """Replace this process with the JobManager (does not return unless exec fails)."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(sys.executable, [sys.executable, "-m", JOBMANAGER_MODULE, *args])
    except OSError as error:
        raise WeirError(f"cannot start the JobManager ({sys.executable}: {error})") from None
    return EXIT_ERROR  # not reached


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


if __name__ == "__main__":
    sys.exit(main())
