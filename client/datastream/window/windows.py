"""Windows: ``TimeWindow``, ``CountWindow`` and ``GlobalWindow`` (``pyflink.datastream.window``).

Windows are tuples underneath, so hashing and equality run in C: the runtime
keys window state by ``(key, window)`` for every record, and a Python-level
``__hash__`` would cost more than the rest of the lookup.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable
from operator import itemgetter
from typing import Any, Self

from weir.common.constants import MAX_LONG_VALUE

__all__ = ["CountWindow", "GlobalWindow", "TimeWindow", "Window"]


class Window(abc.ABC):
    """A finite bucket of elements; all its elements have arrived once event (or processing)
    time passes ``max_timestamp()``."""

    __slots__ = ()

    @abc.abstractmethod
    def max_timestamp(self) -> int: ...


class TimeWindow(tuple, Window):  # type: ignore[type-arg]
    """The interval ``[start, end)`` in milliseconds."""

    __slots__ = ()

    def __new__(cls, start: int, end: int) -> Self:
        return tuple.__new__(cls, (start, end))

    def __reduce__(self) -> tuple[Any, ...]:
        return TimeWindow, (self[0], self[1])

    start: int = property(itemgetter(0))  # type: ignore[assignment]
    end: int = property(itemgetter(1))  # type: ignore[assignment]

    def max_timestamp(self) -> int:
        return self[1] - 1

    def intersects(self, other: TimeWindow) -> bool:
        """True if this window and ``other`` overlap or touch."""
        return self[0] <= other[1] and self[1] >= other[0]

    def cover(self, other: TimeWindow) -> TimeWindow:
        """The smallest window that covers both."""
        return TimeWindow(min(self[0], other[0]), max(self[1], other[1]))

    @staticmethod
    def get_window_start_with_offset(timestamp: int, offset: int, window_size: int) -> int:
        """Start of the window of ``window_size`` (shifted by ``offset``) that holds ``timestamp``."""
        return timestamp - (timestamp - offset) % window_size

    @staticmethod
    def merge_windows(windows: Iterable[TimeWindow],
                      callback: Callable[[list[TimeWindow], TimeWindow], None] | Any) -> None:
        """Merge overlapping windows: ``callback.merge(to_be_merged, merge_result)`` (or
        ``callback(to_be_merged, merge_result)``) for each group of two or more."""
        merge = getattr(callback, "merge", callback)
        current: TimeWindow | None = None
        group: list[TimeWindow] = []
        for candidate in sorted(windows):
            if current is not None and current.intersects(candidate):
                current = current.cover(candidate)
                group.append(candidate)
                continue
            if current is not None and len(group) > 1:
                merge(group, current)
            current, group = candidate, [candidate]
        if current is not None and len(group) > 1:
            merge(group, current)

    def __repr__(self) -> str:
        return f"TimeWindow(start={self[0]}, end={self[1]})"


class CountWindow(tuple, Window):  # type: ignore[type-arg]
    """The ``id``-th window of a count-window assigner."""

    __slots__ = ()

    def __new__(cls, id: int) -> Self:
        return tuple.__new__(cls, (id,))

    def __reduce__(self) -> tuple[Any, ...]:
        return CountWindow, (self[0],)

    id: int = property(itemgetter(0))  # type: ignore[assignment]

    def max_timestamp(self) -> int:
        return MAX_LONG_VALUE

    def __repr__(self) -> str:
        return f"CountWindow(id={self[0]})"


class GlobalWindow(tuple, Window):  # type: ignore[type-arg]
    """The one window of ``GlobalWindows``: it never ends by time."""

    __slots__ = ()

    def __new__(cls) -> Self:
        return tuple.__new__(cls, ())

    def __reduce__(self) -> tuple[Any, ...]:
        return GlobalWindow, ()

    @staticmethod
    def get() -> GlobalWindow:
        return _GLOBAL_WINDOW

    def max_timestamp(self) -> int:
        return MAX_LONG_VALUE

    def __repr__(self) -> str:
        return "GlobalWindow"


_GLOBAL_WINDOW = GlobalWindow()
