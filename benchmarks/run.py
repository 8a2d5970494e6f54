"""``make bench``: W1 and W2 at each parallelism beside the plain-Python loop, and the paced
latency run, on one local cluster (2 TaskManagers × 2 slots); prints one table and writes it,
with every run's figures, to ``benchmarks/results/<UTC time>-<git rev>.json``.

Each of ``--rounds`` rounds runs every plain loop and every (workload, parallelism) job once,
in reverse order every other round; the table shows medians over the rounds. events/s =
N / the JobManager's submit-to-finish time (the cluster is up before any timing starts);
"vs loop" = events/s ÷ the plain loop's events/s in the same round; CPU = user+system time of
the TaskManager processes per event (for a plain loop: its own thread's). The paced run
(benchmarks/latency.py) runs once, after the rounds.

"W1 loop ×2" is the plain loop split over two processes by event (no exchange at all, no
weir): the most any p=2 could reach on this machine, since two busy cores run Python slower
than one (shared cache and memory, clock). "W1 keyed ×2" adds the least a keyed exchange
costs: the same two processes send each other the events of the other's users over TCP
(benchmarks/keyed_loop.py), the most a keyed p=2 could reach. Their "vs loop" is against the
one-process loop.

Usage: python benchmarks/run.py [--events N] [--rounds R] [--workloads W1,W2]
           [--parallelism 1,2,4] [--skip-latency] [--latency-seconds S] [--json PATH]
       python benchmarks/run.py --compare A.json B.json
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from dataclasses import asdict
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import local_cluster, run_job, same_answer
from keyed_loop import connected_pair, keyed_share
from latency import run_paced
from report import compare, format_table, summarize, write_result
from workloads import WORKLOADS

TASKMANAGERS = 2
SLOTS = 2
SPLIT = 2  # processes of the split plain loop


def plain_sample(workload: str, n: int, round_: int) -> dict[str, Any]:
    started, cpu_started = time.perf_counter(), time.thread_time()
    WORKLOADS[workload][1](n)
    elapsed, cpu = time.perf_counter() - started, time.thread_time() - cpu_started
    return {"workload": workload, "parallelism": None, "round": round_,
            "events_per_s": n / elapsed, "cpu_us_per_event": cpu / n * 1e6}


def _timed_share(workload: str, n: int, start: int, step: int) -> tuple[float, float]:
    started, cpu_started = time.perf_counter(), time.thread_time()
    WORKLOADS[workload][1](n, start, step)
    return time.perf_counter() - started, time.thread_time() - cpu_started


def _ready(_: int) -> None:
    time.sleep(0.2)  # long enough that every worker of the pool takes one


def split_sample(workload: str, n: int, round_: int) -> dict[str, Any]:
    """The plain loop in SPLIT processes at once, each on every SPLIT-th event; events/s = n ÷
    the slowest share's time (each share is timed in its own process, once all are up)."""
    with multiprocessing.get_context("spawn").Pool(SPLIT) as pool:
        pool.map(_ready, range(SPLIT), chunksize=1)
        shares = pool.starmap(_timed_share, [(workload, n, k, SPLIT) for k in range(SPLIT)],
                              chunksize=1)
    return {"workload": f"{workload} loop ×{SPLIT}", "base": workload, "parallelism": SPLIT,
            "round": round_, "events_per_s": n / max(t for t, _ in shares),
            "cpu_us_per_event": sum(c for _, c in shares) / n * 1e6}


def keyed_split_sample(n: int, round_: int, expected: tuple[int, float]) -> dict[str, Any]:
    """W1 by hand in SPLIT processes with a keyed exchange (keyed_loop.py); events/s = n ÷ the
    slower process's time; the windows of both are checked against the plain loop's."""
    pair = connected_pair()
    with multiprocessing.get_context("spawn").Pool(SPLIT) as pool:
        pool.map(_ready, range(SPLIT), chunksize=1)
        shares = pool.starmap(keyed_share, [(n, k, SPLIT, pair[k]) for k in range(SPLIT)],
                              chunksize=1)
    for end in pair:
        end.close()
    answer = (sum(s[2] for s in shares), sum(s[3] for s in shares))
    return {"workload": f"W1 keyed ×{SPLIT}", "base": "W1", "parallelism": SPLIT,
            "round": round_, "events_per_s": n / max(s[0] for s in shares),
            "cpu_us_per_event": sum(s[1] for s in shares) / n * 1e6,
            "correct": same_answer(answer, expected)}


def job_sample(workload: str, n: int, parallelism: int, round_: int,
               expected: tuple[int, float]) -> dict[str, Any]:
    run = run_job(f"{workload}-p{parallelism}", WORKLOADS[workload][0], n, parallelism)
    return {"workload": workload, "parallelism": parallelism, "round": round_,
            "events_per_s": run.events_per_s, "cpu_us_per_event": run.cpu_us_per_event,
            "job_id": run.job_id, "results": run.results, "checksum": run.checksum,
            "correct": run.matches(expected)}


def throughput_rounds(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every plain loop and job once per round, interleaved; each job's results are checked
    against the plain loop's (computed once, before the rounds)."""
    n = args.events
    expected = {w: WORKLOADS[w][1](n) for w in args.workloads}
    steps = [(w, p) for w in args.workloads
             for p in (None, "split", *(["keyed"] if w == "W1" else []), *args.parallelism)]
    samples = []
    for round_ in range(args.rounds):
        for workload, parallelism in steps if round_ % 2 == 0 else reversed(steps):
            if parallelism is None:
                sample = plain_sample(workload, n, round_)
            elif parallelism == "split":
                sample = split_sample(workload, n, round_)
            elif parallelism == "keyed":
                sample = keyed_split_sample(n, round_, expected[workload])
            else:
                sample = job_sample(workload, n, parallelism, round_, expected[workload])
            samples.append(sample)
            print(f"round {round_ + 1}/{args.rounds}: {workload} "
                  f"{_step_name(parallelism)} "
                  f"{sample['events_per_s']:,.0f} events/s"
                  f"{'' if sample.get('correct', True) else ' WRONG RESULTS'}",
                  file=sys.stderr, flush=True)
    return samples


def _step_name(parallelism: int | str | None) -> str:
    names = {None: "plain loop", "split": f"loop ×{SPLIT}", "keyed": f"keyed ×{SPLIT}"}
    return names.get(parallelism, f"p={parallelism}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workloads", default="W1,W2", type=lambda s: s.split(","))
    parser.add_argument("--parallelism", default="1,2,4",
                        type=lambda s: [int(p) for p in s.split(",")])
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--json", metavar="PATH", help="where to write the results "
                        "(default: benchmarks/results/<UTC time>-<git rev>.json)")
    parser.add_argument("--compare", nargs=2, metavar=("A.json", "B.json"),
                        help="print two result files side by side, and run nothing")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    if args.compare:
        print(compare(*args.compare))
        return 0
    with local_cluster(TASKMANAGERS, SLOTS):
        samples = throughput_rounds(args)
        paced = None if args.skip_latency else run_paced(seconds=args.latency_seconds)
    rows = summarize(samples, paced)
    settings = {"events": args.events, "rounds": args.rounds,
                "taskmanagers": TASKMANAGERS, "slots": SLOTS}
    print(format_table(rows, settings))
    path = write_result(settings, rows, samples, None if paced is None else asdict(paced),
                        args.json)
    print(f"written to {path}")
    return 0 if all(s.get("correct", True) for s in samples) else 1


if __name__ == "__main__":
    sys.exit(main())
