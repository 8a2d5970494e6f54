"""Attacks on the JobManager's gRPC port, through the real ``weir`` CLI and real
``weir jobmanager`` processes: no job without the token, no start on a reachable address
without a token (unless ``--insecure``), the token from a file, and TLS end to end
(clients and the TaskManagers' reports)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.cli import JOBS, REPO, parse_table, submitted_job_id, weir
from tests.fixtures.cluster import RunningJobManager, start_jobmanager, stop_jobmanager
from tests.security.certificates import CertificateFiles, self_signed_certificate

pytestmark = pytest.mark.timeout(180)

KEYED_SUM = str(JOBS / "keyed_sum.py")
# A start that is refused must not get as far as starting Ray (seconds, not tens of them).
REFUSED_WITHIN_S = 15


def client_env(jobmanager: RunningJobManager, **extra: str) -> dict[str, str]:
    """A client environment naming ``jobmanager`` and nothing else of weir's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEIR_")}
    env.update(WEIR_JOBMANAGER=jobmanager.address, **extra)
    return env


def job_ids(jobmanager: RunningJobManager, *args: str, **env: str) -> set[str]:
    listed = weir("list", *args, env=client_env(jobmanager, **env))
    assert listed.returncode == 0, listed.output
    if listed.stdout.strip() == "No jobs.":
        return set()
    return {row["JOB ID"] for row in parse_table(listed.stdout.splitlines())}


# ------------------------------------------------------------------ the token


def test_a_job_without_the_token_is_refused(jobmanager: RunningJobManager,
                                            tmp_path: Path) -> None:
    before = job_ids(jobmanager, WEIR_TOKEN=jobmanager.token)
    wrong = tmp_path / "wrong-token"
    wrong.write_text("not-the-token\n")

    missing = weir("run", KEYED_SUM, env=client_env(jobmanager))
    rejected = weir("run", KEYED_SUM, "--token-file", str(wrong), env=client_env(jobmanager))

    assert missing.returncode == 1
    assert missing.stderr == (f"error: the JobManager at {jobmanager.address} requires a token "
                              "and none was given — pass the JobManager's token with "
                              "--token-file PATH, WEIR_TOKEN_FILE or WEIR_TOKEN\n")
    assert rejected.returncode == 1
    assert f"the JobManager at {jobmanager.address} rejected the token" in rejected.stderr
    assert "Job has been submitted" not in missing.stdout + rejected.stdout
    assert job_ids(jobmanager, WEIR_TOKEN=jobmanager.token) == before


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "jm.example.com"])
def test_a_reachable_address_without_a_token_refuses_to_start(host: str) -> None:
    started = time.monotonic()
    result = weir("jobmanager", "--host", host, "--port", "0", console_script=True,
                  env={k: v for k, v in os.environ.items() if not k.startswith("WEIR_")},
                  timeout_s=60)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"error: refusing to listen on {host} without a token: anyone who can reach the port "
        "could run code on the cluster. Give the JobManager a token with --token-file PATH "
        "(or the WEIR_TOKEN / WEIR_TOKEN_FILE environment variable), or pass --insecure to "
        "accept jobs from anyone\n")
    assert time.monotonic() - started < REFUSED_WITHIN_S


def test_an_unreadable_token_file_refuses_to_start(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-token"
    result = weir("jobmanager", "--host", "0.0.0.0", "--port", "0", "--token-file",
                  str(missing), console_script=True, timeout_s=60)

    assert result.returncode == 2
    assert result.stderr == (f"error: cannot read the token file {missing}: "
                             "No such file or directory\n")


@pytest.fixture(scope="module")
def insecure_jobmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningJobManager]:
    """``--host 0.0.0.0 --insecure`` without any token."""
    log = tmp_path_factory.mktemp("insecure") / "jobmanager.log"
    running = start_jobmanager(log, "--host", "0.0.0.0", "--insecure", "--taskmanagers", "1",
                               "--slots", "1", token=None)
    yield running
    stop_jobmanager(running)


def test_insecure_starts_on_all_interfaces_and_warns(
        insecure_jobmanager: RunningJobManager) -> None:
    assert job_ids(insecure_jobmanager) == set()  # no token asked
    warnings = [line for line in insecure_jobmanager.log_path.read_text().splitlines()
                if "WARNING" in line and "--insecure" in line]
    assert len(warnings) == 1, insecure_jobmanager.log_path.read_text()
    assert "anyone who can reach 0.0.0.0 can submit jobs" in warnings[0]


# ------------------------------------------------------------------ token file and TLS


@dataclass(frozen=True)
class TlsCluster:
    jobmanager: RunningJobManager
    certificate: CertificateFiles
    token_file: Path


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsCluster]:
    """A JobManager on 0.0.0.0 with its token in a file and TLS with a self-signed
    certificate for localhost and 127.0.0.1 (the address its TaskManagers use)."""
    directory = tmp_path_factory.mktemp("tls")
    certificate = self_signed_certificate(directory)
    token_file = directory / "token"
    token_file.write_text("file-token-0123456789\n")
    token_file.chmod(0o600)
    running = start_jobmanager(directory / "jobmanager.log", "--host", "0.0.0.0",
                               "--token-file", str(token_file),
                               "--tls-cert", str(certificate.cert),
                               "--tls-key", str(certificate.key),
                               "--taskmanagers", "1", "--slots", "2", token=None)
    yield TlsCluster(running, certificate, token_file)
    stop_jobmanager(running)


def test_the_token_is_not_on_the_jobmanagers_command_line(tls_cluster: TlsCluster) -> None:
    pid = tls_cluster.jobmanager.process.pid
    command_line = Path(f"/proc/{pid}/cmdline").read_bytes()
    assert b"file-token-0123456789" not in command_line


def test_tls_round_trip_submit_and_list(tls_cluster: TlsCluster) -> None:
    env = client_env(tls_cluster.jobmanager, WEIR_TOKEN_FILE=str(tls_cluster.token_file),
                     WEIR_TLS_CA=str(tls_cluster.certificate.cert))

    run = weir("run", KEYED_SUM, "--", "20", env=env)

    # Attached: the job's printed lines come back from the TaskManager through the
    # JobManager's internal service, over TLS as well.
    assert run.returncode == 0, run.output + tls_cluster.jobmanager.log_path.read_text()
    job_id = submitted_job_id(run.stdout)
    assert "key=4 sum=46" in run.stdout.splitlines()  # 4 + 9 + 14 + 19
    assert re.search(rf"^Job {job_id} finished in", run.stdout, re.MULTILINE)
    listed = weir("list", "--token-file", str(tls_cluster.token_file), "--tls-ca",
                  str(tls_cluster.certificate.cert), env=client_env(tls_cluster.jobmanager))
    assert listed.returncode == 0, listed.output
    rows = {row["JOB ID"]: row for row in parse_table(listed.stdout.splitlines())}
    assert rows[job_id]["NAME"] == "keyed_sum" and rows[job_id]["STATE"] == "FINISHED"


def test_a_plain_client_is_told_about_tls(tls_cluster: TlsCluster) -> None:
    result = weir("list", "--token-file", str(tls_cluster.token_file),
                  env=client_env(tls_cluster.jobmanager))

    assert result.returncode == 1
    assert "if it serves TLS, pass the CA of its certificate with --tls-ca or WEIR_TLS_CA" \
        in result.stderr


def test_an_untrusted_certificate_is_refused(tls_cluster: TlsCluster, tmp_path: Path) -> None:
    stranger = self_signed_certificate(tmp_path, "stranger")

    result = weir("run", KEYED_SUM, "--token-file", str(tls_cluster.token_file),
                  "--tls-ca", str(stranger.cert), env=client_env(tls_cluster.jobmanager))

    assert result.returncode == 1
    assert (f"error: TLS with the JobManager at {tls_cluster.jobmanager.address} failed: it "
            "presented a certificate that cannot be verified") in result.stderr
    assert "CERTIFICATE_VERIFY_FAILED" in result.stderr
    assert "Job has been submitted" not in result.stdout


def test_tls_does_not_replace_the_token(tls_cluster: TlsCluster) -> None:
    result = weir("list", "--tls-ca", str(tls_cluster.certificate.cert),
                  env=client_env(tls_cluster.jobmanager))

    assert result.returncode == 1
    assert "requires a token and none was given" in result.stderr


def test_a_tls_client_against_a_plain_jobmanager(jobmanager: RunningJobManager,
                                                 tmp_path: Path) -> None:
    certificate = self_signed_certificate(tmp_path)

    result = weir("list", "--tls-ca", str(certificate.cert),
                  env=client_env(jobmanager, WEIR_TOKEN=jobmanager.token))

    assert result.returncode == 1
    assert f"TLS with the JobManager at {jobmanager.address} failed: it does not serve TLS" \
        in result.stderr


def test_the_jobmanager_rejects_a_key_that_does_not_match(tmp_path: Path) -> None:
    mine, other = self_signed_certificate(tmp_path, "mine"), self_signed_certificate(tmp_path,
                                                                                     "other")
    result = subprocess.run(
        [sys.executable, "-m", "weir.jobmanager", "--port", "0", "--tls-cert", str(mine.cert),
         "--tls-key", str(other.key)],
        capture_output=True, text=True, cwd=REPO, timeout=60, check=False)

    assert result.returncode == 2
    assert result.stderr.startswith(f"error: cannot use the TLS certificate {mine.cert} with "
                                     f"the key {other.key}")
