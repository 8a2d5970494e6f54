"""Savepoints through the ``weir`` CLI against a real JobManager: ``weir savepoint``,
``weir stop``, ``weir run -s [-n]``, ``weir checkpoints`` and what ``weir status`` shows.

The job (jobs/counting.py) counts records per key from a replayable, rate-limited
DataGeneratorSource into the exactly-once FileSink; each test stops it part-way with a
savepoint, resumes it, and compares the committed output with a plain-Python oracle.
"""

from __future__ import annotations

import collections
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.cli import (
    JOBS,
    Result,
    parse_status,
    parse_table,
    submitted_job_id,
    wait_for_status,
    weir,
)
from tests.fixtures.cluster import RunningJobManager

pytestmark = pytest.mark.timeout(90)

COUNTING = str(JOBS / "counting.py")
KEYED_SUM = str(JOBS / "keyed_sum.py")
ENDLESS = str(JOBS / "endless.py")
FAILING = str(JOBS / "failing.py")
KEYS = 7  # counting.py: record i has key i % 7
RECORDS = 3000
RATE = 600  # records/s over both source subtasks: a job runs about 5 s
PARALLELISM = "2"
SAVEPOINT_LINE = re.compile(r"^Savepoint completed\. Path: (\S+)$", re.MULTILINE)


# ------------------------------------------------------------------ oracle


def records_per_key() -> collections.Counter[int]:
    return collections.Counter(i % KEYS for i in range(RECORDS))


def counting_oracle() -> collections.Counter[str]:
    """Every ``key,n`` line of counting.py, each exactly once, for n = 1 .. records of key."""
    return collections.Counter(f"{key},{n}" for key, total in records_per_key().items()
                               for n in range(1, total + 1))


def committed_lines(directory: Path) -> list[str]:
    """Every line of every committed part file (in-progress and pending names start with .)."""
    lines = []
    for path in sorted(directory.rglob("*")):
        if path.is_file() and not any(part.startswith(".") for part in
                                      path.relative_to(directory).parts):
            lines.extend(path.read_text().splitlines())
    return lines


def split_lines(lines: list[str]) -> tuple[dict[int, list[int]], collections.Counter[int]]:
    """``key,n`` lines as the counts seen per key (sorted); bare ``key`` lines counted per key."""
    counts: dict[int, list[int]] = collections.defaultdict(list)
    bare: collections.Counter[int] = collections.Counter()
    for line in lines:
        key, _, count = line.partition(",")
        if count:
            counts[int(key)].append(int(count))
        else:
            bare[int(key)] += 1
    return {key: sorted(seen) for key, seen in counts.items()}, bare


# ------------------------------------------------------------------ driving the CLI


class CountingJobs:
    """Runs counting.py on the session JobManager with its output and state under tmp_path."""

    def __init__(self, jobmanager: RunningJobManager, tmp_path: Path) -> None:
        self.env = jobmanager.env()
        self.root = tmp_path
        self.output = tmp_path / "out"
        self.checkpoints = tmp_path / "checkpoints"
        self.started: list[str] = []

    def run(self, *options: str, job_args: tuple[str, ...] = ()) -> Result:
        result = weir("run", "-p", PARALLELISM, *options, COUNTING, "--", str(self.output),
                      str(self.checkpoints), str(RECORDS), str(RATE), *job_args, env=self.env)
        if "Job has been submitted" in result.stdout:
            self.started.append(submitted_job_id(result.stdout))
        return result

    def start(self, *options: str, job_args: tuple[str, ...] = ()) -> str:
        """Submit detached; returns once the job completed a checkpoint (so state exists)."""
        result = self.run("-d", *options, job_args=job_args)
        assert result.returncode == 0, result.output
        job_id = submitted_job_id(result.stdout)
        wait_for_status(job_id, self.env, lambda s: s.fields["Latest checkpoint"] != "-")
        return job_id

    def stop(self, job_id: str, directory: Path) -> str:
        """``weir stop --savepoint-path``: the savepoint's path once the job FINISHED."""
        result = weir("stop", job_id, "--savepoint-path", str(directory), env=self.env)
        assert result.returncode == 0, result.output
        assert result.stdout.splitlines()[0] == f"Suspending job {job_id} with a savepoint."
        assert result.stdout.splitlines()[-1] == f"Job {job_id} is FINISHED."
        return savepoint_path(result)

    def status(self, job_id: str):
        result = weir("status", job_id, env=self.env)
        assert result.returncode == 0, result.output
        return parse_status(result.stdout)

    def cancel_unfinished(self) -> None:
        for job_id in self.started:
            weir("cancel", job_id, env=self.env)


@pytest.fixture
def jobs(jobmanager: RunningJobManager, tmp_path: Path) -> Iterator[CountingJobs]:
    runner = CountingJobs(jobmanager, tmp_path)
    yield runner
    runner.cancel_unfinished()  # a failed test leaves no job running into the next ones


def savepoint_path(result: Result) -> str:
    match = SAVEPOINT_LINE.search(result.stdout)
    assert match, result.output
    return match.group(1)


def local_path(uri: str) -> Path:
    assert uri.startswith("file:///"), uri
    return Path(uri.removeprefix("file://"))


def source_records_out(status) -> int:
    return sum(int(row["RECORDS OUT"].replace(",", "")) for row in status.subtasks
               if row["VERTEX"].startswith("Source: events"))


# ------------------------------------------------------------------ savepoint, stop, resume


def test_stop_with_savepoint_and_resume_commit_every_count_exactly_once(jobs) -> None:
    savepoints_dir = jobs.root / "default-savepoints"
    job_id = jobs.start(job_args=("--savepoints", str(savepoints_dir)))

    taken = weir("savepoint", job_id, env=jobs.env)  # into the job's state.savepoints.dir
    assert taken.returncode == 0, taken.output
    assert taken.stdout.splitlines()[0] == f"Triggering savepoint for job {job_id}."
    first = savepoint_path(taken)
    assert re.fullmatch(rf"{savepoints_dir.as_uri()}/savepoint-{job_id[:6]}-[0-9a-f]+", first)
    assert (local_path(first) / "_metadata").is_file()
    assert jobs.status(job_id).state == "RUNNING"

    stopped_at = jobs.stop(job_id, jobs.root / "savepoints")
    assert stopped_at.startswith((jobs.root / "savepoints").as_uri() + "/savepoint-")
    assert jobs.status(job_id).state == "FINISHED"
    assert 0 < len(committed_lines(jobs.output)) < RECORDS  # stopped part-way, committed

    resumed = jobs.run("--from-savepoint", stopped_at)  # attached: waits for the end

    assert resumed.returncode == 0, resumed.output
    new_id = submitted_job_id(resumed.stdout)
    assert resumed.stdout.splitlines()[-1].startswith(f"Job {new_id} finished in ")
    assert collections.Counter(committed_lines(jobs.output)) == counting_oracle()
    status = jobs.status(new_id)
    assert status.fields["Restored from"].endswith(f" {stopped_at}")  # the savepoint
    assert 0 < source_records_out(status) < RECORDS  # it went on from the savepoint


def test_a_savepoint_moved_to_another_directory_still_restores(jobs) -> None:
    job_id = jobs.start()
    original = local_path(jobs.stop(job_id, jobs.root / "savepoints"))
    moved = jobs.root / "elsewhere" / "renamed-savepoint"
    moved.parent.mkdir()
    shutil.move(original, moved)  # nothing may still point into the old directory

    resumed = jobs.run("-d", "-s", str(moved))  # detached, a plain local path

    assert resumed.returncode == 0, resumed.output
    new_id = submitted_job_id(resumed.stdout)
    assert resumed.stdout.splitlines() == [f"Job has been submitted with JobID {new_id}"]
    wait_for_status(new_id, jobs.env, lambda s: s.state == "FINISHED")
    assert collections.Counter(committed_lines(jobs.output)) == counting_oracle()


def test_state_of_a_removed_operator_needs_allow_non_restored_state(jobs) -> None:
    job_id = jobs.start()
    savepoint = jobs.stop(job_id, jobs.root / "savepoints")

    refused = jobs.run("-s", savepoint, job_args=("--stateless",))  # no counting operator

    assert refused.returncode == 1, refused.output
    assert refused.stderr == (
        f"error: cannot restore from {savepoint}: the checkpoint has state for operator "
        "'counts', which the job no longer has; give the operator its old uid, or allow "
        "non-restored state (--allow-non-restored-state) to drop that state\n")
    assert "Job has been submitted" not in refused.stdout

    allowed = jobs.run("-s", savepoint, "-n", job_args=("--stateless",))

    assert allowed.returncode == 0, allowed.output
    # Counted lines up to the savepoint, then bare keys: each record exactly once.
    counts, bare = split_lines(committed_lines(jobs.output))
    totals = records_per_key()
    assert all(seen == list(range(1, len(seen) + 1)) for seen in counts.values()), counts
    assert {key: len(counts.get(key, [])) + bare[key] for key in totals} == dict(totals)
    assert 0 < sum(bare.values()) < RECORDS


def test_an_operator_without_state_in_the_savepoint_starts_empty(jobs) -> None:
    job_id = jobs.start(job_args=("--stateless",))
    savepoint = jobs.stop(job_id, jobs.root / "savepoints")

    # The savepoint named by execution.savepoint.path in the job's own configuration.
    resumed = jobs.run(job_args=("--restore-from", savepoint))

    assert resumed.returncode == 0, resumed.output
    counts, bare = split_lines(committed_lines(jobs.output))
    totals = records_per_key()
    assert 0 < sum(bare.values()) < RECORDS
    # The counting operator had no state: each key counts from 1 after the savepoint.
    assert {key: counts.get(key, []) for key in totals} == {
        key: list(range(1, totals[key] - bare[key] + 1)) for key in totals}


# ------------------------------------------------------------------ listing and status


def test_checkpoints_lists_completed_checkpoints_and_savepoints(jobs) -> None:
    job_id = jobs.start()
    savepoint = savepoint_path(weir("savepoint", job_id, str(jobs.root / "sp"), env=jobs.env))

    listed = weir("checkpoints", job_id, env=jobs.env)

    assert listed.returncode == 0, listed.output
    rows = parse_table(listed.stdout.splitlines())
    assert list(rows[0]) == ["ID", "STATUS", "KIND", "TRIGGERED", "DURATION", "SIZE", "PATH",
                             "FAILURE"]
    assert [int(row["ID"]) for row in rows] == sorted(int(row["ID"]) for row in rows)
    completed = [row for row in rows if row["STATUS"] == "COMPLETED"]
    checkpoints = [row for row in completed if row["KIND"] == "checkpoint"]
    assert checkpoints, listed.stdout
    chk_dir = f"{jobs.checkpoints.as_uri()}/{job_id}/chk-"
    assert all(row["PATH"] == chk_dir + row["ID"] for row in checkpoints)
    assert all(re.fullmatch(r"\d+(\.\d)? (B|KiB|MiB)", row["SIZE"]) for row in completed)
    assert all(re.fullmatch(r"\d+ ms|\d+\.\d s", row["DURATION"]) for row in completed)
    assert all(row["FAILURE"] == "-" for row in completed)
    assert [row["PATH"] for row in completed if row["KIND"] == "savepoint"] == [savepoint]

    status = jobs.status(job_id)
    completed_count = int(status.fields["Checkpoints"].split()[0])
    assert completed_count >= len(completed)
    latest_id, latest_path = status.fields["Latest checkpoint"].split()
    assert latest_path == chk_dir + latest_id
    assert status.fields["Restarts"] == "0" and status.fields["Last restart cause"] == "-"


def test_status_shows_restarts_and_the_last_restart_cause(jobmanager: RunningJobManager) -> None:
    result = weir("run", FAILING, "--", "--restarts", "2", env=jobmanager.env())

    assert result.returncode == 1, result.output
    status = parse_status(weir("status", submitted_job_id(result.stdout),
                               env=jobmanager.env()).stdout)
    assert status.state == "FAILED"
    assert status.fields["Restarts"] == "2"
    assert status.fields["Last restart cause"] == "ValueError: unlucky record 13"
    assert status.fields["Checkpoints"] == "0 completed, 0 failed, 0 in progress"
    assert status.fields["Latest checkpoint"] == "-"


# ------------------------------------------------------------------ errors a user can fix


@pytest.mark.parametrize("command", [["savepoint"], ["stop"], ["checkpoints"]])
def test_unknown_job(jobmanager: RunningJobManager, command: list[str], tmp_path) -> None:
    result = weir(*command, "feedfacefeedfacefeedfacefeedface", env=jobmanager.env())

    assert result.returncode == 1
    assert result.stderr == ("error: no job with id feedfacefeedfacefeedfacefeedface — "
                             "`weir list` shows the jobs\n")


def test_savepoint_of_a_finished_job(jobmanager: RunningJobManager, tmp_path) -> None:
    run = weir("run", KEYED_SUM, "--", "10", env=jobmanager.env())
    assert run.returncode == 0, run.output
    job_id = submitted_job_id(run.stdout)

    for command in (["savepoint", job_id, str(tmp_path)],
                    ["stop", job_id, "--savepoint-path", str(tmp_path)]):
        result = weir(*command, env=jobmanager.env())
        assert result.returncode == 1
        assert result.stderr == (f"error: job {job_id} is FINISHED, not RUNNING: savepoints "
                                 "are taken of running jobs\n")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def endless_job(jobmanager: RunningJobManager) -> Iterator[str]:
    """An unbounded job without state.savepoints.dir; cancelled at the end in any case."""
    result = weir("run", "-d", ENDLESS, env=jobmanager.env())
    assert result.returncode == 0, result.output
    job_id = submitted_job_id(result.stdout)
    yield job_id
    weir("cancel", job_id, env=jobmanager.env())


def test_savepoint_without_a_directory(jobmanager: RunningJobManager, endless_job: str) -> None:
    env = jobmanager.env()
    for command in (["savepoint", endless_job], ["stop", endless_job]):
        result = weir(*command, env=env)
        assert result.returncode == 1
        assert result.stderr == ("error: no savepoint directory: give one, or set "
                                 "state.savepoints.dir\n")
    assert parse_status(weir("status", endless_job, env=env).stdout).state == "RUNNING"

    bad = weir("savepoint", endless_job, "ftp://host/dir", env=env)
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: invalid savepoint directory: unsupported scheme 'ftp'")
    assert bad.stdout == ""


def test_run_from_a_directory_without_a_savepoint(jobs) -> None:
    empty = jobs.root / "not-a-savepoint"
    empty.mkdir()

    result = jobs.run("-s", str(empty))

    assert result.returncode == 1
    assert result.stderr == (f"error: cannot read the savepoint at {empty.as_uri()}: "
                             f"{empty.as_uri()} holds no savepoint or completed checkpoint "
                             "(it has no _metadata)\n")
    assert "Job has been submitted" not in result.stdout
