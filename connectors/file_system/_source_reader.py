"""The FileSource reader: one per source subtask.

Life of a reader (driven by its subtask's mailbox loop, one call at a time):

1. ``restore_position`` (after a failure or from a savepoint): the files it had listed,
   the offset of each one not finished, and the finished ones; after rescaling, every old
   reader's, of which it keeps the files ``enumerator.split_owner`` now gives it;
2. first ``poll_batch``: lists the paths (unless a bounded source restored a complete
   listing) and keeps its own files;
3. ``poll_batch``: reads the lines of its files one file after the other, in name order,
   advancing the file's offset past each line returned; a continuous source lists the
   paths again every discovery interval and queues the new files;
4. ``snapshot_position``: the offsets and finished files (``FileSourcePosition``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from weir.checkpoint.redistribution import RedistributedState
from weir.connector import SourceReader
from weir.datastream.connectors.file_system._file_access import LineReader, list_files
from weir.datastream.connectors.file_system.enumerator import assigned_files, split_owner
from weir.datastream.connectors.file_system.source import FileSource

__all__ = ["FileSourcePosition", "FileSourceReader"]

log = logging.getLogger(__name__)

_IDLE_SLEEP_S = 0.05


@dataclass
class FileSourcePosition:
    """A reader's snapshot: ``offsets[file URI]`` = the byte offset of the next line to read,
    for each of its files not finished (0: not begun); ``finished``: its files read to the
    end; ``listed``: whether it had listed the paths (a bounded source then reads exactly
    these files after a restore, as Flink's enumerator keeps its remaining splits)."""

    offsets: dict[str, int]
    finished: set[str] = field(default_factory=set)
    listed: bool = True


class FileSourceReader(SourceReader[str]):
    """Reads the files the enumerator assigns to subtask ``subtask_index``, line by line."""

    def __init__(self, source: FileSource, subtask_index: int, parallelism: int) -> None:
        self._source = source
        self._subtask = subtask_index
        self._parallelism = parallelism
        self._pending: dict[str, int] = {}  # file -> offset, in reading order
        self._finished: set[str] = set()
        self._listed = False
        self._current: LineReader | None = None
        self._next_discovery = 0.0  # monotonic time of the next listing (continuous)

    # ------------------------------------------------------------------ checkpoints

    def snapshot_position(self) -> FileSourcePosition:
        return FileSourcePosition(dict(self._pending), set(self._finished), self._listed)

    def restore_position(self, position: Any) -> None:
        """Take the files of ``position`` (this reader's snapshot, or every old reader's
        after rescaling) that are this subtask's now."""
        positions = list(position) if isinstance(position, RedistributedState) else [position]
        for one in positions:
            if not isinstance(one, FileSourcePosition):
                raise TypeError(f"FileSource: cannot restore a position of type "
                                f"{type(one).__name__}")
        parallelism = self._parallelism

        def mine(file: str) -> bool:
            return split_owner(file, parallelism) == self._subtask

        self._pending = {file: offset for one in positions
                         for file, offset in sorted(one.offsets.items()) if mine(file)}
        self._finished = {file for one in positions for file in one.finished if mine(file)}
        self._listed = all(one.listed for one in positions)

    # ------------------------------------------------------------------ reading

    async def poll_batch(self, max_records: int) -> list[str] | None:
        bounded = self._source.is_bounded()
        if not self._listed or (not bounded and self._next_discovery <= time.monotonic()):
            await self._discover()
        while True:
            current = self._current or self._open_next()
            if current is None:
                if bounded:
                    return None
                await asyncio.sleep(_IDLE_SLEEP_S)
                return []
            lines = await current.read_lines(max_records)
            if lines is not None:
                self._pending[current.uri] = current.offset
                return lines
            current.close()
            del self._pending[current.uri]
            self._finished.add(current.uri)
            self._current = None

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None

    def _open_next(self) -> LineReader | None:
        """Start reading the first file not finished; None when there is none."""
        if not self._pending:
            return None
        file, offset = next(iter(self._pending.items()))
        self._current = LineReader(file, offset, self._source.stream_format.charset_name,
                                   self._source.configuration)
        return self._current

    async def _discover(self) -> None:
        """List the paths; queue this subtask's files that are neither queued nor finished."""
        source = self._source
        bounded = source.is_bounded()
        files: list[str] = []
        for path in source.paths:
            files += await list_files(path, source.configuration, must_exist=bounded)
        new = [file for file in assigned_files(files, self._subtask, self._parallelism)
               if file not in self._pending and file not in self._finished]
        for file in new:
            self._pending[file] = 0
        self._listed = True
        if source.discovery_interval_ms is not None:
            self._next_discovery = time.monotonic() + source.discovery_interval_ms / 1000
        if new:
            log.info("FileSource subtask %d/%d reads %d new file(s)", self._subtask,
                     self._parallelism, len(new))
