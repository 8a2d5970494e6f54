"""``DataGeneratorSource``: records made by a function of their index, bounded or not."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from weir.checkpoint.redistribution import RedistributedState
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
        return _GeneratorReader(call, [(subtask_index, parallelism)], subtask_index,
                                parallelism, self.count,
                                None if rate is None else rate / parallelism)


Progression = tuple[int, int]  # next index, step


def share_of_progressions(progressions: list[Progression], subtask_index: int,
                          parallelism: int) -> list[Progression]:
    """Subtask ``subtask_index``'s share of the indices left in ``progressions`` after
    rescaling: each is split into enough interleaved ones for every subtask to get
    some, dealt out round-robin."""
    ways = -(-parallelism // max(len(progressions), 1))
    split = [(start + k * step, step * ways) for start, step in progressions
             for k in range(ways)]
    return split[subtask_index::parallelism]


class _GeneratorReader(SourceReader[T]):
    """Generates the indices of its arithmetic progressions (one, unless rescaled),
    taking from each in turn; its position is where each progression is."""

    def __init__(self, call: Callable[[int], T], progressions: list[Progression],
                 subtask_index: int, parallelism: int, count: int,
                 rate: float | None) -> None:
        self._call = call
        self._progressions = progressions
        self._subtask = subtask_index
        self._parallelism = parallelism
        self._count = count
        self._rate = rate
        self._started = time.monotonic()
        self._emitted = 0

    async def poll_batch(self, max_records: int) -> list[T] | None:
        live = [p for p in self._progressions if p[0] < self._count]
        if not live:
            return None
        n = max_records
        if self._rate is not None:
            due = int((time.monotonic() - self._started) * self._rate) - self._emitted
            if due <= 0:
                await asyncio.sleep(min(0.05, 1.0 / self._rate))
                return []
            n = min(n, due)
        each = max(n // len(live), 1)
        indices: list[int] = []
        for position, (start, step) in enumerate(live):
            taken = range(start, min(start + each * step, self._count), step)
            live[position] = (start + len(taken) * step, step)
            indices.extend(taken)
        self._progressions = live
        self._emitted += len(indices)
        return list(map(self._call, indices))

    def snapshot_position(self) -> list[Progression]:
        return list(self._progressions)

    def restore_position(self, position: Any) -> None:
        if isinstance(position, RedistributedState):
            left = [(start, step) for part in position for start, step in part]
            self._progressions = share_of_progressions(left, self._subtask,
                                                       self._parallelism)
        elif isinstance(position, int):  # a checkpoint of an earlier weir: the next index
            self._progressions = [(position, self._parallelism)]
        else:
            self._progressions = [(start, step) for start, step in position]
