"""What checkpointing costs: W1 (1-minute event-time windows, heap state) at parallelism 2
without checkpoints, and with EXACTLY_ONCE checkpoints every second to ``file://`` and to
``s3://`` (a local moto_server process, which shares the 2 cores with the job), beside the
plain-Python loop. Prints medians of several runs, the overhead against no checkpoints and
the checkpoints' durations and sizes as the JobManager recorded them.

Usage: python benchmarks/checkpoints.py [--events N] [--runs R] [--interval-ms MS]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import Configure, Run, local_cluster, run_job
from workloads import build_w1, plain_w1

from tests.fixtures.s3 import MotoServer
from weir.datastream import CheckpointingMode, StreamExecutionEnvironment
from weir.proto import jobmanager_pb2 as pb
from weir.rpc.client import JobManagerClient

PARALLELISM = 2


def checkpointing_to(directory: str, interval_ms: int,
                     options: dict[str, str] | None = None) -> Configure:
    def configure(env: StreamExecutionEnvironment) -> None:
        env.enable_checkpointing(interval_ms, CheckpointingMode.EXACTLY_ONCE)
        env.get_checkpoint_config().set_checkpoint_storage_dir(directory)
        for key, value in (options or {}).items():
            env.get_config().set_string(key, value)
    return configure


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def checkpoint_summary(client: JobManagerClient, runs: list[Run]) -> str:
    history = [c for run in runs for c in client.list_checkpoints(run.job_id)]
    completed = [c for c in history if c.status == pb.COMPLETED]
    failed = sum(c.status == pb.CHECKPOINT_FAILED for c in history)
    if not completed:
        return "no checkpoints completed"
    durations = [c.duration_ms for c in completed]
    return (f"{len(completed) / len(runs):.1f} checkpoints/run, duration median "
            f"{statistics.median(durations):.0f} ms (max {max(durations)} ms), size median "
            f"{statistics.median(c.size_bytes for c in completed) / 1024:.0f} KiB, "
            f"{failed} failed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=4_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--interval-ms", type=int, default=1000)
    args = parser.parse_args()
    n = args.events

    started = time.perf_counter()
    expected = plain_w1(n)
    loop_rate = n / (time.perf_counter() - started)
    print(f"W1 plain Python loop: {loop_rate:>12,.0f} events/s", flush=True)
    with tempfile.TemporaryDirectory() as scratch, local_cluster() as cluster:
        moto = MotoServer(Path(scratch) / "moto_server.log").start()
        bucket = moto.create_bucket()
        variants: dict[str, Configure | None] = {
            "no checkpoints": None,
            "file://": checkpointing_to(Path(scratch, "chk").as_uri(), args.interval_ms),
            "s3:// (moto)": checkpointing_to(f"s3://{bucket}/chk", args.interval_ms,
                                             moto.configuration),
        }
        runs: dict[str, list[Run]] = {name: [] for name in variants}
        moto_cpu_s = 0.0
        try:
            for _ in range(args.runs):  # interleaved, so drift affects every variant alike
                for name, configure in variants.items():
                    before = cpu_seconds(moto.pid or 0)
                    runs[name].append(run_job(f"W1-{name}", build_w1, n, PARALLELISM, configure))
                    if name.startswith("s3"):
                        moto_cpu_s += cpu_seconds(moto.pid or 0) - before
            report(runs, expected, JobManagerClient(cluster.address, cluster.token))
            s3_time_s = sum(n / run.events_per_s for run in runs["s3:// (moto)"])
            print(f"moto_server used {moto_cpu_s / args.runs:.2f} CPU s per S3 run "
                  f"({100 * moto_cpu_s / s3_time_s:.0f}% of one core while the job ran)")
        finally:
            moto.stop()
    return 0


def median_rate(runs: list[Run]) -> float:
    return statistics.median(run.events_per_s for run in runs)


def report(runs: dict[str, list[Run]], expected: tuple[int, float],
           client: JobManagerClient) -> None:
    baseline = median_rate(runs["no checkpoints"])
    for name, variant_runs in runs.items():
        rate = median_rate(variant_runs)
        wrong = [r for r in variant_runs if not r.matches(expected)]
        line = (f"W1 p={PARALLELISM} {name:<15} {rate:>12,.0f} events/s  "
                f"(runs: {', '.join(f'{r.events_per_s:,.0f}' for r in variant_runs)})  "
                f"{'MISMATCH' if wrong else 'OK'}")
        if name != "no checkpoints":
            line += (f"  overhead {100 * (1 - rate / baseline):.1f}%  "
                     f"{checkpoint_summary(client, variant_runs)}")
        print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
