"""Attacks on a TaskManager's data port while it runs a job: another local process connects
and sends what the TaskManager would once have unpickled. Nothing is unpickled, the
TaskManager closes the connection at once, and the job finishes with the exact output."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.fixtures.cluster import RunningJobManager, start_jobmanager, stop_jobmanager
from tests.security.certificates import self_signed_certificate
from tests.security.data_port import (
    TaskManagerEndpoint,
    internal_ssl_configuration,
    open_fds,
    probe,
    taskmanagers,
)
from weir.common import WatermarkStrategy
from weir.datastream import StreamExecutionEnvironment
from weir.datastream.connectors.datagen import DataGeneratorSource, RateLimiterStrategy

RECORDS = 6_000
KEYS = 7
# Well below the 10 s handshake timeout: the TaskManager refuses at once, it does not wait.
REFUSED_WITHIN_S = 5.0


def collect_while(attack: Callable[[], Any], records_per_second: float = 2_000
                  ) -> tuple[list[Any], Any]:
    """Run a job at parallelism 2 over the 2 TaskManagers (its key_by shuffle has channels
    between them) for about RECORDS / records_per_second seconds; once its first result
    arrived, so while it runs, call ``attack()``. Returns (the job's results sorted, what
    ``attack`` returned)."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    stream = (env.from_source(DataGeneratorSource(lambda i: i, RECORDS,
                                                  RateLimiterStrategy.per_second(
                                                      records_per_second)),
                              WatermarkStrategy.no_watermarks(), "numbers")
              .key_by(lambda x: x % KEYS)
              .map(lambda x: (x % KEYS, x)))
    with stream.execute_and_collect() as results:
        rows = [next(results)]
        outcome = attack()
        rows.extend(results)
    return sorted(rows), outcome


EXPECTED = sorted((x % KEYS, x) for x in range(RECORDS))


@pytest.fixture(scope="module")
def endpoints(jobmanager: RunningJobManager) -> list[TaskManagerEndpoint]:
    """The session cluster's TaskManagers (name, data port, pid)."""
    found = taskmanagers(jobmanager.ray_address)
    assert len(found) == 2, found
    return found


def assert_refused(outcome: dict[str, Any]) -> None:
    assert outcome["closed"], outcome
    assert outcome["seconds"] < REFUSED_WITHIN_S, outcome


def test_a_pickled_frame_sent_to_a_data_port_is_never_unpickled(cluster, endpoints, tmp_path):
    marker = tmp_path / "pickled-frame-ran"
    rows, outcomes = collect_while(lambda: [
        probe("pickled-frame", host=tm.host, port=tm.port, marker=str(marker))
        for tm in endpoints])
    for outcome in outcomes:
        assert_refused(outcome)
        assert outcome["received"] == 0, outcome  # not even a challenge: the hello was wrong
    assert rows == EXPECTED
    assert not marker.exists()


def test_a_forged_handshake_is_refused_and_what_follows_never_unpickled(cluster, endpoints,
                                                                        tmp_path):
    marker = tmp_path / "forged-proof-ran"
    rows, outcomes = collect_while(lambda: [
        probe("forged-proof", host=tm.host, port=tm.port, marker=str(marker))
        for tm in endpoints])
    for outcome in outcomes:
        assert outcome["challenge"] == 64, outcome  # the hello was right: a challenge came
        assert_refused(outcome)
        assert outcome["received"] == 0, outcome
    assert rows == EXPECTED
    assert not marker.exists()


def settled_fd_count(pid: int, at_most: int, timeout_s: float = 15) -> int:
    """The open fds of ``pid`` once they dropped to ``at_most`` (or when time is up)."""
    deadline = time.monotonic() + timeout_s
    while (count := open_fds(pid)) > at_most and time.monotonic() < deadline:
        time.sleep(0.2)
    return count


def test_connections_closed_by_the_peer_do_not_leak_descriptors(cluster, endpoints):
    connections = 100
    for tm in endpoints:
        before = open_fds(tm.pid)
        assert probe("open-and-close", host=tm.host, port=tm.port,
                     count=connections)["opened"] == connections
        # Ray's own sockets and files come and go; leaked connections would be 100 more.
        after = settled_fd_count(tm.pid, at_most=before + 10)
        assert after <= before + 10, (tm, before, after)


# --------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def tls_jobmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningJobManager]:
    """A JobManager whose 2 TaskManagers talk TLS to each other (a cluster-private
    certificate, hostname verified)."""
    directory = tmp_path_factory.mktemp("tls-jobmanager")
    options = internal_ssl_configuration(self_signed_certificate(directory))
    dynamic = [item for key, value in options.items() for item in ("-D", f"{key}={value}")]
    running = start_jobmanager(directory / "jobmanager.log", "--taskmanagers", "2",
                               "--slots", "1", *dynamic)
    yield running
    stop_jobmanager(running)


@pytest.mark.slow
def test_tls_data_plane_runs_the_job_and_refuses_plaintext(tls_jobmanager, monkeypatch,
                                                          tmp_path):
    monkeypatch.setenv("WEIR_JOBMANAGER", tls_jobmanager.address)
    monkeypatch.setenv("WEIR_TOKEN", tls_jobmanager.token)
    found = taskmanagers(tls_jobmanager.ray_address)
    assert len(found) == 2, found
    marker = tmp_path / "plaintext-frame-ran"
    rows, outcomes = collect_while(lambda: [
        probe("pickled-frame", host=tm.host, port=tm.port, marker=str(marker))
        for tm in found])
    for outcome in outcomes:
        assert_refused(outcome)
    assert rows == EXPECTED
    assert not marker.exists()

