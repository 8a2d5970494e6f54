"""What flows between operators and tasks: batches of records, with or without timestamps.

A batch is a plain ``list`` of records. Once a timestamp assigner ran (or a
timer fired), records carry event timestamps: the batch is then a
``TimestampedBatch``, a list whose ``timestamps[i]`` belongs to ``batch[i]``.
Code that only reads records (sinks, filters of values) treats both alike;
operators that build new batches keep each output's timestamp: the timestamp of
the input that produced it (``None`` for a record without one). A batch and its
timestamps list are never changed after they are handed on, so operators that
keep records 1:1 (map, rolling reduce) reuse the input's timestamps list.

Side outputs travel in the same batch as ``SideOutput`` records; the task's
output routing sends each to the edge that reads its tag.

A buffer of a hash-partitioned edge is a ``KeyedBatch``: the batch and each record's key,
which the sender's partitioner computed, so that the keyed operator receiving it does not
call the key selector again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import compress, repeat
from typing import Any

__all__ = ["KeyedBatch", "SideOutput", "TimestampedBatch", "concat_batches", "output_selector", "select_main",
           "select_side", "slice_batch"]


class TimestampedBatch(list[Any]):
    """Records with their event timestamps (parallel lists)."""

    __slots__ = ("timestamps",)

    def __init__(self, records: Iterable[Any] = (), timestamps: list[int | None] | None = None
                 ) -> None:
        super().__init__(records)
        self.timestamps: list[int | None] = [] if timestamps is None else timestamps

    def __reduce__(self) -> tuple[Any, ...]:
        return TimestampedBatch, ((), self.timestamps), None, iter(self)

    def __repr__(self) -> str:
        return f"TimestampedBatch({list(self)!r}, {self.timestamps!r})"


class KeyedBatch:
    """``records`` (a batch, timestamped or not) with ``keys[i]``, the key of ``records[i]``."""

    __slots__ = ("keys", "records")

    def __init__(self, records: list[Any], keys: list[Any]) -> None:
        self.records = records
        self.keys = keys

    def __reduce__(self) -> tuple[Any, ...]:
        return KeyedBatch, (self.records, self.keys)

    def __repr__(self) -> str:
        return f"KeyedBatch({self.records!r}, {self.keys!r})"


class SideOutput:
    """A record for the side output ``tag`` (an OutputTag's id)."""

    __slots__ = ("tag", "value")

    def __init__(self, tag: str, value: Any) -> None:
        self.tag = tag
        self.value = value

    def __reduce__(self) -> tuple[Any, ...]:
        return SideOutput, (self.tag, self.value)

    def __eq__(self, other: object) -> bool:
        return type(other) is SideOutput and other.tag == self.tag and other.value == self.value

    def __repr__(self) -> str:
        return f"SideOutput({self.tag!r}, {self.value!r})"


def concat_batches(first: list[Any], second: list[Any]) -> list[Any]:
    """``first`` followed by ``second``; timestamped if either is (None for the other's)."""
    if not second:
        return first
    if not first:
        return second
    if type(first) is list and type(second) is list:
        return first + second
    return TimestampedBatch(first + second, _timestamps_of(first) + _timestamps_of(second))


def slice_batch(batch: list[Any], start: int, stop: int) -> list[Any]:
    """Records ``start:stop`` of ``batch``, with their timestamps if it has them."""
    if isinstance(batch, TimestampedBatch):
        return TimestampedBatch(batch[start:stop], batch.timestamps[start:stop])
    return batch[start:stop]


def _timestamps_of(batch: list[Any]) -> list[int | None]:
    if isinstance(batch, TimestampedBatch):
        return batch.timestamps
    return list(repeat(None, len(batch)))


def _select(batch: list[Any], keep: list[bool], unwrap: bool) -> list[Any]:
    records = list(compress(batch, keep))
    if unwrap:
        records = [record.value for record in records]
    if isinstance(batch, TimestampedBatch):
        return TimestampedBatch(records, list(compress(batch.timestamps, keep)))
    return records


def select_main(batch: list[Any]) -> list[Any]:
    """The batch without its side outputs."""
    return _select(batch, [type(record) is not SideOutput for record in batch], False)


def select_side(tag: str) -> Callable[[list[Any]], list[Any]]:
    """A selector of the values of side output ``tag``."""
    def select(batch: list[Any]) -> list[Any]:
        return _select(batch, [type(record) is SideOutput and record.tag == tag
                               for record in batch], True)
    return select


def output_selector(routes: dict[tuple[str, int], str], edge: tuple[str, int]
                    ) -> Callable[[list[Any]], list[Any]] | None:
    """What output edge ``edge`` (consumer vertex id, input index) reads of an operator with
    side output ``routes``: everything (None) when it has none, else one side output or
    the main output."""
    if not routes:
        return None
    tag = routes.get(edge)
    return select_main if tag is None else select_side(tag)
