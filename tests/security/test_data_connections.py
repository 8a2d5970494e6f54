"""Data connections between two NetworkEnvironments in this process, over 127.0.0.1: only a
peer with the cluster secret (and, with TLS, a trusted certificate) gets a channel; a
refused peer leaves the server working; a closed connection leaves no descriptor behind."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest

from tests.security.certificates import CertificateFiles, self_signed_certificate
from tests.security.data_port import internal_ssl_configuration
from weir.config.internal_ssl import InternalSslOptions
from weir.taskmanager.network.environment import NetworkEnvironment
from weir.taskmanager.network.input_gate import InputGate

SECRET = b"s" * 32
OTHER_SECRET = b"o" * 32


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, timeout=20))


def key(producer: int) -> tuple[str, int, str, int, int, int]:
    return ("job", 0, "vertex", 0, 0, producer)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def tls(certificate: CertificateFiles, verify_hostname: bool = True) -> InternalSslOptions:
    options = InternalSslOptions.from_configuration(
        internal_ssl_configuration(certificate, verify_hostname))
    assert options is not None
    return options


async def delivered(consumer: NetworkEnvironment, port: int, producer: NetworkEnvironment,
                    producer_index: int = 0) -> Any:
    """Open a channel from ``producer`` to ``consumer`` (listening on ``port``), send one
    buffer over it and return what the consumer's gate received."""
    wakeup = asyncio.Event()
    gate = InputGate(1, wakeup.set)
    consumer.register_input(key(producer_index), gate, 0)
    channel = await producer.open_output(key(producer_index), "127.0.0.1", port, local=False)
    await channel.send(["record", producer_index])
    while (polled := gate.poll()) is None:
        wakeup.clear()
        await wakeup.wait()
    return polled[1]


async def refused_then_served(server: NetworkEnvironment, intruder: NetworkEnvironment,
                              member: NetworkEnvironment) -> None:
    """``intruder`` cannot open a channel to ``server``; ``member`` can, afterwards."""
    port = await server.start()
    try:
        with pytest.raises(ConnectionError):
            await intruder.open_output(key(0), "127.0.0.1", port, local=False)
        assert await delivered(server, port, member, producer_index=1) == ["record", 1]
    finally:
        for network in (server, intruder, member):
            await network.close()


def test_a_peer_without_the_secret_gets_no_channel_and_the_server_keeps_serving():
    run(refused_then_served(NetworkEnvironment(cluster_secret=SECRET),
                            NetworkEnvironment(cluster_secret=OTHER_SECRET),
                            NetworkEnvironment(cluster_secret=SECRET)))


def test_connections_closed_by_the_peer_are_closed_here():
    async def scenario() -> None:
        consumer = NetworkEnvironment(cluster_secret=SECRET)
        port = await consumer.start()
        baseline = open_fds()
        for round_ in range(20):
            producer = NetworkEnvironment(cluster_secret=SECRET)
            assert await delivered(consumer, port, producer, round_) == ["record", round_]
            await producer.close()
        for _ in range(100):  # until the consumer side saw every end of stream
            if open_fds() <= baseline:
                break
            await asyncio.sleep(0.05)
        assert open_fds() <= baseline
        await consumer.close()

    run(scenario())


# --------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    return self_signed_certificate(tmp_path_factory.mktemp("certs"))


def test_tls_peers_with_the_cluster_certificate_and_secret_exchange_buffers(certificate):
    async def scenario() -> None:
        consumer = NetworkEnvironment(cluster_secret=SECRET, internal_ssl=tls(certificate))
        producer = NetworkEnvironment(cluster_secret=SECRET, internal_ssl=tls(certificate))
        port = await consumer.start()
        try:
            assert await delivered(consumer, port, producer) == ["record", 0]
        finally:
            await producer.close()
            await consumer.close()

    run(scenario())


def test_tls_refuses_a_certificate_the_cluster_does_not_trust(certificate, tmp_path):
    stranger = self_signed_certificate(tmp_path, "stranger")
    run(refused_then_served(
        NetworkEnvironment(cluster_secret=SECRET, internal_ssl=tls(certificate)),
        NetworkEnvironment(cluster_secret=SECRET, internal_ssl=tls(stranger)),
        NetworkEnvironment(cluster_secret=SECRET, internal_ssl=tls(certificate))))


def test_the_secret_handshake_still_runs_inside_tls(certificate):
    run(refused_then_served(
        NetworkEnvironment(cluster_secret=SECRET, internal_ssl=tls(certificate)),
        NetworkEnvironment(cluster_secret=OTHER_SECRET, internal_ssl=tls(certificate)),
        NetworkEnvironment(cluster_secret=SECRET, internal_ssl=tls(certificate))))


def test_a_plaintext_peer_is_refused_by_a_tls_data_port(certificate):
    run(refused_then_served(
        NetworkEnvironment(cluster_secret=SECRET, internal_ssl=tls(certificate)),
        NetworkEnvironment(cluster_secret=SECRET),
        NetworkEnvironment(cluster_secret=SECRET, internal_ssl=tls(certificate))))


def test_hostname_verification_checks_the_address_the_client_dialled(tmp_path: Path):
    localhost_only = self_signed_certificate(tmp_path, "localhost-only", hosts=("localhost",))
    run(refused_then_served(
        NetworkEnvironment(cluster_secret=SECRET, internal_ssl=tls(localhost_only)),
        NetworkEnvironment(cluster_secret=SECRET, internal_ssl=tls(localhost_only)),
        NetworkEnvironment(cluster_secret=SECRET,
                           internal_ssl=tls(localhost_only, verify_hostname=False))))
