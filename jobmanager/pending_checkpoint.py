"""One checkpoint between trigger and completion, and the rules for when to trigger.

A ``PendingCheckpoint`` collects one acknowledgement per running subtask (as
Flink's ``PendingCheckpoint``); the coordinator completes it once nothing is
missing. Its lifecycle is PENDING, then COMPLETED or ABORTED with a
``CheckpointFailureReason``; any other transition raises. ``next_trigger_delay``
is the pure decision behind periodic triggering: interval, min pause between
checkpoints and max concurrent ones.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from weir.jobmanager.job_status import IllegalTransitionError
from weir.proto import jobmanager_pb2 as pb

__all__ = [
    "AckResult",
    "CheckpointException",
    "CheckpointFailure",
    "CheckpointFailureReason",
    "CheckpointState",
    "PendingCheckpoint",
    "TaskKey",
    "next_trigger_delay",
]

# (vertex id, subtask index)
TaskKey = tuple[str, int]


class AckResult(enum.Enum):
    SUCCESS = "success"
    DUPLICATE = "duplicate"
    UNKNOWN = "unknown"  # not a task this checkpoint waits for
    DISCARDED = "discarded"  # the checkpoint was already aborted or completed


class CheckpointState(enum.Enum):
    PENDING = "pending"
    COMPLETED = "completed"
    ABORTED = "aborted"


_CHECKPOINT_TRANSITIONS: dict[CheckpointState, frozenset[CheckpointState]] = {
    CheckpointState.PENDING: frozenset({CheckpointState.COMPLETED, CheckpointState.ABORTED}),
}


class CheckpointFailureReason(enum.Enum):
    """Why a checkpoint was aborted, named as in Flink's ``CheckpointFailureReason``.

    The first four are failures of the checkpoint itself and count towards
    ``tolerable-failed-checkpoints``; ``CHECKPOINT_SUBSUMED`` aborts a checkpoint that a
    later one overtook; the others abort what is pending because the job's attempt ends
    (Flink aborts them as ``CHECKPOINT_COORDINATOR_SUSPEND`` or ``_SHUTDOWN``).
    """

    CHECKPOINT_EXPIRED = "expired before completing"
    CHECKPOINT_DECLINED = "declined by a task"
    TRIGGER_CHECKPOINT_FAILURE = "the trigger did not reach the tasks"
    FINALIZE_CHECKPOINT_FAILURE = "writing _metadata failed"
    CHECKPOINT_SUBSUMED = "a later checkpoint or savepoint completed first"
    TASK_FAILURE = "the job is restarting after a failure"
    JOB_FAILURE = "the job failed"
    JOB_CANCELLED = "the job is cancelled"
    JOB_FINISHED = "the job finished"
    JOB_STOPPED_WITH_SAVEPOINT = "the job stopped with a savepoint"

    @property
    def counts_as_failure(self) -> bool:
        """True if it counts towards the tolerable failed checkpoints."""
        return self in _COUNTED_FAILURES


_COUNTED_FAILURES = frozenset({
    CheckpointFailureReason.CHECKPOINT_EXPIRED, CheckpointFailureReason.CHECKPOINT_DECLINED,
    CheckpointFailureReason.TRIGGER_CHECKPOINT_FAILURE,
    CheckpointFailureReason.FINALIZE_CHECKPOINT_FAILURE})


@dataclass(frozen=True)
class CheckpointFailure:
    """A reason and what happened (which task declined, which error); ``str`` is the text
    users see in ``weir checkpoints`` and in failure causes."""

    reason: CheckpointFailureReason
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.reason.name}: {self.detail or self.reason.value}"


class CheckpointException(RuntimeError):
    """A checkpoint or savepoint that a caller awaited was aborted (Flink's name)."""

    def __init__(self, checkpoint_id: int, failure: CheckpointFailure) -> None:
        super().__init__(f"checkpoint {checkpoint_id} failed: {failure}")
        self.checkpoint_id = checkpoint_id
        self.failure = failure


@dataclass
class PendingCheckpoint:
    """Acknowledgements of checkpoint ``checkpoint_id``; ``target_uri`` is its directory.

    Only the coordinator touches it, on the JobManager's event loop; ``state`` changes
    through ``complete`` and ``abort`` only.
    """

    checkpoint_id: int
    trigger_time: float  # unix seconds
    trigger_monotonic: float
    target_uri: str
    is_savepoint: bool
    waiting_for: set[TaskKey]
    handles: dict[TaskKey, pb.StateHandle | None] = field(default_factory=dict)
    # Operator ids each vertex has state for (savepoints are matched by them).
    operators: dict[str, set[str]] = field(default_factory=dict)
    # The newest completed checkpoint when this one was triggered: its shared files may
    # be referenced by this one's tasks.
    base_checkpoint_id: int = 0
    # Files of the job's shared directory each task's state references.
    shared: dict[TaskKey, list[pb.StateHandle]] = field(default_factory=dict)
    stop_job: bool = False
    # Triggered after every task consumed its input: the tasks' snapshots hold their
    # final output (a sink's last parts), so its completion lets the tasks finish.
    final: bool = False
    state: CheckpointState = field(default=CheckpointState.PENDING, init=False)
    failure: CheckpointFailure | None = field(default=None, init=False)

    @property
    def fully_acknowledged(self) -> bool:
        return not self.waiting_for

    def acknowledge(self, task: TaskKey, handle: pb.StateHandle | None,
                    operators_with_state: list[str] | None = None,
                    shared: list[pb.StateHandle] | None = None) -> AckResult:
        if self.state is not CheckpointState.PENDING:
            return AckResult.DISCARDED
        if task in self.handles and task not in self.waiting_for:
            return AckResult.DUPLICATE
        if task not in self.waiting_for:
            return AckResult.UNKNOWN
        self.waiting_for.discard(task)
        self.handles[task] = handle
        if shared:
            self.shared[task] = list(shared)
        if operators_with_state:
            self.operators.setdefault(task[0], set()).update(operators_with_state)
        return AckResult.SUCCESS

    def complete(self) -> None:
        """Its ``_metadata`` is written.

        Raises:
            IllegalTransitionError: when it already completed or was aborted.
        """
        self._transition(CheckpointState.COMPLETED)

    def abort(self, failure: CheckpointFailure) -> None:
        """Give up on it because of ``failure``.

        Raises:
            IllegalTransitionError: when it already completed or was aborted.
        """
        self._transition(CheckpointState.ABORTED)
        self.failure = failure

    def _transition(self, target: CheckpointState) -> None:
        if target not in _CHECKPOINT_TRANSITIONS.get(self.state, frozenset()):
            raise IllegalTransitionError(f"checkpoint {self.checkpoint_id} cannot go from "
                                         f"{self.state.name} to {target.name}")
        self.state = target


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
