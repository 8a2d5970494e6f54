"""Where a job's whole process spends its time: ``python examples/word_count.py`` on the
embedded local cluster, beside the same on Ray, a bare Ray start and stop and a bare
``import weir``.

Each round runs, in reverse order every other round, each of:

- ``word_count``: the example as a user runs it (whole-process wall time; its TaskManager
  runs in process, the embedded cluster's default);
- ``word_count, phases``: the same with the local cluster's log on, which gives the phases
  (Python start-up, imports and building the job; JobManager and TaskManagers; the job;
  stopping the cluster; leaving the interpreter);
- ``word_count on Ray``: with ``local.taskmanager.runtime: ray`` (two TaskManager actors);
- ``bare Ray``: ``ray.init`` with the options weir uses, two actors that answer a call,
  ``ray.shutdown`` (no weir at all: the floor under any embedded run on Ray);
- ``import weir``: Python start-up and ``import weir.datastream``.

Prints medians over the rounds. Usage: python benchmarks/startup.py [--rounds R]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORD_COUNT = REPO / "examples" / "word_count.py"

PHASES = f"""
import logging, runpy
logging.basicConfig(format="%(relativeCreated)d %(message)s")
logging.getLogger("weir.jobmanager.local_cluster").setLevel(logging.INFO)
runpy.run_path({str(WORD_COUNT)!r}, run_name="__main__")
"""

ON_RAY = f"""
import runpy
from weir.common import Configuration
job = runpy.run_path({str(WORD_COUNT)!r})
job["word_count"](Configuration().set_string("local.taskmanager.runtime", "ray"))
"""

BARE_RAY = """
import os, ray
from weir.jobmanager.ray_resource_manager import ray_init_options

@ray.remote
class Actor:
    def ping(self):
        return 1

ray.init(**ray_init_options(None, os.environ))
actors = [Actor.remote() for _ in range(2)]
ray.get([actor.ping.remote() for actor in actors])
ray.shutdown()
"""

IMPORT_WEIR = "import weir.datastream"

_LINE = re.compile(r"^(\d+) (starting a local cluster|local cluster up in ([\d.]+) s: "
                   r"JobManager and TaskManagers in process|local cluster stopped in "
                   r"([\d.]+) s)", re.MULTILINE)


def _run(code: str | None, env: dict[str, str]) -> tuple[float, str]:
    """Whole-process wall time of ``python WORD_COUNT`` (code None) or ``python -c code``,
    and its stderr."""
    argv = [sys.executable, str(WORD_COUNT)] if code is None else [sys.executable, "-c", code]
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:2])} failed:\n{done.stderr}")
    return wall, done.stderr


def phases(wall: float, stderr: str) -> dict[str, float]:
    """The phases of one logged word_count run, in seconds."""
    marks: dict[str, float] = {}
    for match in _LINE.finditer(stderr):
        at = int(match.group(1)) / 1000
        if match.group(2).startswith("starting"):
            marks["starting"] = at
        elif match.group(3) is not None:
            marks["up"], marks["cluster"] = at, float(match.group(3))
        else:
            marks["stopped"], marks["stop"] = at, float(match.group(4))
    if len(marks) != 5:
        raise SystemExit(f"the local cluster's log lines are missing:\n{stderr}")
    return {"Python start-up, imports, building the job": marks["starting"],
            "JobManager and TaskManager": marks["cluster"],
            "the job": marks["stopped"] - marks["stop"] - marks["up"],
            "stopping the cluster": marks["stop"],
            "leaving the interpreter": wall - marks["stopped"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as ray_tmp:
        env = {**os.environ, "RAY_TMPDIR": os.environ.get("RAY_TMPDIR", ray_tmp)}
        env.pop("WEIR_JOBMANAGER", None)
        env.pop("RAY_ADDRESS", None)
        steps = {"word_count": None, "word_count, phases": PHASES, "word_count on Ray": ON_RAY,
                 "bare Ray": BARE_RAY, "import weir": IMPORT_WEIR}
        walls: dict[str, list[float]] = {name: [] for name in steps}
        breakdown: dict[str, list[float]] = {}
        for round_ in range(args.rounds):
            order = list(steps) if round_ % 2 == 0 else list(reversed(steps))
            for name in order:
                wall, stderr = _run(steps[name], env)
                walls[name].append(wall)
                if name == "word_count, phases":
                    for phase, seconds in phases(wall, stderr).items():
                        breakdown.setdefault(phase, []).append(seconds)
                print(f"round {round_ + 1}/{args.rounds}: {name} {wall:.2f} s",
                      file=sys.stderr, flush=True)
    print(f"whole-process wall time, medians of {args.rounds} interleaved rounds, "
          f"{os.cpu_count()} CPUs")
    for name, values in walls.items():
        print(f"  {name:<44}{statistics.median(values):>7.2f} s")
    print("word_count's phases (medians)")
    for phase, values in breakdown.items():
        print(f"  {phase:<44}{statistics.median(values):>7.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
