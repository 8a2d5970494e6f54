"""Routes a task's output records to the channels of one output edge, in buffers.

``emit`` is synchronous and only sorts records into per-channel buffers; the
task awaits ``send_ready`` (full buffers) and ``flush`` (all buffers, at the
buffer timeout) from its mailbox loop, one sender at a time, so every channel
sees its buffers in order.

A timestamped batch is partitioned with its timestamps; a channel's buffer holds
either timestamped or plain records, so a change of kind sends the buffer. A hash
partitioner computes each record's key once and sends it along (``KeyedBatch``).
With ``select``, the edge reads only part of the output (a side output, or
the main output of an operator that has side outputs).
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any

from weir.keygroups import key_group_to_operator_table, stable_hash
from weir.proto import jobmanager_pb2 as pb
from weir.taskmanager.network.environment import OutputChannel
from weir.taskmanager.records import KeyedBatch, TimestampedBatch

__all__ = ["RecordWriter"]

_KEY_CACHE_SIZE = 100_000


class RecordWriter:
    """One output edge of a task: partitioner plus per-channel buffers."""

    def __init__(self, channels: Sequence[OutputChannel], partitioner: int,
                 buffer_records: int, key_selector: Callable[[Any], Any] | None = None,
                 max_parallelism: int = 128, channel_subtasks: Sequence[int] = (),
                 select: Callable[[list[Any]], list[Any]] | None = None,
                 partition_function: Callable[[Any, int], int] | None = None) -> None:
        self._channels = list(channels)
        self._select = select
        self._pending: list[list[Any]] = [[] for _ in channels]
        self._pending_timestamps: list[list[Any] | None] = [None for _ in channels]
        self._pending_keys: list[list[Any]] | None = None  # a hash partitioner's
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
            self._channel_of_key: dict[Any, int] = {}  # see _channel_of_new_key
            if len(channels) > 1:
                self._pending_keys = [[] for _ in channels]
        if partitioner == pb.CUSTOM:
            assert key_selector is not None and partition_function is not None
            self._key_selector = key_selector
            self._partition = partition_function
        self._random = random.Random()
        if partitioner == pb.REBALANCE and channels:
            # As Flink: each producer starts at a random channel, so that producers whose
            # batches are shorter than the channel count do not all feed channel 0.
            self._next_channel = self._random.randrange(len(self._channels))

    def _choose_emit(self, partitioner: int
                     ) -> Callable[[list[Any], list[Any] | None], None]:
        if len(self._channels) == 1:
            return self._emit_single
        emit_of: dict[int, Callable[[list[Any], list[Any] | None], None]] = {
            pb.FORWARD: self._emit_single,
            pb.REBALANCE: self._emit_round_robin,
            pb.RESCALE: self._emit_round_robin,
            pb.SHUFFLE: self._emit_random,
            pb.BROADCAST: self._emit_broadcast,
            pb.HASH: self._emit_hash,
            pb.CUSTOM: self._emit_custom,
        }
        return emit_of[partitioner]

    def emit(self, records: list[Any]) -> None:
        """Sort records into channel buffers; full buffers become ready to send."""
        if self._select is not None:
            records = self._select(records)
        if records:
            self.records_out += len(records)
            self._emit(records, records.timestamps if isinstance(records, TimestampedBatch)
                       else None)

    def _emit_single(self, records: list[Any], timestamps: list[Any] | None) -> None:
        self._append(0, records, timestamps)

    def _emit_round_robin(self, records: list[Any], timestamps: list[Any] | None) -> None:
        n = len(self._channels)
        start = self._next_channel
        for offset in range(min(n, len(records))):
            self._append((start + offset) % n, records[offset::n],
                         None if timestamps is None else timestamps[offset::n])
        self._next_channel = (start + len(records)) % n

    def _emit_random(self, records: list[Any], timestamps: list[Any] | None) -> None:
        n = len(self._channels)
        choice = self._random.randrange
        self._append_buckets([choice(n) for _ in records], records, timestamps)

    def _emit_broadcast(self, records: list[Any], timestamps: list[Any] | None) -> None:
        for channel in range(len(self._channels)):
            self._append(channel, records, timestamps)

    def _emit_hash(self, records: list[Any], timestamps: list[Any] | None) -> None:
        # One loop per batch does it all: it is the exchange's per-record cost.
        n = len(self._channels)
        buckets: list[list[Any]] = [[] for _ in range(n)]
        stamps: list[list[Any]] = [[] for _ in range(n)]
        keys: list[list[Any]] = [[] for _ in range(n)]
        add_record = [bucket.append for bucket in buckets]
        add_stamp = [bucket.append for bucket in stamps]
        add_key = [bucket.append for bucket in keys]
        key_of = self._key_selector
        cached = self._channel_of_key.get
        for record, timestamp in zip(records, repeat(None) if timestamps is None else timestamps):
            key = key_of(record)
            channel = cached(key)
            if channel is None:
                channel = self._channel_of_new_key(key)
            add_record[channel](record)
            add_stamp[channel](timestamp)
            add_key[channel](key)
        for channel, bucket in enumerate(buckets):
            if bucket:
                self._append(channel, bucket, None if timestamps is None else stamps[channel],
                             keys[channel])

    def _emit_custom(self, records: list[Any], timestamps: list[Any] | None) -> None:
        n = len(self._channels)
        key_of = self._key_selector
        partition = self._partition
        channels = [partition(key_of(record), n) for record in records]
        for channel in channels:
            if type(channel) is not int or not 0 <= channel < n:
                raise ValueError(f"Partitioner.partition() returned {channel!r}; it must return "
                                 f"an int in [0, {n}) (num_partitions is {n})")
        self._append_buckets(channels, records, timestamps)

    def _channel_of_new_key(self, key: Any) -> int:
        """Hot keys skip the stable hash: the key -> channel cache (dict lookups use Python's
        hash, which is fine within one process) is bounded by clearing it when full."""
        cache = self._channel_of_key
        if len(cache) >= _KEY_CACHE_SIZE:
            cache.clear()
        channel = cache[key] = self._channel_of_group[stable_hash(key) % self._max_parallelism]
        return channel

    def _append_buckets(self, channels: list[int], records: list[Any],
                        timestamps: list[Any] | None) -> None:
        """Append ``records[i]`` (with its timestamp) to channel ``channels[i]``."""
        n = len(self._channels)
        buckets = _bucketed(channels, records, n)
        stamps = None if timestamps is None else _bucketed(channels, timestamps, n)
        for channel, bucket in enumerate(buckets):
            if bucket:
                self._append(channel, bucket, None if stamps is None else stamps[channel])

    def _append(self, channel: int, records: list[Any], timestamps: list[Any] | None,
                keys: list[Any] | None = None) -> None:
        pending = self._pending[channel]
        pending_timestamps = self._pending_timestamps[channel]
        if (timestamps is None) is not (pending_timestamps is None):
            if pending:
                self._cut(channel)
                pending = self._pending[channel]
            pending_timestamps = self._pending_timestamps[channel] = \
                None if timestamps is None else []
        pending.extend(records)
        if pending_timestamps is not None:
            pending_timestamps.extend(timestamps)  # type: ignore[arg-type]
        if keys is not None:
            self._pending_keys[channel].extend(keys)  # type: ignore[index]
        if len(pending) >= self._buffer_records:
            self._cut(channel, whole=False)

    def _cut(self, channel: int, whole: bool = True) -> None:
        """Make the channel's pending records ready to send in buffers of at most
        ``buffer_records``. Unless ``whole``, only full buffers: the rest stays pending, since
        a small buffer costs the same credit and per-buffer work as a full one."""
        pending = self._pending[channel]
        stamps = self._pending_timestamps[channel]
        keys = None if self._pending_keys is None else self._pending_keys[channel]
        limit = self._buffer_records
        end = len(pending) if whole else len(pending) - len(pending) % limit
        whole_buffer = len(pending) <= limit
        for start in range(0, end, limit):
            records = pending if whole_buffer else pending[start:start + limit]
            if stamps is not None:
                records = TimestampedBatch(records, stamps if whole_buffer
                                           else stamps[start:start + limit])
            self._ready.append((channel, records if keys is None else KeyedBatch(
                records, keys if whole_buffer else keys[start:start + limit])))
        rest = slice(end, None)
        self._pending[channel] = pending[rest] if end else pending
        if stamps is not None:
            self._pending_timestamps[channel] = stamps[rest] if end < len(pending) else None
        if keys is not None:
            self._pending_keys[channel] = keys[rest] if end else keys  # type: ignore[index]

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
                self._cut(channel)
        await self.send_ready()

    async def broadcast_event(self, event: Any) -> None:
        """Flush, then send ``event`` on every channel, in order after the records."""
        await self.flush()
        for channel in self._channels:
            await channel.send(event)


def _bucketed(channels: list[int], values: list[Any], n: int) -> list[list[Any]]:
    """``values`` sorted into ``n`` lists by ``channels`` (parallel to ``values``), in order."""
    buckets: list[list[Any]] = [[] for _ in range(n)]
    appends = [bucket.append for bucket in buckets]
    for channel, value in zip(channels, values):
        appends[channel](value)
    return buckets
