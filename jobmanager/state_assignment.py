"""Which state files each subtask restores from: a pure function of the graph and a checkpoint.

State is matched to operators by operator id (the ``uid``, else a generated
id), as in Flink, so a savepoint restores into a job whose chains are cut
differently. Rules, as in Flink:

- state for an operator the job no longer has is an error, unless
  ``allow_non_restored_state`` (then it is skipped);
- an operator with no state in the checkpoint starts empty;
- at the same parallelism, subtask i restores from subtask i's file;
- at another parallelism (rescaling), keyed state is redistributed by
  key-group ranges: new subtask j restores from every old subtask whose
  key-group range overlaps j's, and its backend keeps only its own key groups.
  Keyed state is the state of the head operator of a vertex whose inputs are
  all hash-partitioned; other operator state (source positions, sink
  transactions) keeps its parallelism for now.
"""

from __future__ import annotations

from weir.checkpoint import CheckpointMetadata
from weir.graph.deployment import StateFile, TaskRestore
from weir.keygroups import KeyGroupRange, compute_key_group_range_for_operator_index
from weir.proto import jobmanager_pb2 as pb

__all__ = ["StateAssignmentError", "assign_restored_state", "overlapping_subtasks"]


class StateAssignmentError(ValueError):
    """The checkpoint's state does not fit the job; the message says what to change."""


def overlapping_subtasks(max_parallelism: int, old_parallelism: int, new_parallelism: int,
                         new_index: int) -> list[int]:
    """The old subtasks whose key-group ranges overlap new subtask ``new_index``'s."""
    mine = compute_key_group_range_for_operator_index(max_parallelism, new_parallelism,
                                                      new_index)
    return [old for old in range(old_parallelism)
            if _overlap(mine, compute_key_group_range_for_operator_index(
                max_parallelism, old_parallelism, old))]


def _overlap(a: KeyGroupRange, b: KeyGroupRange) -> bool:
    return a.start <= b.end and b.start <= a.end


def _is_keyed_head(vertex: pb.JobVertex, operator: str) -> bool:
    return (bool(vertex.inputs) and vertex.operator_uids[:1] == [operator]
            and all(edge.partitioner == pb.HASH for edge in vertex.inputs))


def _sources_of(vertex: pb.JobVertex, operator: str, old_parallelism: int,
                subtask: int) -> list[int]:
    """The old subtasks whose files new ``subtask`` of ``vertex`` reads for ``operator``."""
    if vertex.parallelism == old_parallelism:
        return [subtask]
    if not _is_keyed_head(vertex, operator):
        raise StateAssignmentError(
            f"operator '{operator}' ran at parallelism {old_parallelism} in the checkpoint "
            f"and has {vertex.parallelism} now; only keyed state can be rescaled yet: keep "
            "the parallelism of sources, sinks and other operators with operator state "
            "(set_parallelism on them)")
    return overlapping_subtasks(vertex.max_parallelism, old_parallelism, vertex.parallelism,
                                subtask)


def assign_restored_state(graph: pb.JobGraph, metadata: CheckpointMetadata, directory: str,
                          allow_non_restored_state: bool = False,
                          ) -> dict[tuple[str, int], TaskRestore]:
    vertex_of_operator = {op: v for v in graph.vertices for op in v.operator_uids}
    files: dict[tuple[str, int], dict[str, StateFile]] = {}
    for old_vertex, operators in sorted(metadata.operator_states.items()):
        old_parallelism = metadata.vertex_parallelism.get(old_vertex, 0)
        handles = metadata.task_states.get(old_vertex, {})
        for op in operators:
            vertex = vertex_of_operator.get(op)
            if vertex is None:
                if allow_non_restored_state:
                    continue
                raise StateAssignmentError(
                    f"the checkpoint has state for operator '{op}', which the job no longer "
                    "has; give the operator its old uid, or allow non-restored state "
                    "(--allow-non-restored-state) to drop that state")
            for subtask in range(vertex.parallelism):
                for old in _sources_of(vertex, op, old_parallelism, subtask):
                    handle = handles.get(old)
                    if handle is not None:
                        files.setdefault((vertex.id, subtask), {})[handle.path] = StateFile(
                            directory, handle.path, handle.size, handle.sha256)
    return {key: TaskRestore(metadata.checkpoint_id, tuple(found.values()))
            for key, found in files.items()}
