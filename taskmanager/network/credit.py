"""Credits: a sender may have at most as many unconsumed buffers in flight as it was granted."""

from __future__ import annotations

import asyncio

__all__ = ["Credit"]


class Credit:
    """The sender's view of one channel's credit. Touched only on the TaskManager's event loop."""

    def __init__(self) -> None:
        self._available = 0
        self._granted = asyncio.Event()

    @property
    def available(self) -> int:
        return self._available

    def add(self, amount: int) -> None:
        self._available += amount
        self._granted.set()

    async def acquire(self) -> None:
        """Take one credit, waiting (and so backpressuring the sender) while there is none."""
        while self._available == 0:
            self._granted.clear()
            await self._granted.wait()
        self._available -= 1
