"""Control messages: what the TaskManager asks a running StreamTask to do.

The TaskManager actor turns each JobManager call into one message and posts it
to the task (``StreamTask.post``); the task's mailbox loop handles the messages
between batches, in arrival order, dispatching on their type. Records never
travel here: they arrive in band through the input gate.

A new kind of message is one frozen dataclass below, added to
``ControlMessage``, and one ``case`` in the task's dispatch (mypy reports a
kind without one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from weir.taskmanager.network.events import CheckpointBarrier

__all__ = [
    "ControlMessage",
    "NotifyCheckpointAborted",
    "NotifyCheckpointComplete",
    "TriggerCheckpoint",
]


@dataclass(frozen=True, slots=True)
class TriggerCheckpoint:
    """Take checkpoint ``barrier.checkpoint_id`` without waiting for barriers: a source
    injects the barrier; a task whose input ended snapshots its final state."""

    barrier: CheckpointBarrier


@dataclass(frozen=True, slots=True)
class NotifyCheckpointComplete:
    """Checkpoint ``checkpoint_id`` completed (two-phase-commit sinks commit on it).

    ``final``: it was triggered after every task's input ended, so a task whose input
    ended may finish once it has it.
    """

    checkpoint_id: int
    final: bool


@dataclass(frozen=True, slots=True)
class NotifyCheckpointAborted:
    """Checkpoint ``checkpoint_id`` was given up: stop aligning for it."""

    checkpoint_id: int


ControlMessage: TypeAlias = TriggerCheckpoint | NotifyCheckpointComplete | NotifyCheckpointAborted
