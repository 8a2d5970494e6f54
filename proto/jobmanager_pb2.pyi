from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Partitioner(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PARTITIONER_UNSPECIFIED: _ClassVar[Partitioner]
    FORWARD: _ClassVar[Partitioner]
    REBALANCE: _ClassVar[Partitioner]
    RESCALE: _ClassVar[Partitioner]
    HASH: _ClassVar[Partitioner]
    BROADCAST: _ClassVar[Partitioner]
    SHUFFLE: _ClassVar[Partitioner]
    CUSTOM: _ClassVar[Partitioner]

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    CREATED: _ClassVar[JobState]
    RUNNING: _ClassVar[JobState]
    FINISHED: _ClassVar[JobState]
    CANCELING: _ClassVar[JobState]
    CANCELED: _ClassVar[JobState]
    FAILING: _ClassVar[JobState]
    FAILED: _ClassVar[JobState]
    RESTARTING: _ClassVar[JobState]

class ExecutionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXECUTION_STATE_UNSPECIFIED: _ClassVar[ExecutionState]
    TASK_CREATED: _ClassVar[ExecutionState]
    TASK_DEPLOYING: _ClassVar[ExecutionState]
    TASK_RUNNING: _ClassVar[ExecutionState]
    TASK_FINISHED: _ClassVar[ExecutionState]
    TASK_CANCELING: _ClassVar[ExecutionState]
    TASK_CANCELED: _ClassVar[ExecutionState]
    TASK_FAILED: _ClassVar[ExecutionState]

class CheckpointStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHECKPOINT_STATUS_UNSPECIFIED: _ClassVar[CheckpointStatus]
    IN_PROGRESS: _ClassVar[CheckpointStatus]
    COMPLETED: _ClassVar[CheckpointStatus]
    CHECKPOINT_FAILED: _ClassVar[CheckpointStatus]
PARTITIONER_UNSPECIFIED: Partitioner
FORWARD: Partitioner
REBALANCE: Partitioner
RESCALE: Partitioner
HASH: Partitioner
BROADCAST: Partitioner
SHUFFLE: Partitioner
CUSTOM: Partitioner
JOB_STATE_UNSPECIFIED: JobState
CREATED: JobState
RUNNING: JobState
FINISHED: JobState
CANCELING: JobState
CANCELED: JobState
FAILING: JobState
FAILED: JobState
RESTARTING: JobState
EXECUTION_STATE_UNSPECIFIED: ExecutionState
TASK_CREATED: ExecutionState
TASK_DEPLOYING: ExecutionState
TASK_RUNNING: ExecutionState
TASK_FINISHED: ExecutionState
TASK_CANCELING: ExecutionState
TASK_CANCELED: ExecutionState
TASK_FAILED: ExecutionState
CHECKPOINT_STATUS_UNSPECIFIED: CheckpointStatus
IN_PROGRESS: CheckpointStatus
COMPLETED: CheckpointStatus
CHECKPOINT_FAILED: CheckpointStatus

class JobEdge(_message.Message):
    __slots__ = ("source_vertex_id", "partitioner", "key_selector", "input_index", "partition_function")
    SOURCE_VERTEX_ID_FIELD_NUMBER: _ClassVar[int]
    PARTITIONER_FIELD_NUMBER: _ClassVar[int]
    KEY_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    INPUT_INDEX_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FUNCTION_FIELD_NUMBER: _ClassVar[int]
    source_vertex_id: str
    partitioner: Partitioner
    key_selector: bytes
    input_index: int
    partition_function: bytes
    def __init__(self, source_vertex_id: _Optional[str] = ..., partitioner: _Optional[_Union[Partitioner, str]] = ..., key_selector: _Optional[bytes] = ..., input_index: _Optional[int] = ..., partition_function: _Optional[bytes] = ...) -> None: ...

class JobVertex(_message.Message):
    __slots__ = ("id", "name", "parallelism", "max_parallelism", "operator_chain", "inputs", "is_source", "operator_uids")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARALLELISM_FIELD_NUMBER: _ClassVar[int]
    MAX_PARALLELISM_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_CHAIN_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    IS_SOURCE_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_UIDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    parallelism: int
    max_parallelism: int
    operator_chain: bytes
    inputs: _containers.RepeatedCompositeFieldContainer[JobEdge]
    is_source: bool
    operator_uids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., parallelism: _Optional[int] = ..., max_parallelism: _Optional[int] = ..., operator_chain: _Optional[bytes] = ..., inputs: _Optional[_Iterable[_Union[JobEdge, _Mapping]]] = ..., is_source: _Optional[bool] = ..., operator_uids: _Optional[_Iterable[str]] = ...) -> None: ...

class JobGraph(_message.Message):
    __slots__ = ("name", "vertices", "configuration")
    class ConfigurationEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERTICES_FIELD_NUMBER: _ClassVar[int]
    CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    name: str
    vertices: _containers.RepeatedCompositeFieldContainer[JobVertex]
    configuration: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., vertices: _Optional[_Iterable[_Union[JobVertex, _Mapping]]] = ..., configuration: _Optional[_Mapping[str, str]] = ...) -> None: ...

class SubmitJobRequest(_message.Message):
    __slots__ = ("job_graph", "savepoint_path", "allow_non_restored_state")
    JOB_GRAPH_FIELD_NUMBER: _ClassVar[int]
    SAVEPOINT_PATH_FIELD_NUMBER: _ClassVar[int]
    ALLOW_NON_RESTORED_STATE_FIELD_NUMBER: _ClassVar[int]
    job_graph: JobGraph
    savepoint_path: str
    allow_non_restored_state: bool
    def __init__(self, job_graph: _Optional[_Union[JobGraph, _Mapping]] = ..., savepoint_path: _Optional[str] = ..., allow_non_restored_state: _Optional[bool] = ...) -> None: ...

class SubmitJobResponse(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class JobSummary(_message.Message):
    __slots__ = ("job_id", "name", "state", "start_time", "end_time")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    name: str
    state: JobState
    start_time: float
    end_time: float
    def __init__(self, job_id: _Optional[str] = ..., name: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ..., start_time: _Optional[float] = ..., end_time: _Optional[float] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[JobSummary]
    def __init__(self, jobs: _Optional[_Iterable[_Union[JobSummary, _Mapping]]] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class SubtaskDetails(_message.Message):
    __slots__ = ("index", "state", "taskmanager", "records_in", "records_out")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TASKMANAGER_FIELD_NUMBER: _ClassVar[int]
    RECORDS_IN_FIELD_NUMBER: _ClassVar[int]
    RECORDS_OUT_FIELD_NUMBER: _ClassVar[int]
    index: int
    state: ExecutionState
    taskmanager: str
    records_in: int
    records_out: int
    def __init__(self, index: _Optional[int] = ..., state: _Optional[_Union[ExecutionState, str]] = ..., taskmanager: _Optional[str] = ..., records_in: _Optional[int] = ..., records_out: _Optional[int] = ...) -> None: ...

class VertexDetails(_message.Message):
    __slots__ = ("id", "name", "parallelism", "subtasks")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARALLELISM_FIELD_NUMBER: _ClassVar[int]
    SUBTASKS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    parallelism: int
    subtasks: _containers.RepeatedCompositeFieldContainer[SubtaskDetails]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., parallelism: _Optional[int] = ..., subtasks: _Optional[_Iterable[_Union[SubtaskDetails, _Mapping]]] = ...) -> None: ...

class JobDetails(_message.Message):
    __slots__ = ("job_id", "name", "state", "start_time", "end_time", "failure_cause", "vertices", "num_restarts", "last_restart_cause", "checkpoints")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    FAILURE_CAUSE_FIELD_NUMBER: _ClassVar[int]
    VERTICES_FIELD_NUMBER: _ClassVar[int]
    NUM_RESTARTS_FIELD_NUMBER: _ClassVar[int]
    LAST_RESTART_CAUSE_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    name: str
    state: JobState
    start_time: float
    end_time: float
    failure_cause: str
    vertices: _containers.RepeatedCompositeFieldContainer[VertexDetails]
    num_restarts: int
    last_restart_cause: str
    checkpoints: CheckpointCounts
    def __init__(self, job_id: _Optional[str] = ..., name: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ..., start_time: _Optional[float] = ..., end_time: _Optional[float] = ..., failure_cause: _Optional[str] = ..., vertices: _Optional[_Iterable[_Union[VertexDetails, _Mapping]]] = ..., num_restarts: _Optional[int] = ..., last_restart_cause: _Optional[str] = ..., checkpoints: _Optional[_Union[CheckpointCounts, _Mapping]] = ...) -> None: ...

class CheckpointCounts(_message.Message):
    __slots__ = ("completed", "failed", "in_progress", "latest_completed_id", "latest_completed_path", "restored_id", "restored_path")
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    IN_PROGRESS_FIELD_NUMBER: _ClassVar[int]
    LATEST_COMPLETED_ID_FIELD_NUMBER: _ClassVar[int]
    LATEST_COMPLETED_PATH_FIELD_NUMBER: _ClassVar[int]
    RESTORED_ID_FIELD_NUMBER: _ClassVar[int]
    RESTORED_PATH_FIELD_NUMBER: _ClassVar[int]
    completed: int
    failed: int
    in_progress: int
    latest_completed_id: int
    latest_completed_path: str
    restored_id: int
    restored_path: str
    def __init__(self, completed: _Optional[int] = ..., failed: _Optional[int] = ..., in_progress: _Optional[int] = ..., latest_completed_id: _Optional[int] = ..., latest_completed_path: _Optional[str] = ..., restored_id: _Optional[int] = ..., restored_path: _Optional[str] = ...) -> None: ...

class CheckpointInfo(_message.Message):
    __slots__ = ("id", "status", "is_savepoint", "trigger_time", "duration_ms", "size_bytes", "path", "failure_reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    IS_SAVEPOINT_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_TIME_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    id: int
    status: CheckpointStatus
    is_savepoint: bool
    trigger_time: float
    duration_ms: int
    size_bytes: int
    path: str
    failure_reason: str
    def __init__(self, id: _Optional[int] = ..., status: _Optional[_Union[CheckpointStatus, str]] = ..., is_savepoint: _Optional[bool] = ..., trigger_time: _Optional[float] = ..., duration_ms: _Optional[int] = ..., size_bytes: _Optional[int] = ..., path: _Optional[str] = ..., failure_reason: _Optional[str] = ...) -> None: ...

class ListCheckpointsRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class ListCheckpointsResponse(_message.Message):
    __slots__ = ("checkpoints",)
    CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    checkpoints: _containers.RepeatedCompositeFieldContainer[CheckpointInfo]
    def __init__(self, checkpoints: _Optional[_Iterable[_Union[CheckpointInfo, _Mapping]]] = ...) -> None: ...

class TriggerSavepointRequest(_message.Message):
    __slots__ = ("job_id", "target_directory", "stop")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    target_directory: str
    stop: bool
    def __init__(self, job_id: _Optional[str] = ..., target_directory: _Optional[str] = ..., stop: _Optional[bool] = ...) -> None: ...

class TriggerSavepointResponse(_message.Message):
    __slots__ = ("savepoint_path",)
    SAVEPOINT_PATH_FIELD_NUMBER: _ClassVar[int]
    savepoint_path: str
    def __init__(self, savepoint_path: _Optional[str] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class CancelJobResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StreamJobOutputRequest(_message.Message):
    __slots__ = ("job_id", "collect")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    COLLECT_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    collect: bool
    def __init__(self, job_id: _Optional[str] = ..., collect: _Optional[bool] = ...) -> None: ...

class JobOutput(_message.Message):
    __slots__ = ("print_line", "collected_batch", "final_status")
    PRINT_LINE_FIELD_NUMBER: _ClassVar[int]
    COLLECTED_BATCH_FIELD_NUMBER: _ClassVar[int]
    FINAL_STATUS_FIELD_NUMBER: _ClassVar[int]
    print_line: str
    collected_batch: bytes
    final_status: JobDetails
    def __init__(self, print_line: _Optional[str] = ..., collected_batch: _Optional[bytes] = ..., final_status: _Optional[_Union[JobDetails, _Mapping]] = ...) -> None: ...

class TaskId(_message.Message):
    __slots__ = ("job_id", "attempt", "vertex_id", "subtask")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    VERTEX_ID_FIELD_NUMBER: _ClassVar[int]
    SUBTASK_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    attempt: int
    vertex_id: str
    subtask: int
    def __init__(self, job_id: _Optional[str] = ..., attempt: _Optional[int] = ..., vertex_id: _Optional[str] = ..., subtask: _Optional[int] = ...) -> None: ...

class TaskExecutionStateUpdate(_message.Message):
    __slots__ = ("task", "state", "failure_cause", "records_in", "records_out", "end_of_input")
    TASK_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_CAUSE_FIELD_NUMBER: _ClassVar[int]
    RECORDS_IN_FIELD_NUMBER: _ClassVar[int]
    RECORDS_OUT_FIELD_NUMBER: _ClassVar[int]
    END_OF_INPUT_FIELD_NUMBER: _ClassVar[int]
    task: TaskId
    state: ExecutionState
    failure_cause: str
    records_in: int
    records_out: int
    end_of_input: bool
    def __init__(self, task: _Optional[_Union[TaskId, _Mapping]] = ..., state: _Optional[_Union[ExecutionState, str]] = ..., failure_cause: _Optional[str] = ..., records_in: _Optional[int] = ..., records_out: _Optional[int] = ..., end_of_input: _Optional[bool] = ...) -> None: ...

class TaskOutput(_message.Message):
    __slots__ = ("task", "print_lines", "collected_batch")
    TASK_FIELD_NUMBER: _ClassVar[int]
    PRINT_LINES_FIELD_NUMBER: _ClassVar[int]
    COLLECTED_BATCH_FIELD_NUMBER: _ClassVar[int]
    task: TaskId
    print_lines: _containers.RepeatedScalarFieldContainer[str]
    collected_batch: bytes
    def __init__(self, task: _Optional[_Union[TaskId, _Mapping]] = ..., print_lines: _Optional[_Iterable[str]] = ..., collected_batch: _Optional[bytes] = ...) -> None: ...

class TaskMetrics(_message.Message):
    __slots__ = ("task", "records_in", "records_out")
    TASK_FIELD_NUMBER: _ClassVar[int]
    RECORDS_IN_FIELD_NUMBER: _ClassVar[int]
    RECORDS_OUT_FIELD_NUMBER: _ClassVar[int]
    task: TaskId
    records_in: int
    records_out: int
    def __init__(self, task: _Optional[_Union[TaskId, _Mapping]] = ..., records_in: _Optional[int] = ..., records_out: _Optional[int] = ...) -> None: ...

class TaskManagerHeartbeat(_message.Message):
    __slots__ = ("taskmanager", "tasks")
    TASKMANAGER_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    taskmanager: str
    tasks: _containers.RepeatedCompositeFieldContainer[TaskMetrics]
    def __init__(self, taskmanager: _Optional[str] = ..., tasks: _Optional[_Iterable[_Union[TaskMetrics, _Mapping]]] = ...) -> None: ...

class StateHandle(_message.Message):
    __slots__ = ("path", "size", "sha256")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    path: str
    size: int
    sha256: str
    def __init__(self, path: _Optional[str] = ..., size: _Optional[int] = ..., sha256: _Optional[str] = ...) -> None: ...

class AcknowledgeCheckpoint(_message.Message):
    __slots__ = ("task", "checkpoint_id", "state", "sync_duration_ms", "async_duration_ms", "operators_with_state", "shared_state")
    TASK_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SYNC_DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    ASYNC_DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    OPERATORS_WITH_STATE_FIELD_NUMBER: _ClassVar[int]
    SHARED_STATE_FIELD_NUMBER: _ClassVar[int]
    task: TaskId
    checkpoint_id: int
    state: StateHandle
    sync_duration_ms: int
    async_duration_ms: int
    operators_with_state: _containers.RepeatedScalarFieldContainer[str]
    shared_state: _containers.RepeatedCompositeFieldContainer[StateHandle]
    def __init__(self, task: _Optional[_Union[TaskId, _Mapping]] = ..., checkpoint_id: _Optional[int] = ..., state: _Optional[_Union[StateHandle, _Mapping]] = ..., sync_duration_ms: _Optional[int] = ..., async_duration_ms: _Optional[int] = ..., operators_with_state: _Optional[_Iterable[str]] = ..., shared_state: _Optional[_Iterable[_Union[StateHandle, _Mapping]]] = ...) -> None: ...

class DeclineCheckpoint(_message.Message):
    __slots__ = ("task", "checkpoint_id", "reason")
    TASK_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    task: TaskId
    checkpoint_id: int
    reason: str
    def __init__(self, task: _Optional[_Union[TaskId, _Mapping]] = ..., checkpoint_id: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
