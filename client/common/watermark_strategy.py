"""``WatermarkStrategy`` (``pyflink.common.watermark_strategy``).

The foundation carries the strategy in the job graph; event-time processing
reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from weir.common.time import Duration

__all__ = ["TimestampAssigner", "WatermarkStrategy"]


class TimestampAssigner:
    """Extracts an event timestamp (ms) from a record."""

    def extract_timestamp(self, value: Any, record_timestamp: int) -> int:
        raise NotImplementedError


@dataclass(frozen=True)
class WatermarkStrategy:
    """How a source assigns timestamps and generates watermarks."""

    kind: str = "none"
    out_of_orderness_ms: int = 0
    timestamp_assigner: TimestampAssigner | Callable[[Any, int], int] | None = None
    idleness_ms: int | None = None

    @staticmethod
    def no_watermarks() -> WatermarkStrategy:
        return WatermarkStrategy("none")

    @staticmethod
    def for_monotonous_timestamps() -> WatermarkStrategy:
        return WatermarkStrategy("bounded", 0)

    @staticmethod
    def for_bounded_out_of_orderness(max_out_of_orderness: Duration) -> WatermarkStrategy:
        return WatermarkStrategy("bounded", max_out_of_orderness.to_milliseconds())

    def with_timestamp_assigner(
            self, timestamp_assigner: TimestampAssigner | Callable[[Any, int], int]
    ) -> WatermarkStrategy:
        return replace(self, timestamp_assigner=timestamp_assigner)

    def with_idleness(self, idle_timeout: Duration) -> WatermarkStrategy:
        return replace(self, idleness_ms=idle_timeout.to_milliseconds())
