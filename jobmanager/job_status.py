"""Job and task lifecycles as guarded transitions (values are the protocol's enums)."""

from __future__ import annotations

from weir.proto import jobmanager_pb2 as pb

__all__ = [
    "JOB_TERMINAL",
    "TASK_TERMINAL",
    "IllegalTransitionError",
    "cancel_refusal",
    "check_job_transition",
    "check_task_transition",
]


class IllegalTransitionError(RuntimeError):
    pass


JOB_TERMINAL = frozenset({pb.FINISHED, pb.CANCELED, pb.FAILED})
TASK_TERMINAL = frozenset({pb.TASK_FINISHED, pb.TASK_CANCELED, pb.TASK_FAILED})

_JOB_TRANSITIONS: dict[int, frozenset[int]] = {
    pb.CREATED: frozenset({pb.RUNNING, pb.CANCELING, pb.FAILING, pb.FAILED, pb.CANCELED}),
    pb.RUNNING: frozenset({pb.FINISHED, pb.CANCELING, pb.FAILING, pb.RESTARTING}),
    pb.RESTARTING: frozenset({pb.RUNNING, pb.CANCELING, pb.FAILING}),
    pb.CANCELING: frozenset({pb.CANCELED}),
    pb.FAILING: frozenset({pb.FAILED}),
}

_TASK_TRANSITIONS: dict[int, frozenset[int]] = {
    pb.TASK_CREATED: frozenset({pb.TASK_DEPLOYING, pb.TASK_CANCELING, pb.TASK_CANCELED,
                                pb.TASK_FAILED}),
    pb.TASK_DEPLOYING: frozenset({pb.TASK_RUNNING, pb.TASK_CANCELING, pb.TASK_CANCELED,
                                  pb.TASK_FAILED, pb.TASK_FINISHED}),
    pb.TASK_RUNNING: frozenset({pb.TASK_FINISHED, pb.TASK_CANCELING, pb.TASK_CANCELED,
                                pb.TASK_FAILED}),
    pb.TASK_CANCELING: frozenset({pb.TASK_CANCELED, pb.TASK_FINISHED, pb.TASK_FAILED}),
}


def check_job_transition(current: int, target: int) -> None:
    if target not in _JOB_TRANSITIONS.get(current, frozenset()):
        raise IllegalTransitionError(
            f"job cannot go from {pb.JobState.Name(current)} to {pb.JobState.Name(target)}")


_ENDED_AS: dict[int, str] = {pb.FINISHED: "already finished", pb.CANCELED: "was already cancelled",
                             pb.FAILED: "already failed"}


def cancel_refusal(job_id: str, state: int) -> str | None:
    """Why a job in ``state`` cannot be cancelled, or None when it can: a job that already
    ended (Flink's ``FlinkJobTerminatedWithoutCancellationException``)."""
    ended = _ENDED_AS.get(state)
    if ended is None:
        return None
    return (f"job {job_id} {ended} (state {pb.JobState.Name(state)}); there is nothing to "
            "cancel")


def check_task_transition(current: int, target: int) -> bool:
    """True if the task may move to ``target``; False for a late report after a terminal state."""
    if current in TASK_TERMINAL:
        return False
    if target not in _TASK_TRANSITIONS.get(current, frozenset()):
        raise IllegalTransitionError(f"task cannot go from {pb.ExecutionState.Name(current)} "
                                     f"to {pb.ExecutionState.Name(target)}")
    return True
