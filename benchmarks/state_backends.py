"""W1 (1-minute event-time windows, keyed aggregate) on the heap and the RocksDB state
backends in the same session, runs interleaved, beside the plain-Python loop; prints the
median events/s of each backend, its share of the heap's, and the resident memory (RSS) of
the cluster's processes over the runs (sampled every 100 ms: median and peak).

Usage: python benchmarks/state_backends.py [--events N] [--runs R] [--parallelism P]
                                           [--backends hashmap,rocksdb]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import Configure, Run, local_cluster, run_job
from workloads import build_w1, plain_w1

from tests.fixtures.processes import descendants, resident_bytes
from weir.datastream import (
    EmbeddedRocksDBStateBackend,
    HashMapStateBackend,
    StreamExecutionEnvironment,
)

BACKENDS = {"hashmap": HashMapStateBackend, "rocksdb": EmbeddedRocksDBStateBackend}


def with_backend(name: str) -> Configure:
    def configure(env: StreamExecutionEnvironment) -> None:
        env.set_state_backend(BACKENDS[name]())
    return configure


def tree_rss_bytes(root: int) -> int:
    """Resident memory of ``root`` and all its descendants (Ray's workers included)."""
    total = 0
    for pid in [root, *descendants(root)]:
        try:
            total += resident_bytes(pid)
        except (OSError, ValueError):
            continue  # exited meanwhile
    return total


@contextmanager
def sampling_rss(samples: list[int], interval_s: float = 0.1) -> Iterator[None]:
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(interval_s):
            samples.append(tree_rss_bytes(os.getpid()))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--parallelism", type=int, default=2)
    parser.add_argument("--backends", default="hashmap,rocksdb")
    args = parser.parse_args()
    n, names = args.events, args.backends.split(",")

    started = time.perf_counter()
    expected = plain_w1(n)
    print(f"W1 plain Python loop: {n / (time.perf_counter() - started):>12,.0f} events/s",
          flush=True)
    runs: dict[str, list[Run]] = {name: [] for name in names}
    rss: dict[str, list[int]] = {name: [] for name in names}
    with local_cluster():
        print(f"cluster idle RSS: {tree_rss_bytes(os.getpid()) / 2**20:,.0f} MiB", flush=True)
        for _ in range(args.runs):
            for name in names:  # interleaved: drift on a shared machine hits both alike
                with sampling_rss(rss[name]):
                    runs[name].append(run_job(f"W1-{name}", build_w1, n, args.parallelism,
                                              with_backend(name)))
    heap = statistics.median(r.events_per_s for r in runs[names[0]])
    for name in names:
        rates = [r.events_per_s for r in runs[name]]
        wrong = [r for r in runs[name] if not r.matches(expected)]
        rate = statistics.median(rates)
        print(f"W1 p={args.parallelism} {name:<8} {rate:>12,.0f} events/s "
              f"({rate / heap:.0%} of {names[0]})  runs: {', '.join(f'{r:,.0f}' for r in rates)}"
              f"  RSS median {statistics.median(rss[name] or [0]) / 2**20:,.0f} MiB, peak "
              f"{max(rss[name] or [0]) / 2**20:,.0f} MiB  "
              f"{'MISMATCH' if wrong else 'OK'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
