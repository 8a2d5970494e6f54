"""The CLI tells the truth and keeps the terminal safe: cancelling an ended job says so,
job names cannot flood or drive the terminal, and an unwritable savepoint directory is
named (against the session's real ``weir jobmanager``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.cli import JOBS, parse_table, submitted_job_id, wait_for_status, weir
from tests.fixtures.cluster import RunningJobManager

pytestmark = pytest.mark.timeout(120)

KEYED_SUM = str(JOBS / "keyed_sum.py")
ENDLESS = str(JOBS / "endless.py")
NAMED_JOB = """\
from weir.datastream import StreamExecutionEnvironment

env = StreamExecutionEnvironment.get_execution_environment()
env.from_collection([1, 2, 3]).map(lambda x: x).print()
env.execute("\\x1b[2J\\x1b]0;owned\\x07" + "n" * 1_000_000)
"""


def test_cancel_of_a_finished_job_says_it_finished(jobmanager: RunningJobManager) -> None:
    run = weir("run", KEYED_SUM, "--", "10", env=jobmanager.env())
    assert run.returncode == 0, run.output
    job_id = submitted_job_id(run.stdout)

    result = weir("cancel", job_id, env=jobmanager.env())

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (f"error: job {job_id} already finished (state FINISHED); "
                             "there is nothing to cancel\n")


def test_list_escapes_and_cuts_a_hostile_job_name(jobmanager: RunningJobManager,
                                                  tmp_path: Path) -> None:
    program = tmp_path / "named.py"
    program.write_text(NAMED_JOB)
    run = weir("run", str(program), env=jobmanager.env())
    assert run.returncode == 0, run.output
    job_id = submitted_job_id(run.stdout)

    listed = weir("list", env=jobmanager.env())

    assert listed.returncode == 0, listed.output
    assert "\x1b" not in listed.stdout and "\x07" not in listed.stdout
    assert max(len(line) for line in listed.stdout.splitlines()) < 200
    row = next(r for r in parse_table(listed.stdout.splitlines()) if r["JOB ID"] == job_id)
    assert row["NAME"].startswith("\\x1b[2J\\x1b]0;owned\\x07nnn")
    assert row["NAME"].endswith("n\u2026")
    assert row["STATE"] == "FINISHED"


@pytest.fixture
def running_job(jobmanager: RunningJobManager) -> Iterator[str]:
    result = weir("run", "--detached", ENDLESS, env=jobmanager.env())
    assert result.returncode == 0, result.output
    job_id = submitted_job_id(result.stdout)
    wait_for_status(job_id, jobmanager.env(), lambda s: bool(s.subtasks) and all(
        row["STATE"] == "RUNNING" for row in s.subtasks))
    yield job_id
    weir("cancel", job_id, env=jobmanager.env())


def test_savepoint_into_an_unwritable_directory_names_it(jobmanager: RunningJobManager,
                                                         running_job: str,
                                                         tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    target = tmp_path / "a-file" / "savepoints"

    result = weir("savepoint", running_job, str(target), env=jobmanager.env())

    assert result.returncode == 1
    assert result.stderr == (f"error: the savepoint directory file://{target} is not "
                             "writable (Not a directory)\n")
    assert "checkpoint" not in result.stderr
    status = wait_for_status(running_job, jobmanager.env(), lambda s: True)
    assert status.state == "RUNNING"
