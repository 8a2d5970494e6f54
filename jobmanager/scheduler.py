"""Slot assignment and deployment descriptors: pure functions of the graph and the cluster.

Slot sharing as in Flink: a slot holds one subtask of each vertex, so a job
needs as many slots as its largest parallelism. Slots are taken round-robin
across TaskManagers so the subtasks of each vertex spread over them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from weir.graph.deployment import (
    InputEdge,
    OutputEdge,
    TaskDeployment,
    TaskManagerInfo,
    TaskRestore,
    connected_consumers,
    connected_producers,
)
from weir.proto import jobmanager_pb2 as pb

__all__ = ["NotEnoughSlotsError", "SlotAssignment", "assign_slots", "build_deployments",
           "required_slots"]

# (vertex id, subtask) -> TaskManager name
SlotAssignment = dict[tuple[str, int], str]


class NotEnoughSlotsError(RuntimeError):
    pass


def required_slots(graph: pb.JobGraph) -> int:
    return max((v.parallelism for v in graph.vertices), default=0)


def assign_slots(graph: pb.JobGraph, free_slots: Mapping[str, int]) -> SlotAssignment:
    """Place subtask i of every vertex in the job's i-th slot.

    Raises:
        NotEnoughSlotsError: when the free slots cannot hold the job.
    """
    needed = required_slots(graph)
    order = sorted(free_slots)
    slots: list[str] = []
    round_ = 0
    while len(slots) < needed and any(free_slots[tm] > round_ for tm in order):
        slots.extend(tm for tm in order if free_slots[tm] > round_)
        round_ += 1
    if len(slots) < needed:
        total = sum(free_slots.values())
        raise NotEnoughSlotsError(
            f"the job needs {needed} slots (its largest parallelism) but only {total} are free "
            f"on {len(free_slots)} TaskManagers; lower the parallelism or start more "
            "TaskManagers or slots (weir jobmanager --taskmanagers N --slots M)")
    return {(v.id, i): slots[i] for v in graph.vertices for i in range(v.parallelism)}


def build_deployments(job_id: str, attempt: int, graph: pb.JobGraph,
                      assignment: SlotAssignment,
                      taskmanagers: Mapping[str, TaskManagerInfo],
                      configuration: Mapping[str, str],
                      restores: Mapping[tuple[str, int], TaskRestore] | None = None,
                      ) -> list[TaskDeployment]:
    """One TaskDeployment per subtask, with every input and output channel wired.

    ``configuration`` is the cluster's, overridden by the job's; ``restores``
    holds the state each subtask starts from, when it has any.
    """
    vertices = {v.id: v for v in graph.vertices}
    outputs: dict[str, list[tuple[pb.JobVertex, pb.JobEdge]]] = {v.id: [] for v in graph.vertices}
    for vertex in graph.vertices:
        for edge in vertex.inputs:
            outputs[edge.source_vertex_id].append((vertex, edge))
    deployments = []
    for vertex in graph.vertices:
        for subtask in range(vertex.parallelism):
            deployments.append(TaskDeployment(
                job_id=job_id, attempt=attempt, vertex_id=vertex.id, vertex_name=vertex.name,
                subtask_index=subtask, parallelism=vertex.parallelism,
                max_parallelism=vertex.max_parallelism, operator_chain=vertex.operator_chain,
                is_source=vertex.is_source,
                inputs=_inputs(vertex, subtask, vertices),
                outputs=_outputs(vertex, subtask, outputs[vertex.id], assignment, taskmanagers),
                configuration={**configuration, **graph.configuration},
                operator_ids=tuple(vertex.operator_uids),
                restore=(restores or {}).get((vertex.id, subtask)), job_name=graph.name))
    return deployments


def _inputs(vertex: pb.JobVertex, subtask: int,
            vertices: Mapping[str, pb.JobVertex]) -> tuple[InputEdge, ...]:
    return tuple(
        InputEdge(edge.source_vertex_id, edge.input_index, tuple(connected_producers(
            edge.partitioner, subtask, vertices[edge.source_vertex_id].parallelism,
            vertex.parallelism)))
        for edge in vertex.inputs)


def _outputs(vertex: pb.JobVertex, subtask: int,
             consumers: Sequence[tuple[pb.JobVertex, pb.JobEdge]], assignment: SlotAssignment,
             taskmanagers: Mapping[str, TaskManagerInfo]) -> tuple[OutputEdge, ...]:
    result = []
    for consumer, edge in consumers:
        targets = []
        for target in connected_consumers(edge.partitioner, subtask, vertex.parallelism,
                                          consumer.parallelism):
            tm = taskmanagers[assignment[(consumer.id, target)]]
            targets.append((target, tm.name, tm.data_host, tm.data_port))
        result.append(OutputEdge(consumer.id, edge.input_index, edge.partitioner,
                                 edge.key_selector, consumer.parallelism,
                                 consumer.max_parallelism, tuple(targets),
                                 edge.partition_function))
    return tuple(result)
