"""The cluster-secret handshake that opens every data connection between TaskManagers: the
protocol steps as pure functions, and the async drivers over a loopback socket pair."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import pickle
import socket
import struct
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest

from weir.taskmanager.network.environment import NetworkEnvironment
from weir.taskmanager.network.handshake import (
    CHALLENGE_BYTES,
    HELLO_BYTES,
    MAGIC,
    NONCE_BYTES,
    PROOF_BYTES,
    ClientHandshake,
    HandshakeError,
    ServerHandshake,
    authenticate_client,
    authenticate_server,
)

SECRET = bytes(range(32))
OTHER_SECRET = bytes(range(1, 33))


def exchange(client: ClientHandshake, server: ServerHandshake) -> None:
    server.verify(client.respond(server.challenge(client.hello())))


# ------------------------------------------------------------------ the steps


def test_peers_with_the_same_secret_authenticate_each_other():
    exchange(ClientHandshake(SECRET), ServerHandshake(SECRET))


def test_messages_have_fixed_sizes():
    client, server = ClientHandshake(SECRET), ServerHandshake(SECRET)
    hello = client.hello()
    challenge = server.challenge(hello)
    proof = client.respond(challenge)
    assert (len(hello), len(challenge), len(proof)) == (HELLO_BYTES, CHALLENGE_BYTES, PROOF_BYTES)
    assert hello.startswith(MAGIC)


def test_proofs_are_hmac_sha256_over_both_nonces_with_a_label_per_side():
    client_nonce, server_nonce = b"c" * NONCE_BYTES, b"s" * NONCE_BYTES
    challenge = ServerHandshake(SECRET, server_nonce).challenge(MAGIC + client_nonce)
    proof = ClientHandshake(SECRET, client_nonce).respond(challenge)
    assert challenge == server_nonce + hmac.new(
        SECRET, b"weir-data-server" + client_nonce + server_nonce, hashlib.sha256).digest()
    assert proof == hmac.new(
        SECRET, b"weir-data-client" + client_nonce + server_nonce, hashlib.sha256).digest()


def test_a_server_without_the_secret_is_refused_by_the_client():
    client = ClientHandshake(SECRET)
    impostor = ServerHandshake(OTHER_SECRET)
    with pytest.raises(HandshakeError, match="server's proof is wrong"):
        client.respond(impostor.challenge(client.hello()))


def test_a_client_without_the_secret_is_refused_by_the_server():
    server = ServerHandshake(SECRET)
    impostor = ClientHandshake(OTHER_SECRET, b"n" * NONCE_BYTES)
    challenge = server.challenge(impostor.hello())
    forged = hmac.new(OTHER_SECRET, b"weir-data-client" + b"n" * NONCE_BYTES
                      + challenge[:NONCE_BYTES], hashlib.sha256).digest()
    with pytest.raises(HandshakeError, match="client's proof is wrong"):
        server.verify(forged)


def test_the_server_proof_reflected_back_is_refused():
    server = ServerHandshake(SECRET)
    challenge = server.challenge(MAGIC + os.urandom(NONCE_BYTES))
    with pytest.raises(HandshakeError):
        server.verify(challenge[NONCE_BYTES:])


def test_a_recorded_handshake_replayed_to_another_connection_is_refused():
    client = ClientHandshake(SECRET)
    hello = client.hello()
    recorded_proof = client.respond(ServerHandshake(SECRET).challenge(hello))
    next_server = ServerHandshake(SECRET)  # a fresh nonce
    next_server.challenge(hello)
    with pytest.raises(HandshakeError):
        next_server.verify(recorded_proof)


def test_every_handshake_draws_fresh_nonces():
    hellos = {ClientHandshake(SECRET).hello() for _ in range(20)}
    challenges = {ServerHandshake(SECRET).challenge(MAGIC + b"x" * NONCE_BYTES)[:NONCE_BYTES]
                  for _ in range(20)}
    assert len(hellos) == 20 and len(challenges) == 20


def pickled_frame(payload: Any) -> bytes:
    frame = pickle.dumps((0, "key", payload))
    return struct.pack("!I", len(frame)) + frame


@pytest.mark.parametrize("hello", [
    pickled_frame(list(range(100)))[:HELLO_BYTES],  # an old-style data frame
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".ljust(HELLO_BYTES, b"\0"),
    b"\0" * HELLO_BYTES,
    MAGIC + b"short",
    b"",
])
def test_anything_but_a_hello_is_refused(hello):
    with pytest.raises(HandshakeError):
        ServerHandshake(SECRET).challenge(hello)


def test_malformed_challenges_and_proofs_are_refused():
    with pytest.raises(HandshakeError):
        ClientHandshake(SECRET).respond(b"\0" * (CHALLENGE_BYTES - 1))
    server = ServerHandshake(SECRET)
    with pytest.raises(HandshakeError, match="before the hello"):
        server.verify(b"\0" * PROOF_BYTES)
    server.challenge(ClientHandshake(SECRET).hello())
    with pytest.raises(HandshakeError):
        server.verify(b"\0" * (PROOF_BYTES + 1))


@pytest.mark.parametrize("secret", [b"", b"short", "a string, not bytes" * 4])
def test_a_weak_secret_is_rejected(secret):
    with pytest.raises(ValueError, match="cluster secret"):
        ClientHandshake(secret)
    with pytest.raises(ValueError, match="cluster secret"):
        ServerHandshake(secret)


def test_remote_channels_need_the_cluster_secret():
    network = NetworkEnvironment()  # local channels only
    with pytest.raises(RuntimeError, match="cluster secret"):
        asyncio.run(network.start())
    with pytest.raises(RuntimeError, match="cluster secret"):
        asyncio.run(network.open_output(("job", 0, "v", 0, 0, 0), "127.0.0.1", 1, local=False))


# ------------------------------------------------------ the drivers on a socket pair


def on_socket_pair(client_side: Any, server_side: Any) -> tuple[Any, Any]:
    """Run ``client_side(reader, writer)`` and ``server_side(reader, writer)`` on the two ends
    of a socket pair; their results or exceptions."""
    async def scenario() -> tuple[Any, Any]:
        one, other = socket.socketpair()
        client_streams = await asyncio.open_connection(sock=one)
        server_streams = await asyncio.open_connection(sock=other)
        try:
            return tuple(await asyncio.gather(client_side(*client_streams),
                                              server_side(*server_streams),
                                              return_exceptions=True))
        finally:
            client_streams[1].close()
            server_streams[1].close()

    return run(scenario())


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, timeout=5))


def test_the_drivers_authenticate_both_ends_and_leave_the_stream_at_the_first_frame():
    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await authenticate_server(reader, writer, SECRET)
        writer.write(b"first frame")

    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
        await authenticate_client(reader, writer, SECRET)
        return await reader.readexactly(len(b"first frame"))

    assert on_socket_pair(client, server) == (None, b"first frame")


def test_the_drivers_refuse_a_peer_with_another_secret():
    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await authenticate_server(reader, writer, OTHER_SECRET)
        finally:
            writer.close()

    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await authenticate_client(reader, writer, SECRET)

    client_result, server_result = on_socket_pair(client, server)
    assert isinstance(client_result, HandshakeError)  # the server proved nothing to it
    assert isinstance(server_result, HandshakeError)  # and it closed without proof


class Marker:
    """Unpickling this creates a file: the proof that a frame was deserialised."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.path,))


def test_a_pickled_frame_instead_of_a_hello_is_refused_without_unpickling(tmp_path):
    marker = tmp_path / "pwned"

    async def attacker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
        writer.write(pickled_frame(Marker(marker)))
        await writer.drain()
        return await reader.read()

    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await authenticate_client(reader, writer, SECRET)
        finally:
            writer.close()

    sent_back, refused = on_socket_pair(attacker, server)
    assert isinstance(refused, HandshakeError)
    assert sent_back == b""  # nothing, not even a challenge
    assert not marker.exists()


def test_a_silent_peer_is_dropped_after_the_timeout():
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
        return await reader.read()  # until the server closes

    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await authenticate_client(reader, writer, SECRET, timeout_s=0.2)
        finally:
            writer.close()

    sent_back, refused = on_socket_pair(silent, server)
    assert isinstance(refused, HandshakeError) and "within" in str(refused)
    assert sent_back == b""


def test_a_peer_that_hangs_up_midway_is_refused():
    async def quitter(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(ClientHandshake(SECRET).hello()[:10])
        await writer.drain()
        writer.close()

    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await authenticate_client(reader, writer, SECRET)

    _, refused = on_socket_pair(quitter, server)
    assert isinstance(refused, HandshakeError) and "closed" in str(refused)
