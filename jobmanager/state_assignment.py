"""Which state files each subtask restores from: a pure function of the graph and a checkpoint.

State is matched to operators by operator id (the ``uid``, else a generated
id), as in Flink, so a savepoint restores into a job whose chains are cut
differently. Rules, as in Flink:

- state for an operator the job no longer has is an error, unless
  ``allow_non_restored_state`` (then it is skipped);
- an operator with no state in the checkpoint starts empty;
- at the same parallelism, subtask i restores from subtask i's file;
- at another parallelism (rescaling), state is redistributed as Flink does, by
  the kind of operator (``redistribution``):

  * keyed state (the head operator of a vertex whose inputs are hash-partitioned,
    broadcast inputs aside): new subtask j restores from every old subtask whose
    key-group range overlaps j's, and its backend keeps only its own key groups;
  * a source's position, and the head of a vertex with a broadcast input (union
    state): every new subtask gets every old subtask's part and keeps what is its
    own (the splits the enumerator now assigns it; one copy of broadcast state);
  * any other operator state, e.g. a sink's pending commits (list state): old
    subtask i goes to new subtask i mod the new parallelism.

  A redistributed operator restores from the list of its parts in old subtask
  order (``TaskRestore.rescaled``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from weir.checkpoint import CheckpointMetadata, StateHandle
from weir.graph.deployment import StateFile, TaskRestore
from weir.keygroups import KeyGroupRange, compute_key_group_range_for_operator_index
from weir.proto import jobmanager_pb2 as pb

__all__ = ["Redistribution", "StateAssignmentError", "assign_restored_state",
           "overlapping_subtasks", "redistribution"]


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


class Redistribution(enum.Enum):
    """How an operator's state is split over new subtasks when the parallelism changes."""

    KEY_GROUPS = "key groups"
    UNION = "union"
    ROUND_ROBIN = "round robin"


def redistribution(vertex: pb.JobVertex, operator: str) -> Redistribution:
    """The rescaling rule for ``operator``'s state in ``vertex``."""
    if vertex.operator_uids[:1] != [operator]:
        return Redistribution.ROUND_ROBIN
    kinds = {edge.partitioner for edge in vertex.inputs}
    if not kinds:  # a source
        return Redistribution.UNION
    if pb.HASH in kinds and kinds <= {pb.HASH, pb.BROADCAST}:
        return Redistribution.KEY_GROUPS
    if pb.BROADCAST in kinds:
        return Redistribution.UNION
    return Redistribution.ROUND_ROBIN


def _sources_of(vertex: pb.JobVertex, operator: str, old_parallelism: int,
                subtask: int) -> list[int]:
    """The old subtasks whose files new ``subtask`` of ``vertex`` reads for ``operator``."""
    if vertex.parallelism == old_parallelism:
        return [subtask]
    rule = redistribution(vertex, operator)
    if rule is Redistribution.KEY_GROUPS:
        return overlapping_subtasks(vertex.max_parallelism, old_parallelism,
                                    vertex.parallelism, subtask)
    if rule is Redistribution.UNION:
        return list(range(old_parallelism))
    return list(range(subtask, old_parallelism, vertex.parallelism))


def assign_restored_state(graph: pb.JobGraph, metadata: CheckpointMetadata, directory: str,
                          allow_non_restored_state: bool = False,
                          ) -> dict[tuple[str, int], TaskRestore]:
    vertex_of_operator = {op: v for v in graph.vertices for op in v.operator_uids}
    files: dict[tuple[str, int], dict[str, _File]] = {}
    rescaled: dict[tuple[str, int], set[str]] = {}
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
                key = (vertex.id, subtask)
                if vertex.parallelism != old_parallelism:
                    rescaled.setdefault(key, set()).add(op)
                for old in _sources_of(vertex, op, old_parallelism, subtask):
                    handle = handles.get(old)
                    if handle is not None:
                        file = files.setdefault(key, {}).setdefault(
                            handle.path, _File(handle, old))
                        file.operators.append(op)
    return {key: TaskRestore(
                metadata.checkpoint_id,
                tuple(StateFile(directory, f.handle.path, f.handle.size, f.handle.sha256,
                                f.subtask, tuple(f.operators))
                      for f in sorted(found.values(), key=_by_subtask)),
                frozenset(rescaled.get(key, ())))
            for key, found in files.items()}


@dataclass
class _File:
    handle: StateHandle
    subtask: int
    operators: list[str] = field(default_factory=list)


def _by_subtask(file: _File) -> int:
    return file.subtask
