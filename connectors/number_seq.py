"""``NumberSequenceSource`` (``pyflink.datastream.connectors.number_seq``)."""

from __future__ import annotations

from typing import Any

from weir.checkpoint.redistribution import RedistributedState
from weir.connector import Source, SourceReader

__all__ = ["NumberSequenceSource", "share_of_ranges"]


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
        return _RangeReader([(first, last)], subtask_index, parallelism)


Range = tuple[int, int]  # first, stop (exclusive)


def share_of_ranges(ranges: list[Range], subtask_index: int, parallelism: int) -> list[Range]:
    """Subtask ``subtask_index``'s even share of the numbers in ``ranges`` (in order), as
    contiguous pieces: how the numbers not yet read are split after rescaling."""
    total = sum(stop - first for first, stop in ranges)
    begin = total * subtask_index // parallelism
    end = total * (subtask_index + 1) // parallelism
    share = []
    offset = 0  # of the current range's first number within all of them
    for first, stop in ranges:
        low = max(begin - offset, 0)
        high = min(end - offset, stop - first)
        if low < high:
            share.append((first + low, first + high))
        offset += stop - first
    return share


class _RangeReader(SourceReader[int]):
    """Reads ranges of numbers in order; its position is the ranges not read yet."""

    def __init__(self, ranges: list[Range], subtask_index: int, parallelism: int) -> None:
        self._ranges = ranges
        self._subtask = subtask_index
        self._parallelism = parallelism

    async def poll_batch(self, max_records: int) -> list[int] | None:
        ranges = self._ranges
        while ranges and ranges[0][0] >= ranges[0][1]:
            ranges.pop(0)
        if not ranges:
            return None
        first, stop = ranges[0]
        upto = min(first + max_records, stop)
        ranges[0] = (upto, stop)
        return list(range(first, upto))

    def snapshot_position(self) -> list[Range]:
        return list(self._ranges)

    def restore_position(self, position: Any) -> None:
        if isinstance(position, RedistributedState):  # rescaled: split what is left evenly
            left = [(first, stop) for part in position for first, stop in part]
            self._ranges = share_of_ranges(left, self._subtask, self._parallelism)
        elif isinstance(position, int):  # a checkpoint of an earlier weir: the next number
            self._ranges = [(position, self._ranges[0][1])]
        else:
            self._ranges = [(first, stop) for first, stop in position]
