"""Which state files each subtask restores from: a pure function of the graph and a checkpoint.

State is matched to operators by operator id (the ``uid``, else a generated
id), as in Flink, so a savepoint restores into a job whose chains are cut
differently. Rules, as in Flink:

- state for an operator the job no longer has is an error, unless
  ``allow_non_restored_state`` (then it is skipped);
- an operator with no state in the checkpoint starts empty;
- subtask i restores from subtask i's file: the parallelism of an operator
  with state must not change (rescaling is not supported yet).
"""

from __future__ import annotations

from weir.checkpoint import CheckpointMetadata
from weir.graph.deployment import StateFile, TaskRestore
from weir.proto import jobmanager_pb2 as pb

__all__ = ["StateAssignmentError", "assign_restored_state"]


class StateAssignmentError(ValueError):
    """The checkpoint's state does not fit the job; the message says what to change."""


def assign_restored_state(graph: pb.JobGraph, metadata: CheckpointMetadata, directory: str,
                          allow_non_restored_state: bool = False,
                          ) -> dict[tuple[str, int], TaskRestore]:
    vertex_of_operator = {op: v for v in graph.vertices for op in v.operator_uids}
    files: dict[tuple[str, int], list[StateFile]] = {}
    for old_vertex, operators in sorted(metadata.operator_states.items()):
        old_parallelism = metadata.vertex_parallelism.get(old_vertex, 0)
        handles = metadata.task_states.get(old_vertex, {})
        targets = set()
        for op in operators:
            vertex = vertex_of_operator.get(op)
            if vertex is None:
                if allow_non_restored_state:
                    continue
                raise StateAssignmentError(
                    f"the checkpoint has state for operator '{op}', which the job no longer "
                    "has; give the operator its old uid, or allow non-restored state "
                    "(--allow-non-restored-state) to drop that state")
            if vertex.parallelism != old_parallelism:
                raise StateAssignmentError(
                    f"operator '{op}' ran at parallelism {old_parallelism} in the checkpoint "
                    f"and has {vertex.parallelism} now; restore at the same parallelism "
                    "(rescaling is not supported yet)")
            targets.add(vertex.id)
        for vertex_id in targets:
            for subtask, handle in handles.items():
                files.setdefault((vertex_id, subtask), []).append(
                    StateFile(directory, handle.path, handle.size, handle.sha256))
    return {key: TaskRestore(metadata.checkpoint_id, tuple(found))
            for key, found in files.items()}
