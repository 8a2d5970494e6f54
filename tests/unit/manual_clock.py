"""A manual clock for the JobManager's loops (Flink's ``ManuallyTriggeredScheduledExecutor``):
delayed callbacks run only when a test advances time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["ManualScheduler"]


class _Timer:
    def __init__(self, scheduler: ManualScheduler, handle: int) -> None:
        self._scheduler = scheduler
        self._handle = handle

    def cancel(self) -> None:
        self._scheduler.cancelled.add(self._handle)


class ManualScheduler:
    """A ``Scheduler`` whose clock is ``now``; pass ``clock=lambda: scheduler.now`` beside it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.cancelled: set[int] = set()
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._next = 0

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> _Timer:
        handle = self._next
        self._next += 1
        self._due.append((self.now + delay_s, handle, callback))
        return _Timer(self, handle)

    async def advance(self, seconds: float) -> None:
        """Let the tasks that are ready start (so their timers count from now), move the
        clock on, run the callbacks due by then in order, then let the tasks they woke (and
        the file I/O those started) run."""
        for _ in range(5):
            await asyncio.sleep(0)
        self.now += seconds
        while True:
            ready = sorted(d for d in self._due if d[0] <= self.now and d[1] not in self.cancelled)
            if not ready:
                break
            self._due.remove(ready[0])
            ready[0][2]()
            await asyncio.sleep(0)
        for _ in range(20):
            await asyncio.sleep(0.01)
