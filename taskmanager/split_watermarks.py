"""Per-split watermarks of a source subtask (Flink's ``WatermarkOutputMultiplexer`` as the
``SourceOperator`` uses it for the splits of a ``SourceReader``).

When a source reader reads several splits (e.g. Kafka partitions), one watermark
generator and one idleness timer run per split. The subtask's watermark is the minimum
over the splits that are not idle: a split idle for the idleness timeout is left out
until it produces again; a split that has produced nothing yet holds the watermark back
(until it is idle). When every split is idle, the subtask is idle. A split that finished
or was released no longer counts. A subtask without splits is idle once the idleness
timeout passed (never, without idleness), as a source without records is.

Pure logic on an injected clock (``now_ms`` arguments); owned by one task, no locks.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Protocol

__all__ = ["IdlenessDetector", "SplitOutput", "SplitWatermarkMultiplexer", "WatermarkGenerator"]


class WatermarkGenerator(Protocol):
    """A split's watermark generator (``BoundedOutOfOrdernessWatermarks``)."""

    def on_event(self, timestamp: int) -> None: ...

    def current_watermark(self) -> int: ...


class IdlenessDetector(Protocol):
    """A split's idleness timer (``IdlenessTimer``)."""

    def activity(self) -> None: ...

    def check_if_idle(self, now_ms: int) -> bool: ...


@dataclass
class SplitOutput:
    """The generator and idleness timer of one split; the watermark operator feeds them
    the batches of that split."""

    generator: WatermarkGenerator
    idleness: IdlenessDetector | None


class SplitWatermarkMultiplexer:
    """One ``SplitOutput`` per split; combines them into the subtask's watermark.

    Args:
        new_generator: makes the generator of a new split.
        new_idleness: makes the idleness timer of a new split; None without idleness.
    """

    def __init__(self, new_generator: Callable[[], WatermarkGenerator],
                 new_idleness: Callable[[], IdlenessDetector] | None = None) -> None:
        self._new_generator = new_generator
        self._new_idleness = new_idleness
        self._splits: dict[str, SplitOutput] = {}
        self._known: Collection[str] = frozenset()
        self._no_splits = new_idleness() if new_idleness is not None else None

    @property
    def split_ids(self) -> list[str]:
        return list(self._splits)

    def output(self, split_id: str) -> SplitOutput:
        """The output of ``split_id``, added when it is new."""
        output = self._splits.get(split_id)
        if output is None:
            output = self._splits[split_id] = SplitOutput(
                self._new_generator(),
                self._new_idleness() if self._new_idleness is not None else None)
        return output

    def set_splits(self, split_ids: Collection[str]) -> None:
        """The reader reads exactly ``split_ids`` now: add the new ones, release the others.
        Cheap when called again with the same collection."""
        if split_ids is self._known:
            return
        self._known = split_ids
        for gone in [s for s in self._splits if s not in split_ids]:
            del self._splits[gone]
        for split_id in split_ids:
            self.output(split_id)

    def combined(self, now_ms: int) -> tuple[int | None, bool]:
        """The periodic check: ``(watermark, idle)``, the minimum watermark over the splits
        that are not idle (None when every split is idle or there are none), and whether
        the subtask is idle. Each split's idleness timer is checked once per call."""
        if not self._splits:
            idle = self._no_splits is not None and self._no_splits.check_if_idle(now_ms)
            return None, idle
        if self._no_splits is not None:
            self._no_splits.activity()  # the clock of "no splits" restarts when they go
        watermark: int | None = None
        for output in self._splits.values():
            if output.idleness is not None and output.idleness.check_if_idle(now_ms):
                continue
            current = output.generator.current_watermark()
            if watermark is None or current < watermark:
                watermark = current
        return watermark, watermark is None
