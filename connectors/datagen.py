"""``DataGeneratorSource``: records made by a function of their index, bounded or not."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from weir.common.typeinfo import TypeInformation
from weir.connector import Source, SourceReader

__all__ = ["DataGeneratorSource", "GeneratorFunction", "RateLimiterStrategy"]

T = TypeVar("T")


class GeneratorFunction(Generic[T]):
    """Makes the record with index ``index``."""

    def map(self, index: int) -> T:
        raise NotImplementedError


@dataclass(frozen=True)
class RateLimiterStrategy:
    """Limits the records per second over all subtasks of the source."""

    records_per_second: float | None

    @staticmethod
    def per_second(records_per_second: float) -> RateLimiterStrategy:
        if records_per_second <= 0:
            raise ValueError("records_per_second must be positive")
        return RateLimiterStrategy(float(records_per_second))

    @staticmethod
    def no_op() -> RateLimiterStrategy:
        return RateLimiterStrategy(None)


class DataGeneratorSource(Source[T]):
    """Generates ``generator_function(i)`` for i = 0, 1, … up to ``count`` (None: forever).

    Subtask s of p generates the indices s, s+p, s+2p, … so the union of all
    subtasks is every index exactly once.
    """

    def __init__(self, generator_function: GeneratorFunction[T] | Callable[[int], T],
                 count: int | None = None,
                 rate_limiter_strategy: RateLimiterStrategy | None = None,
                 type_info: TypeInformation | None = None) -> None:
        if count is not None and count < 0:
            raise ValueError("count must not be negative")
        self.generator_function = generator_function
        self.count = sys.maxsize if count is None else count
        self.rate_limiter_strategy = rate_limiter_strategy or RateLimiterStrategy.no_op()
        self.type_info = type_info

    def is_bounded(self) -> bool:
        return self.count != sys.maxsize

    def create_reader(self, subtask_index: int, parallelism: int) -> SourceReader[T]:
        rate = self.rate_limiter_strategy.records_per_second
        fn: Any = self.generator_function
        call = fn.map if isinstance(fn, GeneratorFunction) else fn
        return _GeneratorReader(call, subtask_index, parallelism, self.count,
                                None if rate is None else rate / parallelism)


class _GeneratorReader(SourceReader[T]):
    def __init__(self, call: Callable[[int], T], first: int, step: int, count: int,
                 rate: float | None) -> None:
        self._call = call
        self._next = first
        self._step = step
        self._count = count
        self._rate = rate
        self._started = time.monotonic()
        self._emitted = 0

    async def poll_batch(self, max_records: int) -> list[T] | None:
        if self._next >= self._count:
            return None
        n = max_records
        if self._rate is not None:
            due = int((time.monotonic() - self._started) * self._rate) - self._emitted
            if due <= 0:
                await asyncio.sleep(min(0.05, 1.0 / self._rate))
                return []
            n = min(n, due)
        stop = min(self._next + n * self._step, self._count)
        indices = range(self._next, stop, self._step)
        self._next = indices[-1] + self._step if indices else stop
        self._emitted += len(indices)
        return list(map(self._call, indices))

    def snapshot_position(self) -> int:
        return self._next

    def restore_position(self, position: int) -> None:
        self._next = position
