"""``python job.py`` with no JobManager configured runs on an embedded local cluster: its
TaskManager in process by default (no Ray), or on a local Ray when configured."""

from __future__ import annotations

import ast
import collections
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.fixtures.counting_job import CountingJob, committed_file_lines
from tests.fixtures.faults import FailOnce, Fault
from weir.common import Configuration
from weir.datastream import StreamExecutionEnvironment

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "examples"))

import word_count

# ``python examples/word_count.py``, with the local cluster's log on, and a report at exit of
# whether Ray was imported and whether the objects were frozen by then (atexit runs last what
# was registered first). ``CONFIGURE`` runs the example's job with that configuration.
RUN_WORD_COUNT = f"""
import atexit, gc, logging, runpy, sys
atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count() > 0,
                              "ray imported:", "ray" in sys.modules, file=sys.stderr))
logging.basicConfig(format="%(name)s: %(message)s")
logging.getLogger("weir.jobmanager.local_cluster").setLevel(logging.INFO)
job = runpy.run_path({str(REPO / "examples" / "word_count.py")!r})
from weir.common import Configuration
job["word_count"](Configuration(CONFIGURE))
"""


def without_jobmanager() -> dict[str, str]:
    """This process's environment without a JobManager to submit to: jobs run embedded."""
    return {k: v for k, v in os.environ.items() if k not in ("WEIR_JOBMANAGER", "WEIR_TOKEN")}


def run_word_count(configuration: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-c", f"CONFIGURE = {configuration!r}" + RUN_WORD_COUNT],
                          env=without_jobmanager(), capture_output=True, text=True, timeout=180,
                          cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    return done


def assert_word_counts(stdout: str) -> None:
    """Each word's running counts arrive in order 1..n from the one subtask that owns it."""
    lines = stdout.splitlines()
    parsed = [re.fullmatch(r"([12])> (\(.*\))", line) for line in lines]
    assert all(parsed), [line for line, match in zip(lines, parsed) if not match]

    expected = collections.Counter(w for line in word_count.TEXT for w in word_count.split(line))
    running: dict[str, list[int]] = collections.defaultdict(list)
    subtask_of: dict[str, set[str]] = collections.defaultdict(set)
    for match in parsed:
        assert match is not None
        word, count = ast.literal_eval(match.group(2))
        running[word].append(count)
        subtask_of[word].add(match.group(1))
    assert {w: counts for w, counts in running.items()} == \
        {w: list(range(1, n + 1)) for w, n in expected.items()}
    assert all(len(subtasks) == 1 for subtasks in subtask_of.values())
    assert {s for subtasks in subtask_of.values() for s in subtasks} == {"1", "2"}


def test_word_count_runs_in_process_without_ray_and_prints_per_subtask():
    done = run_word_count({})
    # Where the start-up time goes (benchmarks/startup.py reads these lines); Ray is never
    # imported; the exit skips walking gRPC's and protobuf's objects.
    assert re.search(r"local cluster up in [\d.]+ s: JobManager and TaskManagers in process",
                     done.stderr), done.stderr[-3000:]
    assert re.search(r"local cluster stopped in [\d.]+ s", done.stderr), done.stderr[-3000:]
    assert "frozen at exit: True ray imported: False" in done.stderr
    assert_word_counts(done.stdout)


def test_word_count_runs_on_a_local_ray_when_configured():
    done = run_word_count({"local.taskmanager.runtime": "ray"})
    assert re.search(r"local cluster up in [\d.]+ s: Ray [\d.]+ s, JobManager and "
                     r"TaskManagers [\d.]+ s", done.stderr), done.stderr[-3000:]
    assert re.search(r"local cluster stopped in [\d.]+ s: JobManager and TaskManagers "
                     r"[\d.]+ s, Ray [\d.]+ s", done.stderr), done.stderr[-3000:]
    assert "frozen at exit: True ray imported: True" in done.stderr
    assert_word_counts(done.stdout)


def test_an_unknown_taskmanager_runtime_is_a_clear_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("WEIR_JOBMANAGER", raising=False)
    env = StreamExecutionEnvironment.get_execution_environment(
        Configuration({"local.taskmanager.runtime": "threads"}))
    env.from_collection([1, 2]).print()
    with pytest.raises(ValueError, match=r"local.taskmanager.runtime must be 'in-process' "
                                         r"\(TaskManagers on threads of this process\) or "
                                         r"'ray' \(on a local Ray\); got 'threads'"):
        env.execute("bad-runtime")


def test_a_failure_in_process_fails_over_and_loses_nothing(monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path):
    """The exactly-once counting job in this very process: its source fails once after a
    checkpoint completed, the job restarts from it, and the committed output is the
    oracle's. Then no TaskManager thread is left behind."""
    monkeypatch.delenv("WEIR_JOBMANAGER", raising=False)
    job = CountingJob(records=8_000, rate=4_000)
    plan = FailOnce(tmp_path / "failed", after_records=job.records // job.parallelism // 3,
                    fault=Fault.RAISE)
    output = tmp_path / "out"
    env = job.environment(output.as_uri(), (tmp_path / "chk").as_uri(), fault=plan)
    env.execute("in-process-failover")
    assert plan.happened, "the source never failed"
    assert plan.struck.checkpoint_id > 0
    got, expected = committed_file_lines(output), job.expected()
    assert got == expected, (sum((got - expected).values()), sum((expected - got).values()))
    assert not [t.name for t in threading.enumerate() if t.name.startswith("weir-")]


# Job after job in one fresh process; what is open after the first must be all that is open
# after three more. A descriptor is named with what it is open on, so a socket reusing an old
# number is new. gRPC opens its poller when its first object is made and closes it, on a
# thread of its own, some time after its last is gone: a channel kept open keeps the poller
# out of the comparison.
RUN_JOBS_IN_TURN = """
import os, threading
import grpc
from weir.datastream import StreamExecutionEnvironment

kept_open = grpc.insecure_channel("127.0.0.1:1")

def run_job():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.from_collection(list(range(100))).key_by(lambda x: x % 3) \\
        .reduce(lambda a, b: a + b).filter(lambda x: x < 0).print()
    env.execute("nothing-left")

def open_descriptors():
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            found.add((fd, os.readlink(f"/proc/self/fd/{fd}")))
        except OSError:  # the listing's own descriptor, closed by now
            pass
    return found

run_job()
descriptors, threads = open_descriptors(), {t.ident for t in threading.enumerate()}
for _ in range(3):
    run_job()
print("descriptors left:", sorted(open_descriptors() - descriptors))
print("threads left:", [t.name for t in threading.enumerate() if t.ident not in threads])
"""


def test_jobs_in_process_leave_no_thread_or_descriptor_behind():
    """A process that runs job after job (a test suite, a notebook) keeps nothing of each:
    every loop, executor thread, socket and port of an embedded cluster is closed with it.
    The jobs run in a process of their own: in this one, what earlier tests left open may
    close (or not) while they run."""
    done = subprocess.run([sys.executable, "-c", RUN_JOBS_IN_TURN], env=without_jobmanager(),
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "descriptors left: []\nthreads left: []\n" in done.stdout, done.stdout[-3000:]
