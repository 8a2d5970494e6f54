"""Snapshots a backend finishes after the barrier (Flink's asynchronous snapshot part).

A backend's ``snapshot`` runs in the synchronous part of a checkpoint and may return a
``PendingSnapshot`` instead of the state itself: then it has only captured what it must
(a native RocksDB checkpoint, a copy of the timers), and the subtask checkpointer calls
``materialize`` once the barrier is forwarded, while records flow again. What
``materialize`` returns goes into the subtask's state file, and the acknowledgement
carries the shared files it references. ``discard`` is called last in every case (after
``materialize``, or instead of it when the checkpoint is given up).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from weir.checkpoint import StateHandle

__all__ = ["MaterializedSnapshot", "PendingSnapshot", "SnapshotTarget"]


@dataclass(frozen=True)
class SnapshotTarget:
    """Where checkpoint ``checkpoint_id`` goes.

    ``shared_uri`` is the job's shared directory, "" for a savepoint (which must be
    self-contained, in the canonical format); ``base_checkpoint_id`` is the newest
    completed checkpoint, whose shared files this one may reference instead of uploading
    them again (0: none); ``configuration`` has the storage options.
    """

    checkpoint_id: int
    shared_uri: str = ""
    base_checkpoint_id: int = 0
    configuration: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MaterializedSnapshot:
    """``state`` goes into the subtask's state file; ``shared`` lists the files in the
    shared directory it references (paths relative to that directory), ``uploaded`` those
    of them this snapshot uploaded (to delete if the checkpoint fails before the
    JobManager hears of them)."""

    state: Any
    shared: tuple[StateHandle, ...] = ()
    uploaded: tuple[StateHandle, ...] = ()


class PendingSnapshot(abc.ABC):
    """The synchronous part of a snapshot, taken; the rest runs in ``materialize``."""

    @abc.abstractmethod
    async def materialize(self, target: SnapshotTarget) -> MaterializedSnapshot:
        """Upload what the snapshot needs and return what the state file holds."""

    @abc.abstractmethod
    def discard(self) -> None:
        """Release local resources (idempotent)."""
