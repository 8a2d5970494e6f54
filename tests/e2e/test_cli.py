"""The ``weir`` CLI against a real ``weir jobmanager`` process (2 TaskManagers x 2 slots)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.e2e.cli import (
    JOBS,
    parse_status,
    parse_table,
    submitted_job_id,
    wait_for_status,
    weir,
)
from tests.fixtures.cluster import RunningJobManager
from tests.fixtures.processes import free_port

pytestmark = pytest.mark.timeout(120)

KEYED_SUM = str(JOBS / "keyed_sum.py")
ENDLESS = str(JOBS / "endless.py")
FAILING = str(JOBS / "failing.py")
KEYS = 5  # keyed_sum.py keys x by x % 5


def running_sums(count: int) -> list[tuple[int, int]]:
    """Oracle of keyed_sum.py at parallelism 1: (key, running sum) for x = 0 .. count-1 in order."""
    totals: dict[int, int] = {}
    out = []
    for x in range(count):
        totals[x % KEYS] = totals.get(x % KEYS, 0) + x
        out.append((x % KEYS, totals[x % KEYS]))
    return out


def parse_sum_line(line: str) -> tuple[str, int, int]:
    """``[N> ]key=K sum=S`` -> (prefix, K, S)."""
    match = re.fullmatch(r"(\d+> )?key=(\d+) sum=(\d+)", line)
    assert match, f"unexpected output line {line!r}"
    return match.group(1) or "", int(match.group(2)), int(match.group(3))


def assert_no_traceback(text: str) -> None:
    assert "Traceback" not in text, text


# ------------------------------------------------------------------ running jobs


def test_attached_run_prints_the_exact_results(jobmanager: RunningJobManager) -> None:
    result = weir("run", KEYED_SUM, "--", "60", env=jobmanager.env())

    assert result.returncode == 0, result.output
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    job_id = submitted_job_id(result.stdout)
    assert lines[:2] == ["argv=['60'] parallelism=1", f"Job has been submitted with JobID {job_id}"]
    assert [parse_sum_line(line) for line in lines[2:-1]] == \
        [("", key, total) for key, total in running_sums(60)]
    assert re.fullmatch(rf"Job {job_id} finished in \d+\.\d\d s", lines[-1]), lines[-1]


def test_parallelism_and_program_arguments_reach_the_job(jobmanager: RunningJobManager) -> None:
    count = 40
    result = weir("run", "--parallelism", "3", KEYED_SUM, "--", str(count), "--verbose",
                  env=jobmanager.env())

    assert result.returncode == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"argv=['{count}', '--verbose'] parallelism=3"
    # Each key is summed by one of the 3 subtasks (print prefix 1> .. 3>), in the order its
    # records arrived: the steps between its running sums are exactly its records.
    steps: dict[int, list[int]] = {}
    prefixes: dict[int, set[str]] = {}
    for prefix, key, total in map(parse_sum_line, lines[2:-1]):
        prefixes.setdefault(key, set()).add(prefix)
        steps.setdefault(key, []).append(total - sum(steps.get(key, [])))
    assert {key: sorted(values) for key, values in steps.items()} == \
        {key: [x for x in range(count) if x % KEYS == key] for key in range(KEYS)}
    assert all(len(p) == 1 and p <= {"1> ", "2> ", "3> "} for p in prefixes.values()), prefixes

    status = parse_status(weir("status", submitted_job_id(result.stdout),
                               env=jobmanager.env()).stdout)
    assert status.state == "FINISHED"
    assert {(row["VERTEX"], row["PARALLELISM"]) for row in status.subtasks} == {
        ("Source: numbers -> Map", "3"), ("Keyed Reduce -> Map -> Sink: Print to Std. Out", "3")}
    assert sorted(row["SUBTASK"] for row in status.subtasks) == ["0", "0", "1", "1", "2", "2"]


@pytest.fixture
def endless_job(jobmanager: RunningJobManager) -> Iterator[str]:
    """The unbounded job, submitted detached at parallelism 2; cancelled at the end in any case."""
    result = weir("run", "--detached", "-p", "2", ENDLESS, env=jobmanager.env())
    assert result.returncode == 0, result.output
    job_id = submitted_job_id(result.stdout)
    assert result.stdout.splitlines() == [f"Job has been submitted with JobID {job_id}"]
    yield job_id
    weir("cancel", job_id, env=jobmanager.env())


def test_detached_job_shows_in_status_and_list(jobmanager: RunningJobManager,
                                               endless_job: str) -> None:
    env = jobmanager.env()
    status = wait_for_status(endless_job, env, lambda s: bool(s.subtasks) and all(
        row["STATE"] == "RUNNING" for row in s.subtasks))

    assert status.fields["Job ID"] == endless_job
    assert status.fields["Name"] == "endless"
    assert status.state == "RUNNING"
    assert status.fields["End"] == "-"
    assert [(row["VERTEX"], row["PARALLELISM"], row["SUBTASK"]) for row in status.subtasks] == [
        ("Source: ticks -> Filter -> Sink: Print to Std. Out", "2", "0"),
        ("Source: ticks -> Filter -> Sink: Print to Std. Out", "2", "1")]
    assert all(re.fullmatch(r"taskmanager-\d+", row["TASKMANAGER"]) for row in status.subtasks)
    assert status.failure_cause == ""

    listed = weir("list", env=env)
    assert listed.returncode == 0, listed.output
    rows = parse_table(listed.stdout.splitlines())
    assert list(rows[0]) == ["JOB ID", "NAME", "STATE", "START", "DURATION"]
    mine = [row for row in rows if row["JOB ID"] == endless_job]
    assert len(mine) == 1 and mine[0]["NAME"] == "endless" and mine[0]["STATE"] == "RUNNING"


def test_cancel_stops_an_unbounded_job(jobmanager: RunningJobManager, endless_job: str) -> None:
    env = jobmanager.env()
    wait_for_status(endless_job, env, lambda s: s.state == "RUNNING")

    result = weir("cancel", endless_job, env=env)

    assert result.returncode == 0, result.output
    assert endless_job in result.stdout
    status = wait_for_status(endless_job, env, lambda s: s.state == "CANCELED")
    assert status.fields["End"] != "-"
    assert {row["STATE"] for row in status.subtasks} == {"CANCELED"}
    rows = parse_table(weir("list", env=env).stdout.splitlines())
    assert [row["STATE"] for row in rows if row["JOB ID"] == endless_job] == ["CANCELED"]


def test_failing_job_reports_the_users_exception(jobmanager: RunningJobManager) -> None:
    result = weir("run", FAILING, env=jobmanager.env())

    assert result.returncode == 1, result.output
    job_id = submitted_job_id(result.stdout)
    assert f"Job {job_id} failed" in result.stderr
    assert "ValueError: unlucky record 13" in result.stderr
    assert ", in reject_thirteen" in result.stderr
    assert 'raise ValueError(f"unlucky record {x}")' in result.stderr  # the user's source line
    assert "weir/cli" not in result.stderr and "runpy" not in result.stderr  # no client frames

    status = parse_status(weir("status", job_id, env=jobmanager.env()).stdout)
    assert status.state == "FAILED"
    assert "ValueError: unlucky record 13" in status.failure_cause
    assert "reject_thirteen" in status.failure_cause
    assert {row["STATE"] for row in status.subtasks} == {"FAILED"}


# ------------------------------------------------------------------ errors a user can fix


@pytest.mark.parametrize("command", [["list"], ["status", "0" * 32], ["run", KEYED_SUM]])
def test_unreachable_jobmanager_is_a_clear_error(command: list[str]) -> None:
    address = f"127.0.0.1:{free_port()}"

    result = weir(*command, "--jobmanager", address)

    assert result.returncode == 1
    assert f"error: cannot reach JobManager at {address}" in result.stderr
    assert "weir jobmanager" in result.stderr and "--jobmanager" in result.stderr
    assert_no_traceback(result.output)


def test_unreachable_jobmanager_from_the_environment(jobmanager: RunningJobManager) -> None:
    address = f"127.0.0.1:{free_port()}"

    result = weir("list", env=jobmanager.env(WEIR_JOBMANAGER=address))

    assert result.returncode == 1
    assert f"cannot reach JobManager at {address}" in result.stderr
    assert_no_traceback(result.output)


@pytest.mark.parametrize("command", [["list"], ["run", KEYED_SUM]])
def test_wrong_token_is_a_clear_error(jobmanager: RunningJobManager, command: list[str]) -> None:
    result = weir(*command, env=jobmanager.env(WEIR_TOKEN="not-the-token"))

    assert result.returncode == 1
    assert f"error: the JobManager at {jobmanager.address} rejected the token" in result.stderr
    assert "--token" in result.stderr and "WEIR_TOKEN" in result.stderr
    assert_no_traceback(result.output)


@pytest.mark.parametrize("command", [["list"], ["cancel", "0" * 32], ["run", KEYED_SUM]])
def test_missing_token_is_a_clear_error(jobmanager: RunningJobManager, command: list[str]) -> None:
    result = weir(*command, "--jobmanager", jobmanager.address)

    assert result.returncode == 1
    assert f"error: the JobManager at {jobmanager.address} requires a token" in result.stderr
    assert "--token" in result.stderr
    assert_no_traceback(result.output)


def test_token_option_overrides_the_environment(jobmanager: RunningJobManager) -> None:
    result = weir("list", "--token", jobmanager.token,
                  env=jobmanager.env(WEIR_TOKEN="not-the-token"))

    assert result.returncode == 0, result.output
    assert result.stdout.startswith("JOB ID")


def test_run_of_a_missing_file(jobmanager: RunningJobManager) -> None:
    result = weir("run", "no/such/job.py", env=jobmanager.env())

    assert result.returncode == 2
    assert result.stderr == "error: no such file: no/such/job.py\n"
    assert result.stdout == ""


def test_run_of_a_file_with_a_syntax_error(jobmanager: RunningJobManager, tmp_path) -> None:
    program = tmp_path / "broken.py"
    program.write_text("from weir.datastream import StreamExecutionEnvironment\n\n"
                       "def main(:\n    pass\n")

    result = weir("run", str(program), env=jobmanager.env())

    assert result.returncode == 1
    assert f'File "{program}", line 3' in result.stderr
    assert "SyntaxError" in result.stderr
    assert_no_traceback(result.output)


def test_program_error_shows_only_the_programs_frames(jobmanager: RunningJobManager,
                                                      tmp_path) -> None:
    program = tmp_path / "typo.py"
    program.write_text("def build():\n    return undefined_name\n\n\nbuild()\n")

    result = weir("run", str(program), env=jobmanager.env())

    assert result.returncode == 1
    assert result.stderr.startswith("Traceback (most recent call last):\n")
    assert f'File "{program}", line 5, in <module>' in result.stderr
    assert "in build" in result.stderr
    assert "NameError: name 'undefined_name' is not defined" in result.stderr
    frames = re.findall(r'File "([^"]+)"', result.stderr)
    assert set(frames) == {str(program)}, frames


def test_program_without_a_job(jobmanager: RunningJobManager, tmp_path) -> None:
    program = tmp_path / "no_job.py"
    program.write_text("print('hello')\n")

    result = weir("run", str(program), env=jobmanager.env())

    assert result.returncode == 1
    assert result.stdout == "hello\n"
    assert "did not submit a job" in result.stderr and "env.execute()" in result.stderr
    assert_no_traceback(result.output)


def test_job_args_need_the_separator(jobmanager: RunningJobManager) -> None:
    result = weir("run", KEYED_SUM, "60", env=jobmanager.env())

    assert result.returncode == 2
    assert "unrecognized arguments: 60" in result.stderr
    assert "after --" in result.stderr


@pytest.mark.parametrize("command", ["status", "cancel"])
def test_unknown_job_id(jobmanager: RunningJobManager, command: str) -> None:
    result = weir(command, "feedfacefeedfacefeedfacefeedface", env=jobmanager.env())

    assert result.returncode == 1
    assert result.stderr == ("error: no job with id feedfacefeedfacefeedfacefeedface — "
                             "`weir list` shows the jobs\n")
    assert result.stdout == ""


def test_jobmanager_help_through_the_console_script() -> None:
    result = weir("jobmanager", "--help", console_script=True)

    assert result.returncode == 0, result.output
    assert result.stdout.startswith("usage: weir jobmanager")
    for option in ("--port", "--token", "--taskmanagers", "--slots"):
        assert option in result.stdout
    assert result.stderr == ""
