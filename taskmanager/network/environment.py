"""The TaskManager's data plane: binds output channels to input gates, locally or over TCP.

Handshake for a channel (Flink's credit-based protocol, producer-initiated):

1. The consumer task registers its input channel (``register_input``).
2. The producer task opens its output channel: a local one binds directly; a
   remote one sends SUBSCRIBE over the connection to the consumer's TaskManager.
3. When both sides are known, the consumer side grants the initial credits.
   The producer sends one buffer per credit; each buffer the consumer task
   polls returns one credit.

Everything here runs on the TaskManager's event loop; no locks.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from weir.graph.deployment import ChannelKey
from weir.taskmanager.network.credit import Credit
from weir.taskmanager.network.input_gate import InputGate
from weir.taskmanager.network.transport import CREDIT, DATA, SUBSCRIBE, Connection

__all__ = ["LocalOutputChannel", "NetworkEnvironment", "OutputChannel", "RemoteOutputChannel"]

DEFAULT_INITIAL_CREDITS = 16


class OutputChannel(Protocol):
    async def send(self, item: Any) -> None: ...


class LocalOutputChannel:
    """A channel to a task on the same TaskManager: buffers are passed by reference."""

    def __init__(self) -> None:
        self.credit = Credit()
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
        self._key = key
        self._connection = connection
        connection.send(SUBSCRIBE, key, None)

    async def send(self, item: Any) -> None:
        await self.credit.acquire()
        self._connection.send(DATA, self._key, item)
        await self._connection.drain()


class _RemoteSubscriber:
    """The consumer side's handle on a remote producer: returns credits over the connection."""

    def __init__(self, key: ChannelKey, connection: Connection) -> None:
        self.key = key
        self.connection = connection

    def add_credit(self, amount: int) -> None:
        self.connection.send(CREDIT, self.key, amount)


class NetworkEnvironment:
    """Owns the TCP server and client connections and the channel bindings of one TaskManager."""

    def __init__(self, bind_host: str = "127.0.0.1",
                 initial_credits: int = DEFAULT_INITIAL_CREDITS) -> None:
        self._bind_host = bind_host
        self._initial_credits = initial_credits
        self._server: asyncio.base_events.Server | None = None
        self._peers: dict[tuple[str, int], Connection] = {}
        self._connecting: dict[tuple[str, int], asyncio.Future[Connection]] = {}
        self._inputs: dict[ChannelKey, tuple[InputGate, int]] = {}
        self._local_outputs: dict[ChannelKey, LocalOutputChannel] = {}
        self._remote_outputs: dict[ChannelKey, RemoteOutputChannel] = {}
        self._subscribers: dict[ChannelKey, _RemoteSubscriber] = {}
        self._connections: set[Connection] = set()
        self.port = 0

    async def start(self, port: int = 0) -> int:
        self._server = await asyncio.start_server(self._accept, self._bind_host, port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        for connection in list(self._connections):
            connection.close()
        if self._server is not None:
            self._server.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(Connection(reader, writer, self))

    # ----------------------------------------------------------- consumer side

    def register_input(self, key: ChannelKey, gate: InputGate, channel: int) -> None:
        self._inputs[key] = (gate, channel)
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
        peer = (host, port)
        if peer in self._peers:
            return self._peers[peer]
        pending = self._connecting.get(peer)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._connecting[peer] = pending
            try:
                reader, writer = await asyncio.open_connection(host, port)
                connection = Connection(reader, writer, self)
                self._connections.add(connection)
                self._peers[peer] = connection
                pending.set_result(connection)
            except OSError as error:
                pending.set_exception(ConnectionError(
                    f"cannot open a data connection to TaskManager at {host}:{port}: {error}"))
            finally:
                del self._connecting[peer]
        return await asyncio.shield(pending)

    # ---------------------------------------------------------------- binding

    def _bind_local(self, key: ChannelKey, output: LocalOutputChannel) -> None:
        gate, channel = self._inputs[key]
        output.bind(gate, channel)
        gate.bind(channel, output.credit.add)
        output.credit.add(self._initial_credits)

    def _bind_remote(self, key: ChannelKey, subscriber: _RemoteSubscriber) -> None:
        gate, channel = self._inputs[key]
        gate.bind(channel, subscriber.add_credit)
        subscriber.add_credit(self._initial_credits)

    # ------------------------------------------------------------------ frames

    def on_frame(self, connection: Connection, kind: int, key: Any, payload: Any) -> None:
        if kind == DATA:
            target = self._inputs.get(key)
            if target is not None:  # else: the consumer was cancelled; drop
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
