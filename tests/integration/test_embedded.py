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


def test_word_count_runs_embedded_and_prints_per_subtask():
    env = {k: v for k, v in os.environ.items() if k not in ("WEIR_JOBMANAGER", "WEIR_TOKEN")}
    done = subprocess.run([sys.executable, str(REPO / "examples" / "word_count.py")],
                          env=env, capture_output=True, text=True, timeout=180, cwd=REPO,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr

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
