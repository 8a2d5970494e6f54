"""Runs W1 and W2 on a local cluster (2 TaskManagers) at parallelism 1 and 2, beside the
plain-Python loop, and prints medians of several runs.

Usage: python benchmarks/run.py [--events N] [--runs R] [--workloads W1,W2] [--parallelism 1,2]

events/s = N / job run time (JobManager's submit-to-finish time, cluster already up);
cluster start-up is reported separately.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from workloads import WORKLOADS, read_counts  # noqa: E402

from weir.datastream import StreamExecutionEnvironment  # noqa: E402
from weir.jobmanager.local_cluster import LocalCluster  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workloads", default="W1,W2")
    parser.add_argument("--parallelism", default="1,2")
    args = parser.parse_args()
    n = args.events

    started = time.perf_counter()
    cluster = LocalCluster(taskmanagers=2, slots=2).start()
    print(f"cluster start-up: {time.perf_counter() - started:.2f} s (Ray, JobManager, "
          "2 TaskManagers)")
    os.environ["WEIR_JOBMANAGER"] = cluster.address
    os.environ["WEIR_TOKEN"] = cluster.token
    try:
        for name in args.workloads.split(","):
            build, plain = WORKLOADS[name]
            timings = []
            for _ in range(args.runs):
                t = time.perf_counter()
                expected = plain(n)
                timings.append(time.perf_counter() - t)
            print(f"{name} plain Python loop: {n / statistics.median(timings):>12,.0f} events/s  "
                  f"results={expected[0]} checksum={expected[1]:.1f}")
            for parallelism in (int(p) for p in args.parallelism.split(",")):
                rates = []
                for _ in range(args.runs):
                    with tempfile.TemporaryDirectory() as out_dir:
                        env = StreamExecutionEnvironment.get_execution_environment()
                        env.set_parallelism(parallelism)
                        build(env, n, out_dir)
                        result = env.execute(f"{name}-p{parallelism}")
                        rates.append(n / (result.get_net_runtime() / 1000))
                        got = read_counts(out_dir)
                    status = "OK" if (got[0], round(got[1], 3)) == (expected[0],
                                                                    round(expected[1], 3)) \
                        else f"MISMATCH {got}"
                    sys.stdout.flush()
                print(f"{name} weir p={parallelism}:      {statistics.median(rates):>12,.0f} "
                      f"events/s  (runs: {', '.join(f'{r:,.0f}' for r in rates)})  "
                      f"results={got[0]} checksum={got[1]:.1f} {status}")
    finally:
        cluster.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
