"""The handshake that opens every data connection between TaskManagers.

Data connections carry pickled frames, and unpickling runs code, so neither side reads a
frame before the other proved that it holds the cluster secret (random bytes the
JobManager generates when it starts and hands to the TaskManagers it starts). The proof is
a mutual challenge-response with HMAC-SHA256 over fixed-size raw messages; nothing read
during the handshake is deserialised. The connecting side is the client:

1. client → server: ``MAGIC`` + the client's fresh nonce (``HELLO_BYTES``).
2. server → client: the server's fresh nonce + the server's proof,
   HMAC(secret, ``b"weir-data-server"`` + client nonce + server nonce) (``CHALLENGE_BYTES``).
3. The client checks the server's proof, then sends its own (``PROOF_BYTES``):
   HMAC(secret, ``b"weir-data-client"`` + client nonce + server nonce).
4. The server checks the client's proof.

Both nonces are fresh for every connection, so a recorded proof is worthless on another
one; the two sides' proofs carry different labels, so a server's proof cannot be reflected
back as a client's; proofs are compared with ``hmac.compare_digest``. The async drivers
bound the exchange by a timeout, so a silent peer cannot hold a connection. The handshake
runs once per connection (inside TLS when that is configured); frames after it pay nothing.

``ClientHandshake`` and ``ServerHandshake`` are the pure protocol steps (no I/O);
``authenticate_server`` and ``authenticate_client`` drive them over asyncio streams.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Coroutine
from typing import Any

__all__ = [
    "CHALLENGE_BYTES",
    "HANDSHAKE_TIMEOUT_S",
    "HELLO_BYTES",
    "MAGIC",
    "MIN_SECRET_BYTES",
    "NONCE_BYTES",
    "PROOF_BYTES",
    "ClientHandshake",
    "HandshakeError",
    "ServerHandshake",
    "authenticate_client",
    "authenticate_server",
    "checked_secret",
]

MAGIC = b"WDP\x01"  # weir data plane, handshake version 1
NONCE_BYTES = 32
PROOF_BYTES = hashlib.sha256().digest_size
HELLO_BYTES = len(MAGIC) + NONCE_BYTES
CHALLENGE_BYTES = NONCE_BYTES + PROOF_BYTES
MIN_SECRET_BYTES = 16
HANDSHAKE_TIMEOUT_S = 10.0
_SERVER_LABEL = b"weir-data-server"
_CLIENT_LABEL = b"weir-data-client"


class HandshakeError(ConnectionError):
    """The peer did not prove that it belongs to the cluster (or the handshake broke off)."""


def checked_secret(secret: bytes) -> bytes:
    """``secret``, when it is long enough to be a cluster secret.

    Raises:
        ValueError: when it is not bytes or shorter than ``MIN_SECRET_BYTES``.
    """
    if not isinstance(secret, bytes) or len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the cluster secret must be at least {MIN_SECRET_BYTES} random bytes")
    return secret


def _fresh_nonce(nonce: bytes | None) -> bytes:
    if nonce is None:
        return secrets.token_bytes(NONCE_BYTES)
    if len(nonce) != NONCE_BYTES:
        raise ValueError(f"a nonce has {NONCE_BYTES} bytes")
    return nonce


def _proof(secret: bytes, label: bytes, client_nonce: bytes, server_nonce: bytes) -> bytes:
    return hmac.new(secret, label + client_nonce + server_nonce, hashlib.sha256).digest()


def _expect_size(message: bytes, size: int, what: str) -> None:
    if len(message) != size:
        raise HandshakeError(f"{what} has {len(message)} bytes, expected {size}")


class ClientHandshake:
    """The connecting side's steps: ``hello()``, then ``respond(challenge)``."""

    def __init__(self, secret: bytes, nonce: bytes | None = None) -> None:
        self._secret = checked_secret(secret)
        self._nonce = _fresh_nonce(nonce)

    def hello(self) -> bytes:
        """Step 1: the magic and this side's nonce."""
        return MAGIC + self._nonce

    def respond(self, challenge: bytes) -> bytes:
        """Steps 2-3: check the server's proof and return this side's proof.

        Raises:
            HandshakeError: when the server's proof is wrong.
        """
        _expect_size(challenge, CHALLENGE_BYTES, "the server's challenge")
        server_nonce, server_proof = challenge[:NONCE_BYTES], challenge[NONCE_BYTES:]
        expected = _proof(self._secret, _SERVER_LABEL, self._nonce, server_nonce)
        if not hmac.compare_digest(server_proof, expected):
            raise HandshakeError("the server's proof is wrong (not a TaskManager of this "
                                 "cluster)")
        return _proof(self._secret, _CLIENT_LABEL, self._nonce, server_nonce)


class ServerHandshake:
    """The accepting side's steps: ``challenge(hello)``, then ``verify(proof)``."""

    def __init__(self, secret: bytes, nonce: bytes | None = None) -> None:
        self._secret = checked_secret(secret)
        self._nonce = _fresh_nonce(nonce)
        self._client_nonce: bytes | None = None

    def challenge(self, hello: bytes) -> bytes:
        """Step 2: this side's nonce and its proof over both nonces.

        Raises:
            HandshakeError: when ``hello`` does not open a weir data connection.
        """
        _expect_size(hello, HELLO_BYTES, "the client's hello")
        if hello[:len(MAGIC)] != MAGIC:
            raise HandshakeError("not a weir data connection (wrong magic)")
        self._client_nonce = hello[len(MAGIC):]
        return self._nonce + _proof(self._secret, _SERVER_LABEL, self._client_nonce,
                                    self._nonce)

    def verify(self, proof: bytes) -> None:
        """Step 4: accept the client's proof or raise.

        Raises:
            HandshakeError: when the proof is wrong or comes before the hello.
        """
        if self._client_nonce is None:
            raise HandshakeError("a proof before the hello")
        _expect_size(proof, PROOF_BYTES, "the client's proof")
        expected = _proof(self._secret, _CLIENT_LABEL, self._client_nonce, self._nonce)
        if not hmac.compare_digest(proof, expected):
            raise HandshakeError("the client's proof is wrong (not a TaskManager of this "
                                 "cluster)")


async def authenticate_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                              secret: bytes, timeout_s: float = HANDSHAKE_TIMEOUT_S) -> None:
    """Run the client side on a fresh connection; returns once the server proved itself.

    Raises:
        HandshakeError: on a wrong proof, a timeout or a connection closed midway.
    """
    await _bounded(_client_steps(ClientHandshake(secret), reader, writer), timeout_s)


async def authenticate_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                              secret: bytes, timeout_s: float = HANDSHAKE_TIMEOUT_S) -> None:
    """Run the server side on an accepted connection; returns once the client proved itself.

    Raises:
        HandshakeError: on a wrong hello or proof, a timeout or a connection closed midway.
    """
    await _bounded(_server_steps(ServerHandshake(secret), reader, writer), timeout_s)


async def _client_steps(handshake: ClientHandshake, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> None:
    writer.write(handshake.hello())
    await writer.drain()
    writer.write(handshake.respond(await reader.readexactly(CHALLENGE_BYTES)))
    await writer.drain()


async def _server_steps(handshake: ServerHandshake, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> None:
    writer.write(handshake.challenge(await reader.readexactly(HELLO_BYTES)))
    await writer.drain()
    handshake.verify(await reader.readexactly(PROOF_BYTES))


async def _bounded(steps: Coroutine[Any, Any, None], timeout_s: float) -> None:
    """Run ``steps`` within ``timeout_s``; every way they can fail becomes ``HandshakeError``."""
    try:
        async with asyncio.timeout(timeout_s):
            await steps
    except HandshakeError:
        raise
    except TimeoutError:
        raise HandshakeError(f"no handshake within {timeout_s:g} s") from None
    except asyncio.IncompleteReadError:
        raise HandshakeError("the peer closed the connection during the handshake") from None
    except OSError as error:
        raise HandshakeError(f"the connection failed during the handshake: {error}") from None
