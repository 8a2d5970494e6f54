"""Timestamp assignment and watermark generation (Flink's TimestampsAndWatermarksOperator).

A ``WatermarkStrategy`` runs as an operator: on ``assign_timestamps_and_watermarks``
where the user put it, and, for ``from_source(source, strategy, ...)``, as the
first operator chained to the source. It stamps every record and, every
``pipeline.auto-watermark-interval`` of processing time, emits the watermark of
its generator (or reports itself idle). Input watermarks stop here; only the
final one (end of input) passes.

After a reader that reads several splits (``SplitAwareSourceReader``), the task
switches the operator to one generator per split (``use_split_watermarks``) and
names the split of each batch (``set_current_split``) before the batch runs
through the chain: the batch then advances only its split's generator and idleness
timer, and the periodic watermark is the minimum over the active splits
(``weir.taskmanager.split_watermarks``). Per-record work is the same either way.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from itertools import repeat
from typing import Any

from weir.common.constants import MIN_LONG_VALUE
from weir.common.watermark_strategy import TimestampAssigner, WatermarkStrategy
from weir.config import parse_duration_ms
from weir.connector import SourceReader, SplitAwareSourceReader
from weir.datastream.execution_mode import is_batch
from weir.graph.operators import OperatorSpec, SourceSpec, TimestampsAndWatermarksSpec
from weir.taskmanager.operators.base import OperatorContext, StreamOperator
from weir.taskmanager.records import TimestampedBatch
from weir.taskmanager.split_watermarks import (
    IdlenessDetector,
    SplitWatermarkMultiplexer,
    WatermarkGenerator,
)

__all__ = ["AUTO_WATERMARK_INTERVAL", "BoundedOutOfOrdernessWatermarks", "IdlenessTimer",
           "TimestampsAndWatermarksOperator", "parse_interval_ms", "split_watermark_operator",
           "with_source_watermarks"]

AUTO_WATERMARK_INTERVAL = "pipeline.auto-watermark-interval"
DEFAULT_AUTO_WATERMARK_INTERVAL_MS = 200


def parse_interval_ms(value: str | None, default_ms: int) -> int:
    """``pipeline.auto-watermark-interval`` in milliseconds, in Flink's duration syntax
    (``"200"``, ``"200 ms"``, ``"1 s"``); ``default_ms`` when unset.

    Raises:
        ConfigError: naming the key, for a value that is not a duration.
    """
    if value is None or not str(value).strip():
        return default_ms
    return parse_duration_ms(value, AUTO_WATERMARK_INTERVAL)


class BoundedOutOfOrdernessWatermarks:
    """The watermark trails the largest timestamp seen by the bound (plus 1 ms), so records
    at most ``out_of_orderness_ms`` behind the newest are never late."""

    def __init__(self, out_of_orderness_ms: int) -> None:
        if out_of_orderness_ms < 0:
            raise ValueError("the out-of-orderness bound must not be negative")
        self._bound = out_of_orderness_ms
        self._max_timestamp = MIN_LONG_VALUE + out_of_orderness_ms + 1

    def on_event(self, timestamp: int) -> None:
        self._max_timestamp = max(self._max_timestamp, timestamp)

    def current_watermark(self) -> int:
        return self._max_timestamp - self._bound - 1


class IdlenessTimer:
    """Idle after ``timeout_ms`` without records, counted from the first periodic check
    that found none (as Flink's ``WatermarksWithIdleness``)."""

    def __init__(self, timeout_ms: int) -> None:
        self._timeout = timeout_ms
        self._records = 0
        self._records_at_last_check = 0
        self._inactive_since: int | None = None

    def activity(self) -> None:
        self._records += 1

    def check_if_idle(self, now_ms: int) -> bool:
        if self._records != self._records_at_last_check:
            self._records_at_last_check = self._records
            self._inactive_since = None
            return False
        if self._inactive_since is None:
            self._inactive_since = now_ms
            return False
        return now_ms - self._inactive_since >= self._timeout


def _extractor(assigner: Any) -> Callable[[Any, int], int]:
    if isinstance(assigner, TimestampAssigner):
        return assigner.extract_timestamp
    if not callable(assigner):
        raise TypeError("the timestamp assigner must be a TimestampAssigner or a function of "
                        f"(value, record_timestamp), got {type(assigner).__name__}")
    try:
        takes_one = len(inspect.signature(assigner).parameters) == 1
    except (TypeError, ValueError):
        takes_one = False
    if takes_one:
        return lambda value, _record_timestamp: assigner(value)
    return assigner  # type: ignore[no-any-return]


class TimestampsAndWatermarksOperator(StreamOperator):
    """Stamps records with the strategy's timestamp assigner and generates watermarks."""

    generates_watermarks = True

    def __init__(self, spec: TimestampsAndWatermarksSpec) -> None:
        super().__init__(spec)
        strategy: WatermarkStrategy = spec.watermark_strategy
        self._extract = (None if strategy.timestamp_assigner is None
                         else _extractor(strategy.timestamp_assigner))
        self._strategy = strategy
        self._generator: WatermarkGenerator | None = (
            BoundedOutOfOrdernessWatermarks(strategy.out_of_orderness_ms)
            if strategy.kind != "none" else None)
        self._idleness: IdlenessDetector | None = (
            IdlenessTimer(strategy.idleness_ms) if strategy.idleness_ms is not None else None)
        self._interval_ms = 0
        self._next_emit: int | None = None
        self._emitted = MIN_LONG_VALUE
        self._splits: SplitWatermarkMultiplexer | None = None

    def use_split_watermarks(self) -> SplitWatermarkMultiplexer | None:
        """Run one generator (and idleness timer) per split from now on; returns the
        multiplexer whose splits the task keeps in step with its reader, or None when the
        strategy generates no watermarks (nothing to do per split)."""
        if self._generator is None:
            return None
        bound = self._strategy.out_of_orderness_ms
        idleness_ms = self._strategy.idleness_ms
        self._splits = SplitWatermarkMultiplexer(
            lambda: BoundedOutOfOrdernessWatermarks(bound),
            None if idleness_ms is None else lambda: IdlenessTimer(idleness_ms))
        return self._splits

    def set_splits(self, split_ids: frozenset[str]) -> None:
        """The reader reads exactly ``split_ids`` now (see ``SplitWatermarkMultiplexer``)."""
        assert self._splits is not None
        self._splits.set_splits(split_ids)

    def set_current_split(self, split_id: str) -> None:
        """The next batch comes from ``split_id``: it advances that split's generator."""
        assert self._splits is not None
        output = self._splits.output(split_id)
        self._generator = output.generator
        self._idleness = output.idleness

    def open(self, context: OperatorContext) -> None:
        self._interval_ms = parse_interval_ms(context.configuration.get(AUTO_WATERMARK_INTERVAL),
                                              DEFAULT_AUTO_WATERMARK_INTERVAL_MS)
        # BATCH: no progressive watermarks, only the final one (Flink's batch semantics).
        if self._interval_ms > 0 and (self._generator is not None or self._idleness is not None) \
                and not is_batch(context.configuration):
            self._next_emit = context.clock_ms() + self._interval_ms
            context.request_timer_wakeup(self._next_emit)

    def process_batch(self, records: list[Any]) -> list[Any]:
        timed = type(records) is TimestampedBatch
        if self._extract is None:
            if not timed:
                raise ValueError("the WatermarkStrategy has no timestamp assigner and the records "
                                 "carry no timestamps: add .with_timestamp_assigner(...)")
            timestamps = records.timestamps  # type: ignore[attr-defined]
        else:
            previous = records.timestamps if timed else repeat(MIN_LONG_VALUE)  # type: ignore
            timestamps = list(map(self._extract, records, previous))
        if self._generator is not None and timestamps:
            self._generator.on_event(max(timestamps))
        if self._idleness is not None:
            self._idleness.activity()
        return TimestampedBatch(records, timestamps)

    def next_processing_timer(self) -> int | None:
        return self._next_emit

    def periodic_watermark(self, now_ms: int) -> tuple[int | None, bool | None]:
        if self._next_emit is None or now_ms < self._next_emit:
            return None, None
        self._next_emit = now_ms + self._interval_ms
        if self._splits is not None:
            combined, idle = self._splits.combined(now_ms)
            if idle:
                return None, True
            return self._advance(combined), False
        if self._idleness is not None and self._idleness.check_if_idle(now_ms):
            return None, True
        if self._generator is None:
            return None, False
        return self._advance(self._generator.current_watermark()), False

    def _advance(self, watermark: int | None) -> int | None:
        """``watermark`` when it is ahead of the last one emitted (watermarks never go back)."""
        if watermark is None or watermark <= self._emitted:
            return None
        self._emitted = watermark
        return watermark


def with_source_watermarks(source: SourceSpec, specs: list[OperatorSpec],
                           operator_ids: list[str] | None
                           ) -> tuple[list[OperatorSpec], list[str] | None]:
    """The chain after a source: its watermark strategy (unless ``no_watermarks``) runs
    first, as a stateless operator with an id derived from the source's."""
    strategy = source.watermark_strategy
    if strategy.kind == "none" and strategy.timestamp_assigner is None:
        return specs, operator_ids
    spec = TimestampsAndWatermarksSpec(f"{source.name}: Timestamps/Watermarks",
                                       f"{source.uid}-watermarks", strategy)
    ids = None if operator_ids is None else [spec.uid, *operator_ids]
    return [spec, *specs], ids


def split_watermark_operator(reader: SourceReader[Any] | None, chain: list[StreamOperator],
                             ) -> TimestampsAndWatermarksOperator | None:
    """The source's watermark operator (first in ``chain``), switched to one generator per
    split, when ``reader`` reports splits and the strategy generates watermarks; else None
    (the task then polls ``poll_batch`` as for any source)."""
    if not isinstance(reader, SplitAwareSourceReader) or not chain:
        return None
    first = chain[0]
    if (isinstance(first, TimestampsAndWatermarksOperator)
            and first.use_split_watermarks() is not None):
        return first
    return None
