"""W1 by hand in two plain-Python processes with a keyed exchange between them: what a
p=2 keyed job could reach on this machine with no engine at all.

Each process takes every other event, as a p=2 source does. Process k owns the users with
``user % 2 == k``: it aggregates its own events at once, without building a record. Of each
``BATCH`` events it takes, those of its peer's users (about half) go to the peer as one
pickled, length-prefixed batch over TCP on 127.0.0.1. It aggregates what its peer sends
between its own batches. Both answers together equal ``plain_w1``'s, which ``run.py``
checks.

It is the most favourable exchange there is: the key is the record's first field, the
channel one modulo, no buffer waits for credit, no watermark, timer or checkpoint, and
nothing is copied into a buffer before it is sent.
"""

from __future__ import annotations

import pickle
import selectors
import socket
import struct
import time
from typing import Any

from workloads import TS0

BATCH = 1000
_LENGTH = struct.Struct("!I")


def connected_pair() -> tuple[socket.socket, socket.socket]:
    """Two ends of one TCP connection on 127.0.0.1."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        one = socket.create_connection(server.getsockname())
        other, _ = server.accept()
    for end in (one, other):
        end.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return one, other


class _Peer:
    """The non-blocking connection: frames queued to send, frames received and not yet read."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.outgoing = bytearray()
        self.incoming = bytearray()
        self.done = False  # the peer sent its empty end frame
        self.selector = selectors.DefaultSelector()
        self.selector.register(sock, selectors.EVENT_READ)

    def send(self, payload: bytes) -> None:
        self.outgoing += _LENGTH.pack(len(payload))
        self.outgoing += payload

    def pump(self) -> list[Any]:
        """Send what the socket takes now; return the batches received whole."""
        if self.outgoing:
            try:
                del self.outgoing[:self.sock.send(self.outgoing)]
            except BlockingIOError:
                pass
        try:
            while chunk := self.sock.recv(1 << 20):
                self.incoming += chunk
        except BlockingIOError:
            pass
        batches = []
        view, start = self.incoming, 0
        while len(view) - start >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(view, start)
            if len(view) - start - _LENGTH.size < length:
                break
            if length == 0:
                self.done = True
            else:
                batches.append(pickle.loads(view[start + _LENGTH.size:start + _LENGTH.size
                                                 + length]))
            start += _LENGTH.size + length
        del self.incoming[:start]
        return batches

    def finish(self) -> list[Any]:
        """Send the end frame and everything queued; receive until the peer's end frame."""
        self.outgoing += _LENGTH.pack(0)
        batches = []
        while self.outgoing or not self.done:
            if self.outgoing:
                self.selector.modify(self.sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
            else:
                self.selector.modify(self.sock, selectors.EVENT_READ)
            self.selector.select(1.0)
            batches.extend(self.pump())
        return batches


def keyed_share(n: int, index: int, split: int, sock: socket.socket
                ) -> tuple[float, float, int, float]:
    """Process ``index`` of ``split`` (2): (wall s, thread CPU s, windows, sum of squared
    counts) of its users' windows."""
    started, cpu_started = time.perf_counter(), time.thread_time()
    peer = _Peer(sock)
    table: dict[tuple[int, int], tuple[int, float]] = {}

    def aggregate(batches: list[Any]) -> None:
        for batch in batches:
            for user, ts, amount in batch:
                key = (user, ts - ts % 60000)
                acc = table.get(key)
                table[key] = (1, amount) if acc is None else (acc[0] + 1, acc[1] + amount)

    remote: list[tuple[int, int, float]] = []
    for first in range(index, n, split * BATCH):
        for i in range(first, min(n, first + split * BATCH), split):
            user, ts, amount = (i * 7919) % 10000, TS0 + i, (i % 100) * 0.5
            if user % split == index:
                key = (user, ts - ts % 60000)
                acc = table.get(key)
                table[key] = (1, amount) if acc is None else (acc[0] + 1, acc[1] + amount)
            else:
                remote.append((user, ts, amount))
        peer.send(pickle.dumps(remote, pickle.HIGHEST_PROTOCOL))
        remote = []
        aggregate(peer.pump())
    aggregate(peer.finish())
    sock.close()
    squares = float(sum(count * count for count, _ in table.values()))
    return time.perf_counter() - started, time.thread_time() - cpu_started, len(table), squares
