"""The TaskManager's data plane: binds output channels to input gates, locally or over TCP.

Handshake for a channel (Flink's credit-based protocol, producer-initiated):

1. The consumer task registers its input channel (``register_input``).
2. The producer task opens its output channel: a local one binds directly; a
   remote one sends SUBSCRIBE over the connection to the consumer's TaskManager.
3. When both sides are known, the consumer side grants the initial credits.
   The producer sends one buffer per credit; each buffer the consumer task
   polls returns one credit.

A TCP connection carries frames only after the cluster-secret handshake
(``weir.taskmanager.network.handshake``) succeeded, inside TLS when
``security.ssl.internal.enabled`` is set. A refused connection is closed and logged;
the TaskManager's jobs go on.

Everything here runs on the TaskManager's event loop; no locks.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any, Protocol

from weir.config.internal_ssl import InternalSslOptions
from weir.graph.deployment import ChannelKey
from weir.taskmanager.network.credit import Credit
from weir.taskmanager.network.handshake import (
    HANDSHAKE_TIMEOUT_S,
    HandshakeError,
    authenticate_client,
    authenticate_server,
    checked_secret,
)
from weir.taskmanager.network.input_gate import InputGate
from weir.taskmanager.network.transport import CREDIT, DATA, SUBSCRIBE, Connection

__all__ = ["LocalOutputChannel", "NetworkEnvironment", "OutputChannel", "RemoteOutputChannel"]

log = logging.getLogger(__name__)
DEFAULT_INITIAL_CREDITS = 2  # as Flink's buffers-per-channel; see task_settings.DEFAULT_BUFFER_RECORDS


class OutputChannel(Protocol):
    credit: Credit  # what the consumer granted and the channel has not spent
    bytes_sent: int  # serialized for the network (0 on a local channel: nothing is)

    async def send(self, item: Any) -> None: ...


class LocalOutputChannel:
    """A channel to a task on the same TaskManager: buffers are passed by reference."""

    def __init__(self) -> None:
        self.credit = Credit()
        self.bytes_sent = 0
        self._target: tuple[InputGate, int] | None = None

    def bind(self, gate: InputGate, channel: int) -> None:
        self._target = (gate, channel)

    async def send(self, item: Any) -> None:
        await self.credit.acquire()
        assert self._target is not None, "credit is granted only after binding"
        gate, channel = self._target
        gate.deliver(channel, item)


class RemoteOutputChannel:
    """A channel to a task on another TaskManager."""

    def __init__(self, key: ChannelKey, connection: Connection) -> None:
        self.credit = Credit()
        self.bytes_sent = 0
        self._key = key
        self._connection = connection
        connection.send(SUBSCRIBE, key, None)

    async def send(self, item: Any) -> None:
        await self.credit.acquire()
        self.bytes_sent += self._connection.send(DATA, self._key, item)
        await self._connection.drain()


class _RemoteSubscriber:
    """The consumer side's handle on a remote producer: returns credits over the connection."""

    def __init__(self, key: ChannelKey, connection: Connection) -> None:
        self.key = key
        self.connection = connection

    def add_credit(self, amount: int) -> None:
        self.connection.send(CREDIT, self.key, amount)


class NetworkEnvironment:
    """Owns the TCP server and client connections and the channel bindings of one TaskManager.

    Without ``cluster_secret`` only local channels work (``start`` and remote outputs
    refuse); ``internal_ssl`` adds TLS beneath the handshake.
    """

    def __init__(self, bind_host: str = "127.0.0.1",
                 initial_credits: int = DEFAULT_INITIAL_CREDITS, *,
                 cluster_secret: bytes | None = None,
                 internal_ssl: InternalSslOptions | None = None,
                 handshake_timeout_s: float = HANDSHAKE_TIMEOUT_S) -> None:
        self._bind_host = bind_host
        self._initial_credits = initial_credits
        self._secret = None if cluster_secret is None else checked_secret(cluster_secret)
        self._internal_ssl = internal_ssl
        self._client_ssl: ssl.SSLContext | None = None
        self._handshake_timeout_s = handshake_timeout_s
        self._server: asyncio.base_events.Server | None = None
        self._peers: dict[tuple[str, int], Connection] = {}
        self._connecting: dict[tuple[str, int], asyncio.Future[Connection]] = {}
        self._inputs: dict[ChannelKey, tuple[InputGate, int, int]] = {}  # gate, channel, credits
        self._local_outputs: dict[ChannelKey, LocalOutputChannel] = {}
        self._remote_outputs: dict[ChannelKey, RemoteOutputChannel] = {}
        self._subscribers: dict[ChannelKey, _RemoteSubscriber] = {}
        self._connections: set[Connection] = set()
        self.port = 0

    async def start(self, port: int = 0) -> int:
        """Open the data port (TLS-wrapped when configured); returns its number."""
        self._require_secret()
        server_ssl = None
        if self._internal_ssl is not None:
            server_ssl = self._internal_ssl.server_context()
            self._client_context()  # a bad certificate fails here, not at the first channel
        self._server = await asyncio.start_server(
            self._accept, self._bind_host, port, ssl=server_ssl,
            ssl_handshake_timeout=self._handshake_timeout_s if server_ssl else None)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    def _require_secret(self) -> bytes:
        if self._secret is None:
            raise RuntimeError("data connections between TaskManagers need the cluster secret")
        return self._secret

    def _client_context(self) -> ssl.SSLContext | None:
        if self._internal_ssl is not None and self._client_ssl is None:
            self._client_ssl = self._internal_ssl.client_context()
        return self._client_ssl

    async def close(self) -> None:
        for connection in list(self._connections):
            connection.close()
        if self._server is not None:
            self._server.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await authenticate_client(reader, writer, self._require_secret(),
                                      self._handshake_timeout_s)
        except HandshakeError as error:
            writer.transport.abort()  # nothing to flush; frees the fd at once, TLS or not
            log.warning("refused a data connection from %s: %s",
                        _address(writer.get_extra_info("peername")), error)
            return
        except BaseException:  # cancelled (the TaskManager stops): never leak the socket
            writer.transport.abort()
            raise
        self._connections.add(Connection(reader, writer, self))

    # ----------------------------------------------------------- consumer side

    def register_input(self, key: ChannelKey, gate: InputGate, channel: int,
                       credits: int | None = None) -> None:
        """Channel ``channel`` of ``gate`` reads ``key``; its sender gets ``credits`` (the
        environment's initial credits by default)."""
        self._inputs[key] = (gate, channel, credits or self._initial_credits)
        local = self._local_outputs.get(key)
        if local is not None:
            self._bind_local(key, local)
        subscriber = self._subscribers.get(key)
        if subscriber is not None:
            self._bind_remote(key, subscriber)

    def unregister_inputs(self, keys: list[ChannelKey]) -> None:
        for key in keys:
            self._inputs.pop(key, None)
            self._subscribers.pop(key, None)
            self._local_outputs.pop(key, None)

    # ----------------------------------------------------------- producer side

    async def open_output(self, key: ChannelKey, host: str, port: int,
                          local: bool) -> LocalOutputChannel | RemoteOutputChannel:
        if local:
            channel = LocalOutputChannel()
            self._local_outputs[key] = channel
            if key in self._inputs:
                self._bind_local(key, channel)
            return channel
        connection = await self._connect(host, port)
        remote = RemoteOutputChannel(key, connection)
        self._remote_outputs[key] = remote
        return remote

    def release_outputs(self, keys: list[ChannelKey]) -> None:
        for key in keys:
            self._remote_outputs.pop(key, None)
            if key not in self._inputs:
                self._local_outputs.pop(key, None)

    async def _connect(self, host: str, port: int) -> Connection:
        self._require_secret()
        peer = (host, port)
        if peer in self._peers:
            return self._peers[peer]
        pending = self._connecting.get(peer)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._connecting[peer] = pending
            try:
                connection = await self._open_authenticated(host, port)
                self._connections.add(connection)
                self._peers[peer] = connection
                pending.set_result(connection)
            except OSError as error:
                pending.set_exception(ConnectionError(
                    f"cannot open a data connection to TaskManager at {host}:{port}: {error}"))
            finally:
                del self._connecting[peer]
        return await asyncio.shield(pending)

    async def _open_authenticated(self, host: str, port: int) -> Connection:
        """Connect (over TLS when configured) and make the server prove itself."""
        secret = self._require_secret()
        client_ssl = self._client_context()
        reader, writer = await asyncio.open_connection(
            host, port, ssl=client_ssl,
            ssl_handshake_timeout=self._handshake_timeout_s if client_ssl else None)
        try:
            await authenticate_server(reader, writer, secret, self._handshake_timeout_s)
        except BaseException:  # a refused server, or cancelled: never leak the socket
            writer.transport.abort()
            raise
        return Connection(reader, writer, self)

    # ---------------------------------------------------------------- binding

    def _bind_local(self, key: ChannelKey, output: LocalOutputChannel) -> None:
        gate, channel, credits = self._inputs[key]
        output.bind(gate, channel)
        gate.bind(channel, output.credit.add)
        output.credit.add(credits)

    def _bind_remote(self, key: ChannelKey, subscriber: _RemoteSubscriber) -> None:
        gate, channel, credits = self._inputs[key]
        gate.bind(channel, subscriber.add_credit)
        subscriber.add_credit(credits)

    # ------------------------------------------------------------------ frames

    def on_frame(self, connection: Connection, kind: int, key: Any, payload: Any,
                 size: int) -> None:
        if kind == DATA:
            target = self._inputs.get(key)
            if target is not None:  # else: the consumer was cancelled; drop
                target[0].bytes_received += size
                target[0].deliver(target[1], payload)
        elif kind == CREDIT:
            output = self._remote_outputs.get(key)
            if output is not None:
                output.credit.add(payload)
        elif kind == SUBSCRIBE:
            subscriber = _RemoteSubscriber(key, connection)
            self._subscribers[key] = subscriber
            if key in self._inputs:
                self._bind_remote(key, subscriber)

    def on_connection_lost(self, connection: Connection) -> None:
        self._connections.discard(connection)
        for peer, known in list(self._peers.items()):
            if known is connection:
                del self._peers[peer]


def _address(peername: Any) -> str:
    if isinstance(peername, tuple) and len(peername) >= 2:
        return f"{peername[0]}:{peername[1]}"
    return str(peername)
