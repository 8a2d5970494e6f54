"""SharedStateRegistry: which files of a job's shared directory its checkpoints still need.

Incremental RocksDB checkpoints upload only new SST files, to ``<job-dir>/shared/``, and
reference older ones (Flink's ``SharedStateRegistry``). A file has holders:

- every retained completed checkpoint holds the shared files its ``_metadata`` lists;
- a pending checkpoint holds the files of its base, the newest completed checkpoint when
  it was triggered (its tasks reference those before the JobManager hears of it), and
  every file an acknowledgement of it named.

A file is deleted when its last holder lets go: a completed checkpoint that retention
removed, or a pending one that was aborted (its newly uploaded files go with it). A file
named by an acknowledgement that arrives after its checkpoint ended is deleted at once
unless someone holds it. Completed ids are kept in memory, as in Flink; a recovering
JobManager rebuilds the registry from the retained checkpoints' ``_metadata``.

Pure bookkeeping: the methods return the files to delete and the caller deletes them.
Touched only on the JobManager's event loop.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

__all__ = ["SharedStateRegistry"]


class SharedStateRegistry:
    def __init__(self) -> None:
        self._completed: dict[int, frozenset[str]] = {}
        self._pending: dict[int, set[str]] = {}
        self._holders: Counter[str] = Counter()

    @property
    def latest_completed(self) -> int:
        """The newest completed checkpoint's id (0: none)."""
        return max(self._completed, default=0)

    def holds(self, path: str) -> bool:
        return self._holders[path] > 0

    def begin(self, checkpoint_id: int) -> int:
        """Checkpoint ``checkpoint_id`` is triggered; returns its base (0: none)."""
        base = self.latest_completed
        held = self._pending[checkpoint_id] = set()
        self._hold(held, self._completed.get(base, ()))
        return base

    def acknowledge(self, checkpoint_id: int, paths: Iterable[str]) -> list[str]:
        """One task's acknowledgement names ``paths``. Returns the files to delete: none
        while the checkpoint is pending, else those nobody holds (a late acknowledgement)."""
        held = self._pending.get(checkpoint_id)
        if held is None:
            return sorted(path for path in set(paths) if not self.holds(path))
        self._hold(held, paths)
        return []

    def complete(self, checkpoint_id: int, paths: Iterable[str]) -> list[str]:
        """Checkpoint ``checkpoint_id`` completed (or was recovered from storage) referencing
        exactly ``paths``; returns the files nobody holds any more."""
        kept: set[str] = set()
        self._hold(kept, paths)
        self._completed[checkpoint_id] = frozenset(kept)
        return self._release(self._pending.pop(checkpoint_id, set()))

    def abort(self, checkpoint_id: int) -> list[str]:
        """Pending checkpoint ``checkpoint_id`` was aborted; returns the files to delete."""
        return self._release(self._pending.pop(checkpoint_id, set()))

    def subsume(self, checkpoint_ids: Iterable[int]) -> list[str]:
        """Retention removed these completed checkpoints; returns the files to delete."""
        dropped: list[str] = []
        for checkpoint_id in checkpoint_ids:
            dropped += self._release(self._completed.pop(checkpoint_id, frozenset()))
        return sorted(dropped)

    def _hold(self, held: set[str], paths: Iterable[str]) -> None:
        for path in paths:
            if path not in held:
                held.add(path)
                self._holders[path] += 1

    def _release(self, paths: Iterable[str]) -> list[str]:
        dropped = []
        for path in paths:
            self._holders[path] -= 1
            if self._holders[path] <= 0:
                del self._holders[path]
                dropped.append(path)
        return sorted(dropped)
