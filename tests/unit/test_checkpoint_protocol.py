"""The checkpoint protocol's decisions: when to trigger, barrier alignment, which state each
subtask restores — pure functions and bookkeeping, no cluster."""

from __future__ import annotations

import pytest

from weir.checkpoint import CheckpointMetadata, StateHandle
from weir.graph.deployment import TaskDeployment
from weir.jobmanager.job_status import IllegalTransitionError
from weir.jobmanager.pending_checkpoint import (
    AckResult,
    CheckpointFailure,
    CheckpointFailureReason,
    CheckpointState,
    PendingCheckpoint,
    next_trigger_delay,
)
from weir.jobmanager.state_assignment import (
    Redistribution,
    StateAssignmentError,
    assign_restored_state,
    overlapping_subtasks,
    redistribution,
)
from weir.proto import jobmanager_pb2 as pb
from weir.taskmanager.checkpointing.barrier_handler import BarrierHandler
from weir.taskmanager.network.events import CheckpointBarrier
from weir.taskmanager.task import StreamTask


def barrier(n: int) -> CheckpointBarrier:
    return CheckpointBarrier(n, 0, f"file:///chk-{n}")


# ------------------------------------------------------------------ triggering

def test_periodic_checkpoints_wait_for_the_interval_and_the_min_pause():
    # last triggered at 10 s, interval 1 s: due at 11 s
    assert next_trigger_delay(10.2, 1.0, 0.0, 10.0, None, 0, 1) == pytest.approx(0.8)
    # completed at 10.9 s with a 0.5 s min pause: not before 11.4 s
    assert next_trigger_delay(10.95, 1.0, 0.5, 10.0, 10.9, 0, 1) == pytest.approx(0.45)
    # overdue: at once
    assert next_trigger_delay(12.0, 1.0, 0.0, 10.0, None, 0, 1) == 0.0


def test_no_periodic_checkpoint_while_max_concurrent_are_pending():
    assert next_trigger_delay(20.0, 1.0, 0.0, 10.0, None, 1, 1) is None
    assert next_trigger_delay(20.0, 1.0, 0.0, 10.0, None, 1, 2) == 0.0


def test_a_pending_checkpoint_completes_when_every_task_acknowledged():
    pending = PendingCheckpoint(3, 0.0, 0.0, "file:///x", False, {("a", 0), ("a", 1)})
    handle = pb.StateHandle(path="a-0", size=3, sha256="00")
    assert pending.acknowledge(("a", 0), handle, ["counts"]) is AckResult.SUCCESS
    assert pending.acknowledge(("a", 0), handle) is AckResult.DUPLICATE
    assert pending.acknowledge(("b", 0), None) is AckResult.UNKNOWN
    assert not pending.fully_acknowledged
    assert pending.acknowledge(("a", 1), None) is AckResult.SUCCESS
    assert pending.fully_acknowledged
    assert pending.operators == {"a": {"counts"}}
    pending.complete()
    assert pending.state is CheckpointState.COMPLETED
    assert pending.acknowledge(("a", 1), None) is AckResult.DISCARDED


def test_an_aborted_checkpoint_keeps_its_reason_and_discards_late_acknowledgements():
    pending = PendingCheckpoint(4, 0.0, 0.0, "file:///x", False, {("a", 0)})
    failure = CheckpointFailure(CheckpointFailureReason.CHECKPOINT_DECLINED, "a#0: disk full")
    pending.abort(failure)
    assert pending.state is CheckpointState.ABORTED and pending.failure == failure
    assert str(failure) == "CHECKPOINT_DECLINED: a#0: disk full"
    assert pending.acknowledge(("a", 0), None) is AckResult.DISCARDED


@pytest.mark.parametrize("first", ["complete", "abort"])
@pytest.mark.parametrize("second", ["complete", "abort"])
def test_a_checkpoint_leaves_pending_only_once(first, second):
    pending = PendingCheckpoint(5, 0.0, 0.0, "file:///x", False, {("a", 0)})
    expired = CheckpointFailure(CheckpointFailureReason.CHECKPOINT_EXPIRED)
    moves = {"complete": pending.complete, "abort": lambda: pending.abort(expired)}
    moves[first]()
    ended = pending.state
    with pytest.raises(IllegalTransitionError, match="checkpoint 5 cannot go from"):
        moves[second]()
    assert pending.state is ended


def test_only_failures_of_the_checkpoint_itself_count_towards_the_tolerable_failures():
    counted = {reason for reason in CheckpointFailureReason if reason.counts_as_failure}
    assert counted == {CheckpointFailureReason.CHECKPOINT_EXPIRED,
                       CheckpointFailureReason.CHECKPOINT_DECLINED,
                       CheckpointFailureReason.TRIGGER_CHECKPOINT_FAILURE,
                       CheckpointFailureReason.FINALIZE_CHECKPOINT_FAILURE}


# ------------------------------------------------------------------ alignment

def test_exactly_once_blocks_each_channel_until_the_barrier_is_on_every_channel():
    handler = BarrierHandler(3, exactly_once=True)
    first = handler.on_barrier(0, barrier(1))
    assert first.block == 0 and first.snapshot is None
    assert handler.on_barrier(2, barrier(1)).block == 2
    last = handler.on_barrier(1, barrier(1))
    assert last.snapshot == barrier(1) and last.unblock_all and last.block is None


def test_at_least_once_never_blocks_and_snapshots_at_the_last_barrier():
    handler = BarrierHandler(2, exactly_once=False)
    assert handler.on_barrier(1, barrier(4)).block is None
    last = handler.on_barrier(0, barrier(4))
    assert last.snapshot == barrier(4) and not last.unblock_all


def test_an_ended_channel_counts_as_aligned():
    handler = BarrierHandler(2)
    handler.on_barrier(0, barrier(2))
    done = handler.on_end_of_partition(1)
    assert done.snapshot == barrier(2) and done.unblock_all
    # with channel 1 ended, the next barrier on channel 0 alone completes alignment
    assert handler.on_barrier(0, barrier(3)).snapshot == barrier(3)


def test_a_newer_barrier_gives_up_the_older_alignment():
    handler = BarrierHandler(2)
    handler.on_barrier(0, barrier(5))
    newer = handler.on_barrier(1, barrier(6))
    # Released first, then blocked: the channel of the newer barrier stays held.
    assert newer.release_given_up and newer.block == 1
    assert not newer.unblock_all and newer.snapshot is None
    assert handler.on_barrier(0, barrier(5)).snapshot is None  # stale
    assert handler.on_barrier(0, barrier(6)).snapshot == barrier(6)


def test_an_aborted_checkpoint_releases_the_blocked_channels():
    handler = BarrierHandler(2)
    handler.on_barrier(0, barrier(7))
    assert handler.abort(7).unblock_all
    assert handler.on_barrier(1, barrier(7)).snapshot is None
    assert not handler.taken_directly(7)
    assert handler.taken_directly(8) and not handler.taken_directly(8)


# ---------------------------------------------------------------- restore

def graph(*vertices: tuple[str, int, list[str]]) -> pb.JobGraph:
    job = pb.JobGraph(name="job")
    for vertex_id, parallelism, uids in vertices:
        job.vertices.add(id=vertex_id, name=vertex_id, parallelism=parallelism,
                         max_parallelism=128, operator_uids=uids)
    return job


def metadata(**operator_states: list[str]) -> CheckpointMetadata:
    return CheckpointMetadata(
        job_id="j", checkpoint_id=9, timestamp_ms=0, duration_ms=0, is_savepoint=True,
        task_states={v: {i: StateHandle(f"{v}-{i}", 1, "ff") for i in range(2)}
                     for v in operator_states},
        vertex_parallelism={v: 2 for v in operator_states},
        operator_states=operator_states)


def test_state_follows_the_operator_uid_into_differently_chained_vertices():
    restores = assign_restored_state(
        graph(("new-source", 2, ["events"]), ("new-counts", 2, ["pairs", "counts"])),
        metadata(old=["events", "counts"]), "file:///sp")
    assert set(restores) == {("new-source", 0), ("new-source", 1), ("new-counts", 0),
                             ("new-counts", 1)}
    files = restores[("new-counts", 1)].files
    assert [(f.directory, f.path) for f in files] == [("file:///sp", "old-1")]
    assert restores[("new-counts", 1)].checkpoint_id == 9


def test_state_for_a_removed_operator_is_an_error_unless_allowed():
    job = graph(("v", 2, ["events"]))
    with pytest.raises(StateAssignmentError, match="'counts'.*allow-non-restored-state"):
        assign_restored_state(job, metadata(old=["events", "counts"]), "file:///sp")
    restores = assign_restored_state(job, metadata(old=["events", "counts"]), "file:///sp",
                                     allow_non_restored_state=True)
    assert set(restores) == {("v", 0), ("v", 1)}


def test_an_operator_without_state_starts_empty():
    job = graph(("v", 2, ["events"]), ("w", 2, ["fresh"]))
    assert ("w", 0) not in assign_restored_state(job, metadata(old=["events"]), "file:///sp")


@pytest.mark.parametrize(("mode", "aligned"), [
    (None, True), ("EXACTLY_ONCE", True), ("at-least-once", False), ("AT_LEAST_ONCE", False)])
def test_tasks_read_the_checkpointing_mode_as_the_jobmanager_does(mode, aligned):
    configuration = {"execution.checkpointing.interval": "1 s"}
    if mode is not None:
        configuration["execution.checkpointing.mode"] = mode
    deployment = TaskDeployment(job_id="j", attempt=0, vertex_id="v", vertex_name="v",
                                subtask_index=0, parallelism=1, max_parallelism=128,
                                operator_chain=b"", is_source=False, inputs=(), outputs=(),
                                configuration=configuration)
    task = StreamTask(deployment, network=None, gateway=None, local_taskmanager="tm")
    assert task._barriers.exactly_once is aligned


def keyed_graph(parallelism: int) -> pb.JobGraph:
    job = graph(("source", 1, ["events"]), ("counts", parallelism, ["counts"]),
                ("sink", 1, ["files"]))
    job.vertices[1].inputs.add(source_vertex_id="source", partitioner=pb.HASH)
    job.vertices[2].inputs.add(source_vertex_id="counts", partitioner=pb.REBALANCE)
    return job


def rescaled_metadata(parallelism: int) -> CheckpointMetadata:
    return CheckpointMetadata(
        job_id="j", checkpoint_id=4, timestamp_ms=0, duration_ms=0, is_savepoint=True,
        task_states={"source": {0: StateHandle("source-0", 1, "ff")},
                     "counts": {i: StateHandle(f"counts-{i}", 1, "ff")
                                for i in range(parallelism)},
                     "sink": {0: StateHandle("sink-0", 1, "ff")}},
        vertex_parallelism={"source": 1, "counts": parallelism, "sink": 1},
        operator_states={"source": ["events"], "counts": ["counts"], "sink": ["files"]})


@pytest.mark.parametrize(("old", "new"), [(2, 4), (4, 1), (3, 2)])
def test_keyed_state_is_rescaled_by_key_group_ranges(old, new):
    restores = assign_restored_state(keyed_graph(new), rescaled_metadata(old), "file:///sp")
    for subtask in range(new):
        paths = [f.path for f in restores[("counts", subtask)].files]
        assert paths == [f"counts-{i}" for i in overlapping_subtasks(128, old, new, subtask)]
    assert [f.path for f in restores[("sink", 0)].files] == ["sink-0"]
    covered = sorted({f.path for s in range(new) for f in restores[("counts", s)].files})
    assert covered == [f"counts-{i}" for i in range(old)]  # every key group goes somewhere
    assert overlapping_subtasks(128, 2, 4, 1) == [0] and overlapping_subtasks(128, 4, 1, 0) == \
        [0, 1, 2, 3]


@pytest.mark.parametrize(("old", "new"), [(1, 3), (3, 2), (4, 1)])
def test_sources_get_every_old_position_and_other_operator_state_goes_round_robin(old, new):
    job = graph(("source", new, ["events", "lines"]), ("sink", new, ["files"]))
    job.vertices[1].inputs.add(source_vertex_id="source", partitioner=pb.REBALANCE)
    old_states = CheckpointMetadata(
        job_id="j", checkpoint_id=4, timestamp_ms=0, duration_ms=0, is_savepoint=True,
        task_states={v: {i: StateHandle(f"{v}-{i}", 1, "ff") for i in range(old)}
                     for v in ("source", "sink")},
        vertex_parallelism={"source": old, "sink": old},
        operator_states={"source": ["events", "lines"], "sink": ["files"]})
    restores = assign_restored_state(job, old_states, "file:///sp")
    for subtask in range(new):
        if ("source", subtask) in restores:
            restore = restores[("source", subtask)]
            assert restore.rescaled == {"events", "lines"}
            assert [f.subtask for f in restore.files] == list(range(old))  # in order
            assert [f.operators for f in restore.files] == [
                ("events", "lines") if i % new == subtask else ("events",) for i in range(old)]
        sink_files = [f.path for f in restores[("sink", subtask)].files] \
            if ("sink", subtask) in restores else []
        assert sink_files == [f"sink-{i}" for i in range(subtask, old, new)]
    assert redistribution(job.vertices[0], "events") is Redistribution.UNION
    assert redistribution(job.vertices[0], "lines") is Redistribution.ROUND_ROBIN


def test_keyed_heads_with_a_broadcast_input_are_keyed_and_broadcast_alone_is_union():
    job = graph(("rules", 1, ["rules"]), ("flags", 2, ["flags"]), ("all", 2, ["all"]))
    job.vertices[1].inputs.add(source_vertex_id="rules", partitioner=pb.HASH)
    job.vertices[1].inputs.add(source_vertex_id="rules", partitioner=pb.BROADCAST)
    job.vertices[2].inputs.add(source_vertex_id="rules", partitioner=pb.REBALANCE)
    job.vertices[2].inputs.add(source_vertex_id="rules", partitioner=pb.BROADCAST)
    assert redistribution(job.vertices[1], "flags") is Redistribution.KEY_GROUPS
    assert redistribution(job.vertices[2], "all") is Redistribution.UNION
