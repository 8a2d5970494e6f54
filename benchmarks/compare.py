"""W1/W2 of two revisions of weir, interleaved in one session: the way to show what a change
costs or saves. Each round runs ``benchmarks/run.py --rounds 1 --skip-latency`` once for the
base revision and once for the working tree (alternating which goes first), each in its own
process with its own local cluster, and reads the JSON it writes; the medians over the rounds
are printed side by side with the plain-Python loop.

The base revision is laid out from ``git archive`` as it would be installed and put first on
PYTHONPATH (Ray's workers inherit it); the workloads and this harness are the working
tree's, so both revisions run the same jobs.

Usage: python benchmarks/compare.py BASE_REV [--rounds R] [--events N]
                                   [--workloads W1,W2] [--parallelism 1,2,4]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scripts.installed_checks import installed_layout


def base_layout(revision: str, scratch: Path) -> Path:
    """``revision``'s package laid out as installed, under ``scratch``."""
    archive = subprocess.run(["git", "archive", revision], cwd=REPO, check=True,
                             capture_output=True).stdout
    checkout = scratch / "checkout"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(checkout, filter="data")
    return installed_layout(scratch / "site", checkout)


def one_run(pythonpath: str | None, args: argparse.Namespace, scratch: Path
            ) -> dict[str, tuple[float, float | None]]:
    """One ``run.py`` process; (events/s, TaskManager CPU µs/event) by 'W1 weir p=2',
    'W1 plain Python loop', …"""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    result_path = scratch / "result.json"
    process = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--rounds", "1", "--skip-latency",
         "--events", str(args.events), "--workloads", args.workloads,
         "--parallelism", args.parallelism, "--json", str(result_path)],
        env=env, check=False, capture_output=True, text=True)
    if process.returncode != 0:
        raise SystemExit(f"run.py failed or gave wrong results:\n{process.stdout}"
                         f"{process.stderr[-3000:]}")
    return {_label(row): (row["events_per_s"], row["cpu_us_per_event"])
            for row in json.loads(result_path.read_text())["rows"]}


def _label(row: dict[str, Any]) -> str:
    if row.get("base"):  # the plain loop split over processes: its workload names it
        return str(row["workload"])
    return f"{row['workload']} " + ("plain Python loop" if row["parallelism"] is None
                                    else f"weir p={row['parallelism']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--workloads", default="W1,W2")
    parser.add_argument("--parallelism", default="1,2,4")
    args = parser.parse_args()
    samples: dict[str, dict[str, list[float]]] = {"base": defaultdict(list),
                                                  "head": defaultdict(list)}
    cpu: dict[str, dict[str, list[float]]] = {"base": defaultdict(list), "head": defaultdict(list)}
    with tempfile.TemporaryDirectory() as scratch:
        paths = {"base": str(base_layout(args.base, Path(scratch))), "head": None}
        for round_ in range(args.rounds):
            order = ("base", "head") if round_ % 2 == 0 else ("head", "base")
            for side in order:
                for key, (rate, cpu_us) in one_run(paths[side], args, Path(scratch)).items():
                    samples[side][key].append(rate)
                    if cpu_us is not None:
                        cpu[side][key].append(cpu_us)
            print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    print(f"medians of {args.rounds} interleaved rounds, {args.events:,} events, "
          f"base {args.base} vs working tree")
    print(f"{'':28}{'base':>14}{'head':>14}{'change':>9}")
    for key in samples["head"]:
        base, head = (statistics.median(samples[side][key]) for side in ("base", "head"))
        print(f"{key:28}{base:>14,.0f}{head:>14,.0f}{(head / base - 1) * 100:>+8.1f}%")
    print("weir as a share of the plain loop measured in the same process (median of rounds; "
          "cancels drift in the machine's speed):")
    for key in samples["head"]:
        if "weir" in key:
            plain = key.split(" ")[0] + " plain Python loop"
            base, head = (statistics.median(
                w / p for w, p in zip(samples[side][key], samples[side][plain], strict=True))
                for side in ("base", "head"))
            print(f"{key:28}{base:>13.1%}{head:>14.1%}{(head / base - 1) * 100:>+8.1f}%")
    print("TaskManager CPU µs per event (median of rounds):")
    for key in cpu["head"]:
        if "weir" in key and cpu["base"][key]:
            base, head = (statistics.median(cpu[side][key]) for side in ("base", "head"))
            print(f"{key:28}{base:>14.3f}{head:>14.3f}{(head / base - 1) * 100:>+8.1f}%")
    print("every round, in events/s:")
    for side in ("base", "head"):
        for key, rates in samples[side].items():
            print(f"  {side} {key:28}" + " ".join(f"{rate:,.0f}" for rate in rates))
    return 0


if __name__ == "__main__":
    sys.exit(main())
