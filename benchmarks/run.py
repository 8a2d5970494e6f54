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
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import local_cluster, run_job
from workloads import WORKLOADS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workloads", default="W1,W2")
    parser.add_argument("--parallelism", default="1,2")
    args = parser.parse_args()
    n = args.events

    with local_cluster():
        for name in args.workloads.split(","):
            build, plain = WORKLOADS[name]
            timings = []
            for _ in range(args.runs):
                t = time.perf_counter()
                expected = plain(n)
                timings.append(time.perf_counter() - t)
            print(f"{name} plain Python loop: {n / statistics.median(timings):>12,.0f} events/s  "
                  f"results={expected[0]} checksum={expected[1]:.1f}", flush=True)
            for parallelism in (int(p) for p in args.parallelism.split(",")):
                runs = [run_job(f"{name}-p{parallelism}", build, n, parallelism)
                        for _ in range(args.runs)]
                rates = [r.events_per_s for r in runs]
                wrong = [r for r in runs if not r.matches(expected)]
                status = f"MISMATCH {wrong[0].results} {wrong[0].checksum}" if wrong else "OK"
                print(f"{name} weir p={parallelism}:      {statistics.median(rates):>12,.0f} "
                      f"events/s  (runs: {', '.join(f'{r:,.0f}' for r in rates)})  "
                      f"results={runs[-1].results} checksum={runs[-1].checksum:.1f} {status}",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
