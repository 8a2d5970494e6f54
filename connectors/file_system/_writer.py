"""The FileSink's writer: one per sink subtask, driven by the sink operator.

Staging: records of an in-progress part are appended to a local spool (memory,
spilling to a temporary file past ``_SPOOL_MEMORY`` bytes). Whenever the part
must be durable — it rolls, or a checkpoint is taken — the spool is uploaded
as one hidden segment object beside the part's final name, and the spool
starts over. Why: appends to object stores are impossible and partial uploads
are invisible anyway, so data since the last checkpoint lives only locally
(it is replayed after a failure), and everything a checkpoint covers is in the
target file system, hidden, before the checkpoint is acknowledged. A part that
stays open across checkpoints (the default rolling policy) collects one segment
per checkpoint; the committer joins them when it publishes the part.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from weir.checkpoint import CheckpointStorage
from weir.checkpoint.redistribution import RedistributedState
from weir.common.serialization import Encoder
from weir.connector import TwoPhaseCommittingSinkWriter
from weir.datastream.connectors.file_system._parts import (
    FileCommittable,
    FileWriterState,
    InProgressPartState,
    bucket_path,
    part_file_name,
    segment_path,
)
from weir.datastream.connectors.file_system.buckets import BucketAssigner, BucketAssignerContext
from weir.datastream.connectors.file_system.rolling import PartFileInfo, RollingPolicy

__all__ = ["FileSinkWriter"]

_SPOOL_MEMORY = 4 * 1024 * 1024


class _InProgressPart:
    """An open part file: its uploaded segments and the spool of data not uploaded yet."""

    def __init__(self, part_index: int, final_path: str, info: PartFileInfo,
                 segments: list[str]) -> None:
        self.part_index = part_index
        self.final_path = final_path
        self.info = info
        self.segments = segments
        self._spool: tempfile.SpooledTemporaryFile[bytes] | None = None

    def append(self, chunks: list[bytes]) -> None:
        if chunks:
            if self._spool is None:
                self._spool = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed by discard()
                    max_size=_SPOOL_MEMORY)
            self._spool.write(b"".join(chunks))

    def take_spooled(self) -> bytes:
        """The data appended since the last call; empties the spool."""
        if self._spool is None:
            return b""
        self._spool.seek(0)
        data = self._spool.read()
        self.discard()
        return data

    def discard(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    def state(self) -> InProgressPartState:
        if self._spool is not None:
            raise RuntimeError("FileSink: snapshot_state() called with data written since "
                               "prepare_commit(); the runtime must pre-commit first")
        info = self.info
        return InProgressPartState(info.bucket_id, self.part_index, tuple(self.segments),
                                   info.size, info.creation_time, info.last_update_time)


class FileSinkWriter(TwoPhaseCommittingSinkWriter[Any]):
    """Writes one subtask's records into bucketed, rolling part files.

    ``storage`` is rooted at the sink's base path and owned by the writer.
    """

    def __init__(self, storage: CheckpointStorage, encoder: Encoder,
                 bucket_assigner: BucketAssigner, rolling_policy: RollingPolicy,
                 part_prefix: str, part_suffix: str, bucket_check_interval: int,
                 clock_ms: Callable[[], int],
                 restored: FileWriterState | RedistributedState | None = None) -> None:
        self._storage = storage
        self._encoder = encoder
        self._assigner = bucket_assigner
        self._policy = rolling_policy
        self._prefix = part_prefix
        self._suffix = part_suffix
        self._check_interval = bucket_check_interval
        self._clock_ms = clock_ms
        self._parts: dict[str, _InProgressPart] = {}
        self._pending: list[FileCommittable] = []
        self._last_check = clock_ms()
        self._closing: asyncio.Task[None] | None = None
        states = (list(restored) if isinstance(restored, RedistributedState)
                  else [] if restored is None else [restored])
        if not states:
            self.uid = str(uuid.uuid4())
            self._next_part_index = 0
            return
        primary, *others = states
        self.uid = primary.uid
        self._next_part_index = primary.next_part_index
        for part in primary.in_progress:
            self._parts[part.bucket_id] = _InProgressPart(
                part.part_index, self._final_path(part.bucket_id, part.part_index),
                PartFileInfo(part.bucket_id, part.creation_time, part.last_update_time,
                             part.size),
                list(part.segments))
        # After rescaling, the in-progress parts of the other old subtasks this one
        # stands for are closed (as Flink merges bucket states): they commit with the
        # next checkpoint, under their own writer's uid.
        for other in others:
            for part in other.in_progress:
                self._pending.append(FileCommittable(
                    self._final_path(part.bucket_id, part.part_index, other.uid),
                    tuple(part.segments)))

    # ------------------------------------------------------------------ write

    async def write_batch(self, records: list[Any]) -> None:
        now = self._clock_ms()
        await self._roll_by_time(now)
        buckets = self._assigner.assign_batch(records, BucketAssignerContext(now))
        for bucket_id, elements in buckets.items():
            if elements:
                await self._write_bucket(bucket_id, elements, now)

    async def _write_bucket(self, bucket_id: str, elements: list[Any], now: int) -> None:
        """Append ``elements`` to the bucket's part, rolling before a record when the policy says.

        One question decides for the whole batch when the part would not roll even
        before its last record (policies never un-roll as a part grows); only a batch
        that rolls is encoded and walked record by record.
        """
        part = self._parts.get(bucket_id) or self._open_part(bucket_id, now)
        encode = self._encoder.encode
        roll_on_event = self._policy.should_roll_on_event
        data = self._encoder.encode_batch(elements)
        before_last = part.info.size + len(data) - len(encode(elements[-1]))
        if not roll_on_event(replace(part.info, size=before_last)):
            part.append([data])
            part.info.size += len(data)
            part.info.last_update_time = now
            return
        chunks = [encode(element) for element in elements]
        begin = 0
        for index, chunk in enumerate(chunks):
            if roll_on_event(part.info):
                part.append(chunks[begin:index])
                await self._roll(part)
                part = self._open_part(bucket_id, now)
                begin = index
            part.info.size += len(chunk)
        part.append(chunks[begin:])
        part.info.last_update_time = now

    def _open_part(self, bucket_id: str, now: int) -> _InProgressPart:
        index = self._next_part_index
        self._next_part_index += 1
        part = _InProgressPart(index, self._final_path(bucket_id, index),
                               PartFileInfo(bucket_id, now, now, 0), [])
        self._parts[bucket_id] = part
        return part

    def _final_path(self, bucket_id: str, part_index: int, uid: str | None = None) -> str:
        return bucket_path(bucket_id, part_file_name(self._prefix, uid or self.uid,
                                                     part_index, self._suffix))

    # ------------------------------------------------------------ roll, persist

    async def _persist(self, part: _InProgressPart) -> None:
        """Upload the part's spooled data as one more hidden segment."""
        data = part.take_spooled()
        if data:
            path = segment_path(part.final_path)
            await self._storage.write(path, data)
            part.segments.append(path)

    async def _roll(self, part: _InProgressPart) -> None:
        """Close the part: persist it and make it pending."""
        del self._parts[part.info.bucket_id]
        await self._persist(part)
        self._pending.append(FileCommittable(part.final_path, tuple(part.segments)))

    async def _roll_all(self, parts: list[_InProgressPart]) -> None:
        await asyncio.gather(*(self._roll(part) for part in parts))

    async def _roll_by_time(self, now: int) -> None:
        """Every bucket check interval: roll the parts the policy says are due by time."""
        if now - self._last_check < self._check_interval:
            return
        self._last_check = now
        due = self._policy.should_roll_on_processing_time
        await self._roll_all([p for p in self._parts.values() if due(p.info, now)])

    # ------------------------------------------------------------- checkpoint

    async def flush(self) -> None:
        """End of input: every in-progress part rolls (as in Flink)."""
        await self._roll_all(list(self._parts.values()))

    async def prepare_commit(self) -> list[FileCommittable]:
        """Pre-commit, in order: parts due by time or by the policy's checkpoint rule roll;
        the other parts upload their spooled data; the pending parts are returned."""
        await self._roll_by_time(self._clock_ms())
        on_checkpoint = self._policy.should_roll_on_checkpoint
        await self._roll_all([p for p in self._parts.values() if on_checkpoint(p.info)])
        await asyncio.gather(*(self._persist(part) for part in self._parts.values()))
        committables, self._pending = self._pending, []
        return committables

    def snapshot_state(self) -> FileWriterState:
        return FileWriterState(self.uid, self._next_part_index,
                               tuple(part.state() for part in self._parts.values()))

    def close(self) -> None:
        """Drop spooled data (never pre-committed, so never visible) and the storage client."""
        for part in self._parts.values():
            part.discard()
        self._parts.clear()
        self._closing = close_in_background(self._storage)


def close_in_background(storage: CheckpointStorage) -> asyncio.Task[None] | None:
    """Close ``storage`` from a synchronous ``close()``: on the running loop when there is
    one (the caller keeps the returned task), else right away."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(storage.close())
        return None
    return loop.create_task(storage.close())
