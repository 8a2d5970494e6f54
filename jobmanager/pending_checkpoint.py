"""One checkpoint between trigger and completion, and the rules for when to trigger.

A ``PendingCheckpoint`` collects one acknowledgement per running subtask (as
Flink's ``PendingCheckpoint``); the coordinator completes it once nothing is
missing. ``next_trigger_delay`` is the pure decision behind periodic
triggering: interval, min pause between checkpoints and max concurrent ones.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from weir.proto import jobmanager_pb2 as pb

__all__ = ["AckResult", "PendingCheckpoint", "TaskKey", "next_trigger_delay"]

# (vertex id, subtask index)
TaskKey = tuple[str, int]


class AckResult(enum.Enum):
    SUCCESS = "success"
    DUPLICATE = "duplicate"
    UNKNOWN = "unknown"  # not a task this checkpoint waits for
    DISCARDED = "discarded"  # the checkpoint was already aborted or completed


@dataclass
class PendingCheckpoint:
    """Acknowledgements of checkpoint ``checkpoint_id``; ``target_uri`` is its directory."""

    checkpoint_id: int
    trigger_time: float  # unix seconds
    trigger_monotonic: float
    target_uri: str
    is_savepoint: bool
    waiting_for: set[TaskKey]
    handles: dict[TaskKey, pb.StateHandle | None] = field(default_factory=dict)
    # Operator ids each vertex has state for (savepoints are matched by them).
    operators: dict[str, set[str]] = field(default_factory=dict)
    stop_job: bool = False
    # Triggered after every task consumed its input: the tasks' snapshots hold their
    # final output (a sink's last parts), so its completion lets the tasks finish.
    final: bool = False
    discarded: bool = False

    @property
    def fully_acknowledged(self) -> bool:
        return not self.waiting_for

    def acknowledge(self, task: TaskKey, handle: pb.StateHandle | None,
                    operators_with_state: list[str] | None = None) -> AckResult:
        if self.discarded:
            return AckResult.DISCARDED
        if task in self.handles and task not in self.waiting_for:
            return AckResult.DUPLICATE
        if task not in self.waiting_for:
            return AckResult.UNKNOWN
        self.waiting_for.discard(task)
        self.handles[task] = handle
        if operators_with_state:
            self.operators.setdefault(task[0], set()).update(operators_with_state)
        return AckResult.SUCCESS


def next_trigger_delay(now: float, interval_s: float, min_pause_s: float,
                       last_trigger: float | None, last_completion: float | None,
                       pending: int, max_concurrent: int) -> float | None:
    """Seconds until the next periodic checkpoint may start; None while ``max_concurrent``
    checkpoints are pending (ask again when one ends)."""
    if pending >= max_concurrent:
        return None
    earliest = now
    if last_trigger is not None:
        earliest = max(earliest, last_trigger + interval_s)
    if last_completion is not None:
        earliest = max(earliest, last_completion + min_pause_s)
    return earliest - now
