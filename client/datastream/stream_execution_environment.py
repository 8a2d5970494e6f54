"""``StreamExecutionEnvironment`` (``pyflink.datastream.stream_execution_environment``)."""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from typing import Any

from weir.checkpoint.settings import CHECKPOINTING_INTERVAL
from weir.common.job_client import CloseableIterator, JobClient, JobExecutionResult
from weir.common.restart_strategy import (
    RestartStrategyConfiguration,
    is_restart_strategy_key,
    job_restart_strategy,
)
from weir.common.typeinfo import TypeInformation
from weir.common.watermark_strategy import WatermarkStrategy
from weir.config import Configuration
from weir.connector import Source, SourceReader
from weir.datastream.checkpoint_config import CheckpointConfig, CheckpointingMode
from weir.datastream.data_stream import DataStream
from weir.datastream.execution_mode import (
    RUNTIME_MODE,
    RuntimeExecutionMode,
    resolve_runtime_mode,
)
from weir.datastream.state_backend import (
    INCREMENTAL,
    ROCKSDB_LOCALDIR,
    StateBackend,
    state_backend_from_configuration,
)
from weir.executors import current_submission_context, executor_for
from weir.graph.generator import build_job_graph, execution_plan
from weir.graph.operators import OperatorSpec, SourceSpec
from weir.graph.transformations import StreamInput, Transformation
from weir.keygroups import DEFAULT_MAX_PARALLELISM

__all__ = ["StreamExecutionEnvironment"]

PARALLELISM_DEFAULT = "parallelism.default"
MAX_PARALLELISM = "pipeline.max-parallelism"
BUFFER_TIMEOUT = "execution.buffer-timeout"
DEFAULT_BUFFER_TIMEOUT_MS = 100


class StreamExecutionEnvironment:
    """Where a streaming program is defined and from where it is executed."""

    def __init__(self, configuration: Configuration | None = None) -> None:
        self._config = Configuration(configuration)
        self._transformations: list[Transformation] = []
        self._next_id = 0
        self._uids: dict[str, Transformation] = {}
        context = current_submission_context()
        self._parallelism_set = self._config.contains_key(PARALLELISM_DEFAULT)
        if context is not None and context.parallelism and not self._parallelism_set:
            self._config.set_integer(PARALLELISM_DEFAULT, context.parallelism)

    @staticmethod
    def get_execution_environment(
            configuration: Configuration | None = None) -> StreamExecutionEnvironment:
        return StreamExecutionEnvironment(configuration)

    # ------------------------------------------------------------ settings

    def get_config(self) -> Configuration:
        return self._config

    def configure(self, configuration: Configuration) -> StreamExecutionEnvironment:
        self._config.add_all(configuration)
        return self

    def set_parallelism(self, parallelism: int) -> StreamExecutionEnvironment:
        if not isinstance(parallelism, int) or parallelism < 1:
            raise ValueError(f"parallelism must be a positive integer, got {parallelism!r}")
        self._config.set_integer(PARALLELISM_DEFAULT, parallelism)
        return self

    def get_parallelism(self) -> int:
        return self._config.get_integer(PARALLELISM_DEFAULT, 1)

    def set_max_parallelism(self, max_parallelism: int) -> StreamExecutionEnvironment:
        if not isinstance(max_parallelism, int) or not 1 <= max_parallelism <= 32768:
            raise ValueError(f"max parallelism must be in [1, 32768], got {max_parallelism!r}")
        self._config.set_integer(MAX_PARALLELISM, max_parallelism)
        return self

    def get_max_parallelism(self) -> int:
        return self._config.get_integer(MAX_PARALLELISM, DEFAULT_MAX_PARALLELISM)

    def set_buffer_timeout(self, timeout_millis: int) -> StreamExecutionEnvironment:
        """Longest time (ms) a partly filled buffer waits before it is sent; 0 sends at once."""
        if timeout_millis < -1:
            raise ValueError("buffer timeout must be -1, 0 or positive")
        self._config.set_integer(BUFFER_TIMEOUT, timeout_millis)
        return self

    def get_buffer_timeout(self) -> int:
        return self._config.get_integer(BUFFER_TIMEOUT, DEFAULT_BUFFER_TIMEOUT_MS)

    def set_runtime_mode(self, execution_mode: RuntimeExecutionMode,
                         ) -> StreamExecutionEnvironment:
        """STREAMING (default), BATCH or AUTOMATIC (``execution.runtime-mode``): in BATCH
        every source must be bounded, keyed ``reduce`` emits only each key's final value and
        no checkpoints are taken."""
        if not isinstance(execution_mode, RuntimeExecutionMode):
            raise TypeError("set_runtime_mode() takes a RuntimeExecutionMode, got "
                            f"{type(execution_mode).__name__}")
        self._config.set_string(RUNTIME_MODE, execution_mode.name)
        return self

    # --------------------------------------------------- checkpoints, restarts

    def enable_checkpointing(self, interval: int, mode: CheckpointingMode | None = None,
                             ) -> StreamExecutionEnvironment:
        """Checkpoint every ``interval`` ms; ``mode`` (default: as configured, else
        EXACTLY_ONCE) says whether barriers are aligned."""
        config = self.get_checkpoint_config()
        config.set_checkpoint_interval(interval)
        if mode is not None:
            config.set_checkpointing_mode(mode)
        return self

    def get_checkpoint_config(self) -> CheckpointConfig:
        """The checkpoint settings; its setters write into this environment's configuration."""
        return CheckpointConfig(self._config)

    def get_checkpoint_interval(self) -> int:
        """The checkpoint interval in ms, or -1 when checkpointing is off."""
        return self.get_checkpoint_config().get_checkpoint_interval()

    def get_checkpointing_mode(self) -> CheckpointingMode:
        return self.get_checkpoint_config().get_checkpointing_mode()

    def set_restart_strategy(self, restart_strategy_configuration: RestartStrategyConfiguration,
                             ) -> None:
        """Replace the job's ``restart-strategy.*`` keys (``RestartStrategies.…``);
        ``fall_back_restart()`` removes them, so the cluster's strategy applies."""
        if not isinstance(restart_strategy_configuration, RestartStrategyConfiguration):
            raise TypeError("set_restart_strategy() takes a RestartStrategies.… configuration, "
                            f"got {type(restart_strategy_configuration).__name__}")
        for key in [k for k in self._config.key_set() if is_restart_strategy_key(k)]:
            self._config.remove_config(key)
        for key, value in restart_strategy_configuration.to_configuration().items():
            self._config.set_string(key, value)

    def set_state_backend(self, state_backend: StateBackend) -> StreamExecutionEnvironment:
        """Where keyed state lives: ``HashMapStateBackend()`` (default) or
        ``EmbeddedRocksDBStateBackend(...)``; replaces the backend keys already set."""
        if not isinstance(state_backend, StateBackend):
            raise TypeError("set_state_backend() takes a HashMapStateBackend or an "
                            f"EmbeddedRocksDBStateBackend, got {type(state_backend).__name__}")
        for key in (INCREMENTAL, ROCKSDB_LOCALDIR):
            self._config.remove_config(key)
        for key, value in state_backend.to_configuration().items():
            self._config.set_string(key, value)
        return self

    def get_state_backend(self) -> StateBackend:
        return state_backend_from_configuration(self._config.to_dict())

    def get_restart_strategy(self) -> RestartStrategyConfiguration:
        """The job's restart strategy (Fallback when it sets none)."""
        return job_restart_strategy(self._config.to_dict())

    # -------------------------------------------------------------- sources

    def from_collection(self, collection: Iterable[Any],
                        type_info: TypeInformation | None = None) -> DataStream:
        """A bounded, non-parallel source of the given records."""
        items = list(collection)
        t = self._add_transformation(
            SourceSpec("Source: Collection Source", "", _CollectionSource(items),
                       WatermarkStrategy.no_watermarks()), [])
        t.fixed_parallelism = 1
        return DataStream(self, [StreamInput(t)])

    def from_source(self, source: Source, watermark_strategy: WatermarkStrategy,
                    source_name: str, type_info: TypeInformation | None = None) -> DataStream:
        if not isinstance(source, Source):
            raise TypeError(f"from_source() takes a Source, got {type(source).__name__}")
        if not isinstance(watermark_strategy, WatermarkStrategy):
            raise TypeError("from_source() takes a WatermarkStrategy as its second argument, "
                            "e.g. WatermarkStrategy.no_watermarks()")
        t = self._add_transformation(
            SourceSpec(f"Source: {source_name}", "", source, watermark_strategy), [])
        return DataStream(self, [StreamInput(t)])

    # ------------------------------------------------------------ execution

    def execute(self, job_name: str | None = None) -> JobExecutionResult:
        """Runs the job; returns when it ends (raises JobExecutionException if it fails)."""
        client = self.execute_async(job_name)
        context = current_submission_context()
        if context is not None and context.detached:
            return JobExecutionResult(client.get_job_id(), 0)
        return client.get_job_execution_result().result()

    def get_execution_plan(self) -> str:
        """The operators defined so far as JSON (Flink's execution-plan format), e.g. to
        paste into Flink's plan visualizer; unlike ``execute`` it keeps them.

        Raises:
            InvalidJobError: the program cannot run (say, it has no sink).
        """
        return execution_plan(self._transformations, self.get_parallelism(),
                              self.get_max_parallelism())

    def execute_async(self, job_name: str | None = None) -> JobClient:
        """Submits the job and returns at once."""
        return self._submit(job_name or "weir job", collect=False)

    def _execute_collect(self, job_name: str) -> CloseableIterator:
        return CloseableIterator(self._submit(job_name, collect=True), pickle.loads)

    def _submit(self, job_name: str, collect: bool) -> JobClient:
        graph = build_job_graph(self._transformations, job_name, self.get_parallelism(),
                                self.get_max_parallelism(), self._job_configuration())
        self._transformations = []
        self._uids = {}
        return executor_for(self._config).execute(graph, collect=collect)

    # ------------------------------------------------------------ internals

    def _job_configuration(self) -> dict[str, str]:
        """The configuration the job runs with: its runtime mode resolved to STREAMING or
        BATCH (the operators read it), and in BATCH no periodic checkpoints, as in Flink.

        Raises:
            InvalidJobError: BATCH with an unbounded source.
        """
        config = self._config.to_dict()
        mode = resolve_runtime_mode(
            RuntimeExecutionMode.from_string(config.get(RUNTIME_MODE, "STREAMING")),
            [t.spec.source.is_bounded() for t in self._transformations
             if isinstance(t.spec, SourceSpec)])
        config[RUNTIME_MODE] = mode.name
        if mode is RuntimeExecutionMode.BATCH:
            config.pop(CHECKPOINTING_INTERVAL, None)
        return config

    def _add_transformation(self, spec: OperatorSpec, inputs: list[StreamInput],
                            is_sink: bool = False) -> Transformation:
        t = Transformation(id=self._next_id, spec=spec, inputs=list(inputs), is_sink=is_sink)
        self._next_id += 1
        spec.uid = spec.uid or f"{spec.name}_{t.id}"
        self._transformations.append(t)
        return t

    def _check_unique_uid(self, uid: str, t: Transformation) -> None:
        owner = self._uids.get(uid)
        if owner is not None and owner is not t:
            raise ValueError(f"uid {uid!r} is used by two operators ('{owner.name}' and "
                             f"'{t.name}'); uids must be unique within a job")
        self._uids[uid] = t


class _CollectionSource(Source[Any]):
    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def is_bounded(self) -> bool:
        return True

    def max_parallelism(self) -> int:
        return 1

    def create_reader(self, subtask_index: int, parallelism: int) -> SourceReader[Any]:
        return _ListReader(self.items)


class _ListReader(SourceReader[Any]):
    def __init__(self, items: list[Any]) -> None:
        self._items = items
        self._next = 0

    async def poll_batch(self, max_records: int) -> list[Any] | None:
        if self._next >= len(self._items):
            return None
        batch = self._items[self._next:self._next + max_records]
        self._next += len(batch)
        return batch

    def snapshot_position(self) -> int:
        return self._next

    def restore_position(self, position: int) -> None:
        self._next = position
