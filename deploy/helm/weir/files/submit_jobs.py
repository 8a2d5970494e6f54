"""Submit the chart's ``jobs:`` to the JobManager beside this sidecar, and keep them submitted.

Usage: ``python submit_jobs.py JOBS_JSON`` (the chart mounts ``jobs.json`` and the programs
next to it). The JobManager's address, token and CA come from ``WEIR_JOBMANAGER``,
``WEIR_TOKEN_FILE`` and ``WEIR_TLS_CA``, as for the ``weir`` CLI.

Every ``POLL_S`` seconds, while the JobManager answers:

1. list its jobs;
2. for each wanted job, decide (``jobs_to_submit``): a job this sidecar submitted is left
   alone while the JobManager still lists it, in any state (a user may have cancelled it);
   a job the JobManager no longer lists (it restarted without high-availability storage)
   is submitted again; a job not yet submitted is adopted if one of that name is live
   (resumed from high-availability storage, or submitted by an earlier sidecar), else
   submitted;
3. submit with ``weir run -d`` and remember the job id it prints.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

POLL_S = 10.0
# JobState values that are not over (CREATED, RUNNING, CANCELING, FAILING, RESTARTING).
LIVE_STATES = frozenset({1, 2, 4, 6, 8})
_SUBMITTED = re.compile(r"Job has been submitted with JobID (\S+)")


@dataclass(frozen=True)
class WantedJob:
    name: str
    file: str
    args: tuple[str, ...] = ()
    parallelism: int = 0


@dataclass(frozen=True)
class ListedJob:
    job_id: str
    name: str
    state: int


def jobs_to_submit(wanted: list[WantedJob], listed: list[ListedJob],
                   submitted: dict[str, str]) -> tuple[list[WantedJob], dict[str, str]]:
    """Which wanted jobs to submit now, and the job ids known for the others.

    ``submitted`` maps a wanted job's name to the id it was last submitted (or adopted) as.
    """
    listed_ids = {job.job_id for job in listed}
    live_by_name = {job.name: job.job_id for job in listed if job.state in LIVE_STATES}
    known: dict[str, str] = {}
    to_submit = []
    for job in wanted:
        previous = submitted.get(job.name)
        if previous is not None and previous in listed_ids:
            known[job.name] = previous
        elif job.name in live_by_name:
            known[job.name] = live_by_name[job.name]
        else:
            to_submit.append(job)
    return to_submit, known


def _wanted(path: Path) -> list[WantedJob]:
    return [WantedJob(item["name"], str(path.parent / item["file"]),
                      tuple(str(arg) for arg in item.get("args") or ()),
                      int(item.get("parallelism") or 0))
            for item in json.loads(path.read_text())]


def _listed() -> list[ListedJob] | None:
    """The JobManager's jobs, or None while it does not answer."""
    from weir.cli.main import resolve_address
    from weir.rpc.client import JobManagerClient
    from weir.rpc.credentials import resolve_tls_ca, resolve_token

    try:
        with JobManagerClient(resolve_address(None, os.environ),
                              resolve_token(None, None, os.environ), timeout_s=10,
                              tls_root_certificates=resolve_tls_ca(None, os.environ)) as client:
            return [ListedJob(job.job_id, job.name, job.state) for job in client.list_jobs()]
    except Exception as error:  # noqa: BLE001 - any failure means: not reachable yet
        print(f"JobManager not reachable yet: {error}", flush=True)
        return None


def _submit(job: WantedJob) -> str | None:
    command = ["weir", "run", "-d"]
    if job.parallelism:
        command += ["-p", str(job.parallelism)]
    command += [job.file, *(["--", *job.args] if job.args else [])]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    match = _SUBMITTED.search(result.stdout)
    if result.returncode != 0 or match is None:
        print(f"submitting {job.name} failed ({result.returncode}):\n{result.stderr.strip()}",
              flush=True)
        return None
    print(f"submitted {job.name} as {match.group(1)}", flush=True)
    return match.group(1)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: submit_jobs.py JOBS_JSON", file=sys.stderr)
        return 2
    wanted = _wanted(Path(argv[0]))
    submitted: dict[str, str] = {}
    while True:
        listed = _listed()
        if listed is not None:
            to_submit, submitted = jobs_to_submit(wanted, listed, submitted)
            for job in to_submit:
                job_id = _submit(job)
                if job_id is not None:
                    submitted[job.name] = job_id
        time.sleep(POLL_S)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
