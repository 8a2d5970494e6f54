"""TCP connections between TaskManagers: length-prefixed pickled frames, one connection per peer.

A ``Connection`` is made only for a peer that passed the cluster-secret handshake
(``weir.taskmanager.network.handshake``): unpickling a frame runs code.

Frames: ``(DATA, key, item)`` producer → consumer, ``(SUBSCRIBE, key, None)``
producer → consumer when a remote output channel opens, ``(CREDIT, key, n)``
consumer → producer. All logical channels between two TaskManagers share one
connection per direction of connection set-up.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import struct
from typing import Any, Protocol

__all__ = ["CREDIT", "DATA", "MAX_FRAME_BYTES", "SUBSCRIBE", "Connection", "FrameHandler"]

log = logging.getLogger(__name__)

DATA = 0
CREDIT = 1
SUBSCRIBE = 2
MAX_FRAME_BYTES = 256 * 1024 * 1024
_HEADER = struct.Struct("!I")


class FrameHandler(Protocol):
    def on_frame(self, connection: Connection, kind: int, key: Any, payload: Any,
                 size: int) -> None:
        """A frame arrived; ``size`` is its length on the wire in bytes."""

    def on_connection_lost(self, connection: Connection) -> None: ...


class Connection:
    """One TCP connection; ``send`` never awaits, flow control is by credits."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 handler: FrameHandler) -> None:
        self._reader = reader
        self._writer = writer
        self._handler = handler
        self._reading = asyncio.get_running_loop().create_task(self._read_loop())

    def send(self, kind: int, key: Any, payload: Any) -> int:
        """Write one frame; returns its length on the wire in bytes."""
        frame = pickle.dumps((kind, key, payload), protocol=pickle.HIGHEST_PROTOCOL)
        if len(frame) > MAX_FRAME_BYTES:
            raise ValueError(f"a network buffer of {len(frame)} bytes exceeds the "
                             f"{MAX_FRAME_BYTES} byte frame limit; records are too large")
        self._writer.write(_HEADER.pack(len(frame)) + frame)
        return _HEADER.size + len(frame)

    async def drain(self) -> None:
        await self._writer.drain()

    async def _read_loop(self) -> None:
        try:
            while True:
                header = await self._reader.readexactly(_HEADER.size)
                (length,) = _HEADER.unpack(header)
                if length > MAX_FRAME_BYTES:
                    raise ValueError(f"frame of {length} bytes exceeds the limit")
                kind, key, payload = pickle.loads(await self._reader.readexactly(length))
                self._handler.on_frame(self, kind, key, payload, _HEADER.size + length)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("data connection failed")
        finally:
            self._writer.close()  # else a connection the peer closed stays in CLOSE-WAIT
            self._handler.on_connection_lost(self)

    def close(self) -> None:
        self._reading.cancel()
        self._writer.close()
