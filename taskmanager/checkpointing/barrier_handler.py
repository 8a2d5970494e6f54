"""Barrier alignment of one task's input channels (pure bookkeeping, no I/O).

EXACTLY_ONCE: a channel that delivered barrier n is blocked until n arrived on
every channel that has not ended; then the task snapshots and every channel is
released. AT_LEAST_ONCE: nothing is blocked; the task snapshots when the last
barrier n arrives. A newer barrier that arrives before alignment of n completed
means n was given up (as in Flink): alignment restarts for the newer one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from weir.taskmanager.network.events import CheckpointBarrier

__all__ = ["BarrierHandler", "BarrierOutcome"]


@dataclass
class BarrierOutcome:
    """What the task must do after a barrier or an end of partition, in this order:
    release what an alignment that was given up holds, block a channel, snapshot, release
    every channel. Releasing after blocking would let records that follow the new barrier
    into the state its checkpoint holds, where a restore would see them twice (the source's
    position in the same checkpoint has them still to come)."""

    release_given_up: bool = False  # an older checkpoint's alignment was given up
    block: int | None = None  # channel to block
    snapshot: CheckpointBarrier | None = None  # the checkpoint to take now
    unblock_all: bool = False  # after the snapshot (alone: an aborted checkpoint)


@dataclass
class BarrierHandler:
    channel_count: int
    exactly_once: bool = True
    _ended: set[int] = field(default_factory=set)
    _current: CheckpointBarrier | None = None
    _received: set[int] = field(default_factory=set)
    latest_checkpoint_id: int = 0

    def on_barrier(self, channel: int, barrier: CheckpointBarrier) -> BarrierOutcome:
        if barrier.checkpoint_id <= self.latest_checkpoint_id:
            return BarrierOutcome()  # a checkpoint already taken or given up
        outcome = BarrierOutcome()
        current = self._current
        if current is None or barrier.checkpoint_id > current.checkpoint_id:
            outcome.release_given_up = current is not None and self.exactly_once
            self._current = barrier
            self._received = set()
        elif barrier.checkpoint_id < current.checkpoint_id:
            return outcome
        self._received.add(channel)
        if self._aligned():
            return self._complete(outcome)
        if self.exactly_once:
            outcome.block = channel
        return outcome

    def on_end_of_partition(self, channel: int) -> BarrierOutcome:
        self._ended.add(channel)
        if self._current is not None and self._aligned():
            return self._complete(BarrierOutcome())
        return BarrierOutcome()

    def abort(self, checkpoint_id: int) -> BarrierOutcome:
        """Checkpoint ``checkpoint_id`` was aborted: stop aligning for it."""
        self.latest_checkpoint_id = max(self.latest_checkpoint_id, checkpoint_id)
        if self._current is None or self._current.checkpoint_id > checkpoint_id:
            return BarrierOutcome()
        self._current = None
        self._received = set()
        return BarrierOutcome(unblock_all=self.exactly_once)

    def taken_directly(self, checkpoint_id: int) -> bool:
        """A checkpoint triggered directly (no barriers: all input consumed).
        False when this task already took it."""
        if checkpoint_id <= self.latest_checkpoint_id:
            return False
        self.latest_checkpoint_id = checkpoint_id
        return True

    def _aligned(self) -> bool:
        return len(self._received | self._ended) >= self.channel_count

    def _complete(self, outcome: BarrierOutcome) -> BarrierOutcome:
        assert self._current is not None
        outcome.snapshot = self._current
        outcome.unblock_all = self.exactly_once
        self.latest_checkpoint_id = self._current.checkpoint_id
        self._current = None
        self._received = set()
        return outcome
