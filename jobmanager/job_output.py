"""What a job sends back to its clients: print lines, collected batches, the final status.

Print lines are kept (the most recent ``max_lines``) so any follower can
replay them; collected batches go to one follower and producers wait while
``max_batches`` are unconsumed, which backpressures the collecting sink.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import AsyncIterator, Callable

from weir.proto import jobmanager_pb2 as pb

__all__ = ["JobOutputLog"]


class JobOutputLog:
    """Touched only on the JobManager's event loop."""

    def __init__(self, max_lines: int = 100_000, max_batches: int = 64) -> None:
        self._lines: deque[str] = deque(maxlen=max_lines)
        self._dropped = 0
        self._batches: deque[bytes] = deque()
        self._max_batches = max_batches
        self._changed = asyncio.Condition()
        self._closed = False

    async def add_lines(self, lines: list[str]) -> None:
        async with self._changed:
            overflow = len(self._lines) + len(lines) - (self._lines.maxlen or 0)
            if overflow > 0:
                self._dropped += overflow
            self._lines.extend(lines)
            self._changed.notify_all()

    async def add_batch(self, batch: bytes) -> None:
        async with self._changed:
            await self._changed.wait_for(
                lambda: len(self._batches) < self._max_batches or self._closed)
            if not self._closed:
                self._batches.append(batch)
                self._changed.notify_all()

    async def close(self) -> None:
        """No more output will come (the job reached a terminal state)."""
        async with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _has_news(self, position: int, collect: bool) -> bool:
        """Closed, lines past ``position``, or (when collecting) batches to send."""
        return self._closed or self._dropped + len(self._lines) > position or (
            collect and bool(self._batches))

    async def follow(self, collect: bool,
                     final_status: Callable[[], pb.JobDetails]) -> AsyncIterator[pb.JobOutput]:
        """Every line from the start, batches if ``collect``, then the final status."""
        position = 0  # absolute line number
        while True:
            async with self._changed:
                await self._changed.wait_for(functools.partial(self._has_news, position, collect))
                start = max(position - self._dropped, 0)
                lines = list(self._lines)[start:]
                position = self._dropped + len(self._lines)
                batches = []
                if collect:
                    batches = list(self._batches)
                    self._batches.clear()
                    self._changed.notify_all()
                closed = self._closed and not self._batches
            for line in lines:
                yield pb.JobOutput(print_line=line)
            for batch in batches:
                yield pb.JobOutput(collected_batch=batch)
            if closed and not lines and not batches:
                yield pb.JobOutput(final_status=final_status())
                return
