"""The input side of a task: every channel it reads from, merged in arrival order."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from weir.taskmanager.network.events import EndOfPartition

__all__ = ["InputGate"]


class InputGate:
    """Buffers delivered by all input channels of one task.

    Each polled item returns one credit to its channel's sender, so a channel
    holds at most its initial credit of unconsumed buffers. ``on_data`` wakes
    the task's mailbox. Touched only on the TaskManager's event loop.
    """

    def __init__(self, channel_count: int, on_data: Callable[[], None]) -> None:
        self.bytes_received = 0  # of the frames remote channels delivered (local: none)
        self._queue: deque[tuple[int, Any]] = deque()
        self._credit_returns: list[Callable[[int], None] | None] = [None] * channel_count
        self._ended = [False] * channel_count
        self._open_channels = channel_count
        self._on_data = on_data
        # Channels blocked by barrier alignment, and what arrived on them meanwhile.
        self._blocked: dict[int, deque[Any]] = {}

    @property
    def channel_count(self) -> int:
        return len(self._ended)

    @property
    def finished(self) -> bool:
        """True when every channel delivered its EndOfPartition and all was polled."""
        return self._open_channels == 0 and not self._queue and not self._blocked

    @property
    def queued(self) -> int:
        return len(self._queue)

    def bind(self, channel: int, credit_return: Callable[[int], None]) -> None:
        self._credit_returns[channel] = credit_return

    def deliver(self, channel: int, item: Any) -> None:
        self._queue.append((channel, item))
        self._on_data()

    def block(self, channel: int) -> None:
        """Hold back what ``channel`` delivers (its credits stay spent) until ``unblock_all``."""
        self._blocked.setdefault(channel, deque())

    def unblock_all(self) -> None:
        """Release the blocked channels; what they held comes next, in channel order."""
        held = [(channel, item) for channel, items in self._blocked.items() for item in items]
        self._blocked.clear()
        self._queue.extendleft(reversed(held))
        if held:
            self._on_data()

    def poll(self) -> tuple[int, Any] | None:
        """The next (channel, item), or None when nothing is queued."""
        queue = self._queue
        blocked = self._blocked
        while queue:
            channel, item = queue.popleft()
            if channel in blocked:
                blocked[channel].append(item)
                continue
            return self._consumed(channel, item)
        return None

    def _consumed(self, channel: int, item: Any) -> tuple[int, Any]:
        if isinstance(item, EndOfPartition):
            if not self._ended[channel]:
                self._ended[channel] = True
                self._open_channels -= 1
        else:
            credit_return = self._credit_returns[channel]
            if credit_return is not None:
                credit_return(1)
        return channel, item
