"""Run the ``weir`` command line as a user does, and read what it prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
JOBS = Path(__file__).resolve().parent / "jobs"
CONSOLE_SCRIPT = Path(sys.executable).with_name("weir")
CLIENT_ENV = ("WEIR_JOBMANAGER", "WEIR_TOKEN", "WEIR_TOKEN_FILE", "WEIR_TLS_CA")


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def weir(*args: str, env: Mapping[str, str] | None = None, timeout_s: float = 30,
         console_script: bool = False) -> Result:
    """``python -m weir.cli.main ARGS`` (or the ``weir`` console script) from the repository root.

    Without ``env`` the client gets no JobManager address or token from the environment.
    """
    base = {k: v for k, v in os.environ.items() if k not in CLIENT_ENV}
    command = [str(CONSOLE_SCRIPT)] if console_script else [sys.executable, "-m", "weir.cli.main"]
    done = subprocess.run([*command, *args], check=False, env=dict(env) if env is not None else base,
                          cwd=REPO, capture_output=True, text=True, timeout=timeout_s)
    return Result(done.returncode, done.stdout, done.stderr)


def submitted_job_id(stdout: str) -> str:
    """The id from the ``Job has been submitted with JobID <id>`` line."""
    match = re.search(r"^Job has been submitted with JobID ([0-9a-f]{32})$", stdout, re.MULTILINE)
    assert match, f"no job id in:\n{stdout}"
    return match.group(1)


def parse_table(lines: list[str]) -> list[dict[str, str]]:
    """Rows of a table printed by the CLI, keyed by header; cells are cut at the header columns."""
    header = lines[0]
    columns = [(m.group(), m.start()) for m in re.finditer(r"\S+(?: \S+)*", header)]
    rows = []
    for line in lines[1:]:
        cells = {}
        for i, (name, start) in enumerate(columns):
            end = columns[i + 1][1] if i + 1 < len(columns) else None
            cells[name] = line[start:end].strip()
        rows.append(cells)
    return rows


@dataclass(frozen=True)
class JobStatus:
    """What ``weir status`` printed: the header fields, subtask rows, and the failure cause."""

    fields: dict[str, str]
    subtasks: list[dict[str, str]]
    failure_cause: str

    @property
    def state(self) -> str:
        return self.fields["State"]


def parse_status(stdout: str) -> JobStatus:
    """Split ``weir status`` output into header, vertex table (one row per subtask) and cause."""
    text, _, cause = stdout.partition("\nFailure cause:\n")
    sections = text.strip("\n").split("\n\n")
    fields = dict(line.split(":", 1) for line in sections[0].splitlines())
    fields = {key: value.strip() for key, value in fields.items()}
    subtasks: list[dict[str, str]] = []
    if len(sections) > 1:
        vertex, parallelism = "", ""
        for row in parse_table(sections[1].splitlines()):
            vertex = row["VERTEX"] or vertex  # continuation rows leave vertex and parallelism empty
            parallelism = row["PARALLELISM"] or parallelism
            subtasks.append(dict(row, VERTEX=vertex, PARALLELISM=parallelism))
    return JobStatus(fields, subtasks, cause.strip())


def wait_for_status(job_id: str, env: Mapping[str, str], done: Callable[[JobStatus], bool],
                    timeout_s: float = 20) -> JobStatus:
    """Poll ``weir status`` until ``done(status)``; fail with the last output at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = weir("status", job_id, env=env)
        assert result.returncode == 0, result.output
        status = parse_status(result.stdout)
        if done(status):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} did not reach the expected status:\n{result.stdout}")
        time.sleep(0.2)
