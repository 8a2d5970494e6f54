"""``python job.py`` with no JobManager configured runs on an embedded local cluster."""

from __future__ import annotations

import ast
import collections
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "examples"))

import word_count

# ``python examples/word_count.py``, with the local cluster's log on, and a report at exit of
# whether the objects were frozen by then (atexit runs last what was registered first).
RUN_WORD_COUNT = f"""
import atexit, gc, logging, runpy, sys
atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count() > 0, file=sys.stderr))
logging.basicConfig(format="%(name)s: %(message)s")
logging.getLogger("weir.jobmanager.local_cluster").setLevel(logging.INFO)
runpy.run_path({str(REPO / "examples" / "word_count.py")!r}, run_name="__main__")
"""


def test_word_count_runs_embedded_and_prints_per_subtask():
    env = {k: v for k, v in os.environ.items() if k not in ("WEIR_JOBMANAGER", "WEIR_TOKEN")}
    done = subprocess.run([sys.executable, "-c", RUN_WORD_COUNT],
                          env=env, capture_output=True, text=True, timeout=180, cwd=REPO,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    # Where the start-up time goes (benchmarks/startup.py reads these lines), and the exit
    # that skips walking Ray's objects.
    assert re.search(r"local cluster up in [\d.]+ s: Ray [\d.]+ s, JobManager and "
                     r"TaskManagers [\d.]+ s", done.stderr), done.stderr[-3000:]
    assert re.search(r"local cluster stopped in [\d.]+ s", done.stderr), done.stderr[-3000:]
    assert "frozen at exit: True" in done.stderr

    lines = done.stdout.splitlines()
    parsed = [re.fullmatch(r"([12])> (\(.*\))", line) for line in lines]
    assert all(parsed), [line for line, match in zip(lines, parsed) if not match]

    expected = collections.Counter(w for line in word_count.TEXT for w in word_count.split(line))
    running: dict[str, list[int]] = collections.defaultdict(list)
    subtask_of: dict[str, set[str]] = collections.defaultdict(set)
    for match in parsed:
        word, count = ast.literal_eval(match.group(2))
        running[word].append(count)
        subtask_of[word].add(match.group(1))
    # Each word's running counts arrive in order 1..n from the one subtask that owns it.
    assert {w: counts for w, counts in running.items()} == \
        {w: list(range(1, n + 1)) for w, n in expected.items()}
    assert all(len(subtasks) == 1 for subtasks in subtask_of.values())
    assert {s for subtasks in subtask_of.values() for s in subtasks} == {"1", "2"}
