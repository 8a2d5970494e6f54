"""What the JobManager hands a TaskManager to run one subtask, and channel wiring rules.

These plain dataclasses travel JobManager → TaskManager as Ray call
arguments; both sides import them from here and never from each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from weir.proto import jobmanager_pb2 as pb

__all__ = [
    "ChannelKey",
    "DeployedTask",
    "InputEdge",
    "OutputEdge",
    "StateFile",
    "TaskDeployment",
    "TaskManagerInfo",
    "TaskRestore",
    "connected_consumers",
    "connected_producers",
    "is_pointwise",
]

# (job id, attempt, consumer vertex id, input index, consumer subtask, producer subtask)
ChannelKey = tuple[str, int, str, int, int, int]


@dataclass(frozen=True)
class TaskManagerInfo:
    """A running TaskManager as the JobManager sees it."""

    name: str
    data_host: str
    data_port: int
    slots: int
    # Where Prometheus scrapes this TaskManager's metrics (port 0: metrics are off).
    metrics_host: str = ""
    metrics_port: int = 0


@dataclass(frozen=True)
class OutputEdge:
    """Where one output of a task goes: ``consumers[i]`` is (subtask, TaskManager name, host, port)."""

    consumer_vertex_id: str
    input_index: int
    partitioner: int
    key_selector: bytes
    consumer_parallelism: int
    max_parallelism: int
    consumers: tuple[tuple[int, str, str, int], ...]
    # CUSTOM edges: cloudpickle of the partition function (key, num_partitions) -> channel.
    partition_function: bytes = b""


@dataclass(frozen=True)
class InputEdge:
    """One input of a task: the producer subtasks it reads from."""

    producer_vertex_id: str
    input_index: int
    producer_subtasks: tuple[int, ...]


@dataclass(frozen=True)
class StateFile:
    """One uploaded state file of a checkpoint: ``path`` is relative to ``directory``.

    ``subtask`` is the index of the old subtask that wrote it; ``operators`` the ids of
    the operators whose state the restoring subtask takes from it.
    """

    directory: str
    path: str
    size: int
    sha256: str
    subtask: int = 0
    operators: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskRestore:
    """The state a subtask starts from: the files of checkpoint ``checkpoint_id`` that hold
    its operators' state (several when a savepoint's chains were cut differently)."""

    checkpoint_id: int
    files: tuple[StateFile, ...]
    # Operators whose state was redistributed (the job's parallelism changed): they
    # restore from the list of their parts, in old subtask order, even when it has one.
    rescaled: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TaskDeployment:
    """Everything a TaskManager needs to run one subtask of one attempt of a job."""

    job_id: str
    attempt: int
    vertex_id: str
    vertex_name: str
    subtask_index: int
    parallelism: int
    max_parallelism: int
    operator_chain: bytes
    is_source: bool
    inputs: tuple[InputEdge, ...]
    outputs: tuple[OutputEdge, ...]
    configuration: dict[str, str] = field(default_factory=dict)
    # Ids of the chained operators (their uid, else generated): state is matched by them.
    operator_ids: tuple[str, ...] = ()
    restore: TaskRestore | None = None
    job_name: str = ""  # the job's name, a label of its metrics

    def channel_key(self, input_edge: InputEdge, producer_subtask: int) -> ChannelKey:
        return (self.job_id, self.attempt, self.vertex_id, input_edge.input_index,
                self.subtask_index, producer_subtask)


@dataclass(frozen=True)
class DeployedTask:
    """A task a TaskManager holds now, as it lists them for tests and operators.

    ``state`` is a ``pb.ExecutionState``: CANCELING from the cancel until the task stopped
    (a stopped task is no longer listed).
    """

    job_id: str
    attempt: int
    vertex_id: str
    subtask: int
    state: int


def is_pointwise(partitioner: int) -> bool:
    """Forward and rescale connect each producer to a few consumers, not to all."""
    return partitioner in (pb.FORWARD, pb.RESCALE)


def connected_consumers(partitioner: int, producer: int, producer_parallelism: int,
                        consumer_parallelism: int) -> list[int]:
    """The consumer subtasks that producer subtask ``producer`` sends to."""
    if not is_pointwise(partitioner):
        return list(range(consumer_parallelism))
    if producer_parallelism >= consumer_parallelism:
        return [producer * consumer_parallelism // producer_parallelism]
    start = producer * consumer_parallelism // producer_parallelism
    end = (producer + 1) * consumer_parallelism // producer_parallelism
    return list(range(start, end))


def connected_producers(partitioner: int, consumer: int, producer_parallelism: int,
                        consumer_parallelism: int) -> list[int]:
    """The producer subtasks that consumer subtask ``consumer`` reads from."""
    return [p for p in range(producer_parallelism)
            if consumer in connected_consumers(partitioner, p, producer_parallelism,
                                               consumer_parallelism)]
