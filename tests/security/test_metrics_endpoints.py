"""The metrics endpoints of a JobManager and its TaskManagers answer on the configured
host only (127.0.0.1 unless ``metrics.reporter.prom.host`` says otherwise)."""

from __future__ import annotations

import json
import socket
import urllib.request

import pytest

from tests.fixtures.cluster import RunningJobManager


def _other_address() -> str:
    """An address of this machine that is not 127.0.0.1: its outward interface if it has
    one, else 127.0.0.2 (loopback too, but a socket bound to 127.0.0.1 does not answer it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent
            address = str(probe.getsockname()[0])
        except OSError:
            address = "127.0.0.2"
    return "127.0.0.2" if address.startswith("127.") else address


def test_metrics_endpoints_answer_on_the_configured_host_only(
        jobmanager: RunningJobManager) -> None:
    targets_url = f"http://{jobmanager.metrics_address}/targets"
    with urllib.request.urlopen(targets_url, timeout=10) as response:
        targets = json.loads(response.read())
    endpoints = [target for group in targets for target in group["targets"]]
    assert len(endpoints) == 3  # the JobManager and its two TaskManagers
    other = _other_address()
    for endpoint in endpoints:
        host, port = endpoint.rsplit(":", 1)
        assert host == "127.0.0.1"
        with urllib.request.urlopen(f"http://{endpoint}/metrics", timeout=10) as response:
            assert response.status == 200
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((other, int(port)), timeout=5).close()
