"""Routes a task's output records to the channels of one output edge, in buffers.

``emit`` is synchronous and only sorts records into per-channel buffers; the
task awaits ``send_ready`` (full buffers) and ``flush`` (all buffers, at the
buffer timeout) from its mailbox loop, one sender at a time, so every channel
sees its buffers in order.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from weir.keygroups import key_group_to_operator_table, stable_hash
from weir.proto import jobmanager_pb2 as pb
from weir.taskmanager.network.environment import OutputChannel

__all__ = ["RecordWriter"]

_KEY_CACHE_SIZE = 100_000


class RecordWriter:
    """One output edge of a task: partitioner plus per-channel buffers."""

    def __init__(self, channels: Sequence[OutputChannel], partitioner: int,
                 buffer_records: int, key_selector: Callable[[Any], Any] | None = None,
                 max_parallelism: int = 128, channel_subtasks: Sequence[int] = ()) -> None:
        self._channels = list(channels)
        self._pending: list[list[Any]] = [[] for _ in channels]
        self._ready: deque[tuple[int, Any]] = deque()
        self._buffer_records = buffer_records
        self._next_channel = 0
        self.records_out = 0
        self._emit = self._choose_emit(partitioner)
        if partitioner == pb.HASH:
            assert key_selector is not None
            self._key_selector = key_selector
            table = key_group_to_operator_table(max_parallelism, len(channels))
            position = {subtask: i for i, subtask in enumerate(channel_subtasks)}
            self._channel_of_group = [position.get(s, s) for s in table]
            self._max_parallelism = max_parallelism
            # key -> channel: hot keys skip the stable hash (dict lookups use Python's hash,
            # which is fine within one process)
            self._channel_of_key: dict[Any, int] = {}
        self._random = random.Random()

    def _choose_emit(self, partitioner: int) -> Callable[[list[Any]], None]:
        if len(self._channels) == 1:
            return self._emit_single
        return {
            pb.FORWARD: self._emit_single,
            pb.REBALANCE: self._emit_round_robin,
            pb.RESCALE: self._emit_round_robin,
            pb.SHUFFLE: self._emit_random,
            pb.BROADCAST: self._emit_broadcast,
            pb.HASH: self._emit_hash,
        }[partitioner]

    def emit(self, records: list[Any]) -> None:
        """Sort records into channel buffers; full buffers become ready to send."""
        if records:
            self.records_out += len(records)
            self._emit(records)

    def _emit_single(self, records: list[Any]) -> None:
        self._append(0, records)

    def _emit_round_robin(self, records: list[Any]) -> None:
        n = len(self._channels)
        start = self._next_channel
        for offset in range(min(n, len(records))):
            self._append((start + offset) % n, records[offset::n])
        self._next_channel = (start + len(records)) % n

    def _emit_random(self, records: list[Any]) -> None:
        n = len(self._channels)
        buckets: list[list[Any]] = [[] for _ in range(n)]
        choice = self._random.randrange
        for record in records:
            buckets[choice(n)].append(record)
        for channel, bucket in enumerate(buckets):
            if bucket:
                self._append(channel, bucket)

    def _emit_broadcast(self, records: list[Any]) -> None:
        for channel in range(len(self._channels)):
            self._append(channel, records)

    def _emit_hash(self, records: list[Any]) -> None:
        n = len(self._channels)
        buckets: list[list[Any]] = [[] for _ in range(n)]
        key_of = self._key_selector
        table = self._channel_of_group
        maxp = self._max_parallelism
        cache = self._channel_of_key
        cached = cache.get
        for record in records:
            key = key_of(record)
            channel = cached(key)
            if channel is None:
                channel = cache[key] = table[stable_hash(key) % maxp]
            buckets[channel].append(record)
        if len(cache) > _KEY_CACHE_SIZE:
            cache.clear()
        for channel, bucket in enumerate(buckets):
            if bucket:
                self._append(channel, bucket)

    def _append(self, channel: int, records: list[Any]) -> None:
        pending = self._pending[channel]
        pending.extend(records)
        limit = self._buffer_records
        if len(pending) >= limit:
            for start in range(0, len(pending), limit):
                self._ready.append((channel, pending[start:start + limit]))
            self._pending[channel] = []

    @property
    def has_ready(self) -> bool:
        return bool(self._ready)

    async def send_ready(self) -> None:
        """Send the full buffers (waits for credit: this is where backpressure bites)."""
        ready = self._ready
        channels = self._channels
        while ready:
            channel, buffer = ready.popleft()
            await channels[channel].send(buffer)

    async def flush(self) -> None:
        """Send every buffer, full or not."""
        for channel, pending in enumerate(self._pending):
            if pending:
                self._ready.append((channel, pending))
                self._pending[channel] = []
        await self.send_ready()

    async def broadcast_event(self, event: Any) -> None:
        """Flush, then send ``event`` on every channel, in order after the records."""
        await self.flush()
        for channel in self._channels:
            await channel.send(event)
