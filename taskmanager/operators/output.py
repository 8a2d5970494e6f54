"""Collects what user functions emit: main records with timestamps, and side outputs."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import repeat
from typing import Any

from weir.datastream.output_tag import OutputTag
from weir.taskmanager.records import SideOutput, TimestampedBatch

__all__ = ["OutputCollector"]


class OutputCollector:
    """Gathers the outputs of one batch (or one round of timers) of an operator.

    The operator sets ``timestamp`` to the timestamp of the record or timer being
    handled; every output gets it. A side output, from ``output(tag, value)`` or a
    yielded ``(tag, value)`` as in PyFlink, becomes a ``SideOutput`` record when
    the job reads ``tag`` and is dropped otherwise (as Flink drops side outputs
    nobody reads).
    """

    def __init__(self, side_tags: Iterable[str] = ()) -> None:
        self._side_tags = frozenset(side_tags)
        self.timestamp: int | None = None
        self._records: list[Any] = []
        self._timestamps: list[int | None] | None = None

    def start(self, timed: bool) -> None:
        """Begin a new output batch, timestamped or not."""
        self._records = []
        self._timestamps = [] if timed else None

    def collect(self, produced: Iterable[Any] | None) -> None:
        """Add what a user function returned or yielded."""
        if produced is None:
            return
        append = self._records.append
        timestamps = self._timestamps
        timestamp = self.timestamp
        for item in produced:
            if type(item) is tuple and len(item) == 2 and type(item[0]) is OutputTag:
                self.side(item[0].tag_id, item[1])
                continue
            append(item)
            if timestamps is not None:
                timestamps.append(timestamp)

    def emit(self, record: Any) -> None:
        """Add one main record."""
        self._records.append(record)
        if self._timestamps is not None:
            self._timestamps.append(self.timestamp)

    def emit_all(self, records: Iterable[Any]) -> None:
        """Add main records, all with the current timestamp."""
        before = len(self._records)
        self._records.extend(records)
        if self._timestamps is not None:
            self._timestamps.extend(repeat(self.timestamp, len(self._records) - before))

    def output(self, output_tag: OutputTag, value: Any) -> None:
        """``ctx.output(tag, value)``."""
        if not isinstance(output_tag, OutputTag):
            raise TypeError(f"output() takes an OutputTag, got {type(output_tag).__name__}")
        self.side(output_tag.tag_id, value)

    def side(self, tag: str, value: Any) -> None:
        """Emit ``value`` to side output ``tag`` if the job reads it."""
        if tag in self._side_tags:
            self._records.append(SideOutput(tag, value))
            if self._timestamps is not None:
                self._timestamps.append(self.timestamp)

    def process_each(self, records: list[Any], process: Callable[[Any, Any], Any],
                     ctx: Any) -> list[Any]:
        """The outputs of ``process(record, ctx)`` for each record of a batch, each with the
        record's timestamp (also ``ctx.current_timestamp`` meanwhile)."""
        collect = self.collect
        if isinstance(records, TimestampedBatch):
            self.start(True)
            for record, timestamp in zip(records, records.timestamps):
                self.timestamp = ctx.current_timestamp = timestamp
                collect(process(record, ctx))
            self.timestamp = ctx.current_timestamp = None
        else:
            self.start(False)
            for record in records:
                collect(process(record, ctx))
        return self.take()

    def take(self) -> list[Any]:
        """The batch gathered since ``start``."""
        records, self._records = self._records, []
        if self._timestamps is None:
            return records
        timestamps, self._timestamps = self._timestamps, None
        return TimestampedBatch(records, timestamps)
