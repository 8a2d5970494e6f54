"""``NumberSequenceSource`` (``pyflink.datastream.connectors.number_seq``)."""

from __future__ import annotations

from weir.connector import Source, SourceReader

__all__ = ["NumberSequenceSource"]


class NumberSequenceSource(Source[int]):
    """The numbers ``start`` to ``end`` inclusive, split into one contiguous range per subtask."""

    def __init__(self, start: int, end: int) -> None:
        if end < start:
            raise ValueError(f"NumberSequenceSource: end ({end}) must not be below start ({start})")
        self.start = start
        self.end = end

    def get_start(self) -> int:
        return self.start

    def get_end(self) -> int:
        return self.end

    def is_bounded(self) -> bool:
        return True

    def create_reader(self, subtask_index: int, parallelism: int) -> SourceReader[int]:
        count = self.end - self.start + 1
        first = self.start + count * subtask_index // parallelism
        last = self.start + count * (subtask_index + 1) // parallelism
        return _RangeReader(first, last)


class _RangeReader(SourceReader[int]):
    def __init__(self, first: int, stop: int) -> None:
        self._next = first
        self._stop = stop

    async def poll_batch(self, max_records: int) -> list[int] | None:
        if self._next >= self._stop:
            return None
        upto = min(self._next + max_records, self._stop)
        batch = list(range(self._next, upto))
        self._next = upto
        return batch

    def snapshot_position(self) -> int:
        return self._next

    def restore_position(self, position: int) -> None:
        self._next = position
