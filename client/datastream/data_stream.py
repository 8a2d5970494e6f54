"""``DataStream`` and ``KeyedStream`` (``pyflink.datastream.data_stream``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, overload

from weir.common.typeinfo import TypeInformation
from weir.common.watermark_strategy import WatermarkStrategy
from weir.connector import Sink
from weir.datastream import _aggregations
from weir.datastream.functions import (
    Function,
    KeyedProcessFunction,
    KeySelector,
    Partitioner,
    ProcessFunction,
    SinkFunction,
    function_call,
)
from weir.datastream.output_tag import OutputTag
from weir.datastream.window import (
    CountSlidingWindowAssigner,
    CountTumblingWindowAssigner,
    WindowAssigner,
)
from weir.datastream.windowed_stream import AllWindowedStream, WindowedStream
from weir.graph.operators import (
    CollectSinkSpec,
    FilterSpec,
    FlatMapSpec,
    KeyedProcessSpec,
    KeyedReduceSpec,
    MapSpec,
    OperatorSpec,
    PrintSinkSpec,
    ProcessSpec,
    SinkFunctionSpec,
    SinkSpec,
    TimestampsAndWatermarksSpec,
)
from weir.graph.transformations import ChainingStrategy, StreamInput, Transformation
from weir.proto import jobmanager_pb2 as pb

if TYPE_CHECKING:
    from weir.common.job_client import CloseableIterator
    from weir.datastream.connected_streams import (
        BroadcastConnectedStream,
        BroadcastStream,
        ConnectedStreams,
    )
    from weir.datastream.interval_join import IntervalJoin
    from weir.datastream.join import CoGroupedStreams, JoinedStreams
    from weir.datastream.state import MapStateDescriptor
    from weir.datastream.stream_execution_environment import StreamExecutionEnvironment

__all__ = ["DataStream", "DataStreamSink", "KeyedStream"]


class DataStream:
    """A stream of records, produced by one operator (or the union of several)."""

    def __init__(self, env: StreamExecutionEnvironment, inputs: list[StreamInput]) -> None:
        self._env = env
        self._inputs = inputs

    # ---------------------------------------------------------------- settings

    def _transformation(self, what: str) -> Transformation:
        if len(self._inputs) != 1 or self._inputs[0].partitioner is not None \
                or self._inputs[0].side_output_tag is not None:
            raise ValueError(f"{what} applies to the stream of one operator; call it right after "
                             "the operator (not after union, key_by, a partitioning or "
                             "get_side_output)")
        return self._inputs[0].upstream

    def get_name(self) -> str:
        return self._transformation("get_name").name

    def name(self, name: str) -> DataStream:
        self._transformation("name").spec.name = name
        return self

    def uid(self, uid: str) -> DataStream:
        t = self._transformation("uid")
        self._env._check_unique_uid(uid, t)
        t.uid = uid
        t.spec.uid = uid
        return self

    def set_uid_hash(self, uid_hash: str) -> DataStream:
        return self.uid(uid_hash)

    def set_parallelism(self, parallelism: int) -> DataStream:
        if not isinstance(parallelism, int) or parallelism < 1:
            raise ValueError(f"parallelism must be a positive integer, got {parallelism!r}")
        t = self._transformation("set_parallelism")
        if t.fixed_parallelism and parallelism != t.fixed_parallelism:
            raise ValueError(f"operator '{t.name}' is not parallel: its parallelism is "
                             f"{t.fixed_parallelism}")
        t.parallelism = parallelism
        return self

    def set_max_parallelism(self, max_parallelism: int) -> DataStream:
        if not isinstance(max_parallelism, int) or not 1 <= max_parallelism <= 32768:
            raise ValueError(f"max parallelism must be in [1, 32768], got {max_parallelism!r}")
        self._transformation("set_max_parallelism").max_parallelism = max_parallelism
        return self

    def slot_sharing_group(self, slot_sharing_group: Any) -> DataStream:
        """Accepted for compatibility; weir places one subtask of each operator per slot."""
        self._transformation("slot_sharing_group")
        return self

    def disable_chaining(self) -> DataStream:
        self._transformation("disable_chaining").chaining = ChainingStrategy.NEVER
        return self

    def start_new_chain(self) -> DataStream:
        self._transformation("start_new_chain").chaining = ChainingStrategy.HEAD
        return self

    # ------------------------------------------------------------- operators

    def _then(self, spec: OperatorSpec, inputs: list[StreamInput] | None = None,
              is_sink: bool = False) -> Transformation:
        return self._env._add_transformation(spec, inputs or self._inputs, is_sink=is_sink)

    def map(self, func: Callable[[Any], Any] | Function,
            output_type: TypeInformation | None = None) -> DataStream:
        _check_function(func, "map")
        return self._stream(MapSpec("Map", "", func))

    def flat_map(self, func: Callable[[Any], Iterable[Any]] | Function,
                 output_type: TypeInformation | None = None) -> DataStream:
        _check_function(func, "flat_map")
        return self._stream(FlatMapSpec("Flat Map", "", func))

    def filter(self, func: Callable[[Any], bool] | Function) -> DataStream:
        _check_function(func, "filter")
        return self._stream(FilterSpec("Filter", "", func))

    def process(self, func: ProcessFunction,
                output_type: TypeInformation | None = None) -> DataStream:
        if not isinstance(func, ProcessFunction):
            raise TypeError("DataStream.process() takes a ProcessFunction; for a keyed stream "
                            "call key_by() first and pass a KeyedProcessFunction")
        return self._stream(ProcessSpec("Process", "", func))

    def key_by(self, key_selector: Callable[[Any], Any] | KeySelector,
               key_type: TypeInformation | None = None) -> KeyedStream:
        _check_function(key_selector, "get_key")
        selector = function_call(key_selector, "get_key")
        return KeyedStream(self._env, [replace(i, partitioner=pb.HASH, key_selector=selector)
                                       for i in self._inputs], selector)

    def union(self, *streams: DataStream) -> DataStream:
        inputs = list(self._inputs)
        for stream in streams:
            if stream._env is not self._env:
                raise ValueError("cannot union streams of different execution environments")
            inputs.extend(stream._inputs)
        return DataStream(self._env, inputs)

    def _partitioned(self, partitioner: pb.Partitioner) -> DataStream:
        return DataStream(self._env, [replace(i, partitioner=partitioner, key_selector=None)
                                      for i in self._inputs])

    def shuffle(self) -> DataStream:
        return self._partitioned(pb.SHUFFLE)

    def rebalance(self) -> DataStream:
        return self._partitioned(pb.REBALANCE)

    def rescale(self) -> DataStream:
        return self._partitioned(pb.RESCALE)

    @overload
    def broadcast(self) -> DataStream: ...

    @overload
    def broadcast(self, broadcast_state_descriptor: MapStateDescriptor,
                  *other_broadcast_state_descriptors: MapStateDescriptor) -> BroadcastStream: ...

    def broadcast(self, broadcast_state_descriptor: MapStateDescriptor | None = None,
                  *other_broadcast_state_descriptors: MapStateDescriptor
                  ) -> DataStream | BroadcastStream:
        """Every record to every downstream subtask; with MapStateDescriptors, a
        ``BroadcastStream`` whose records update that broadcast state (see ``connect``)."""
        if broadcast_state_descriptor is None:
            return self._partitioned(pb.BROADCAST)
        from weir.datastream.connected_streams import BroadcastStream
        return BroadcastStream(self, [broadcast_state_descriptor,
                                      *other_broadcast_state_descriptors])

    @overload
    def connect(self, ds: BroadcastStream) -> BroadcastConnectedStream: ...

    @overload
    def connect(self, ds: DataStream) -> ConnectedStreams: ...

    def connect(self, ds: DataStream | BroadcastStream
                ) -> ConnectedStreams | BroadcastConnectedStream:
        """This stream and ``ds`` processed by one operator: ``ConnectedStreams``, or with a
        ``BroadcastStream`` a ``BroadcastConnectedStream``."""
        from weir.datastream.connected_streams import (
            BroadcastConnectedStream,
            BroadcastStream,
            ConnectedStreams,
        )
        if isinstance(ds, BroadcastStream):
            return BroadcastConnectedStream(self, ds, ds.broadcast_state_descriptors)
        if not isinstance(ds, DataStream):
            raise TypeError(f"connect() takes a DataStream or a BroadcastStream, got "
                            f"{type(ds).__name__}")
        return ConnectedStreams(self, ds)

    def join(self, other_stream: DataStream) -> JoinedStreams:
        """A window join with ``other_stream`` (Java Flink's; see ``weir.datastream.join``):
        ``.where(key_selector1).equal_to(key_selector2).window(assigner).apply(function)``."""
        from weir.datastream.join import JoinedStreams
        return JoinedStreams(self, other_stream)

    def co_group(self, other_stream: DataStream) -> CoGroupedStreams:
        """A window co-group with ``other_stream`` (Java Flink's), built as ``join``."""
        from weir.datastream.join import CoGroupedStreams
        return CoGroupedStreams(self, other_stream)

    def interval_join(self, other_stream: KeyedStream) -> IntervalJoin:
        """Interval joins are on keyed streams (``KeyedStream.interval_join``)."""
        raise TypeError("interval_join() joins two keyed streams: call key_by() on both "
                        "streams first")

    def forward(self) -> DataStream:
        return self._partitioned(pb.FORWARD)

    def partition_custom(self, partitioner: Callable[[Any, int], int] | Partitioner,
                         key_selector: Callable[[Any], Any] | KeySelector) -> DataStream:
        """Each record to the downstream subtask ``partitioner`` picks for its key:
        ``partition(key, num_partitions)``, an int in ``[0, num_partitions)``."""
        _check_function(partitioner, "partition")
        _check_function(key_selector, "get_key")
        partition = function_call(partitioner, "partition")
        selector = function_call(key_selector, "get_key")
        return DataStream(self._env, [replace(i, partitioner=pb.CUSTOM, key_selector=selector,
                                              partition_function=partition)
                                      for i in self._inputs])

    # ----------------------------------------------------- event time, windows

    def assign_timestamps_and_watermarks(self, watermark_strategy: WatermarkStrategy
                                         ) -> DataStream:
        """Give each record an event timestamp and emit watermarks, as the strategy says."""
        if not isinstance(watermark_strategy, WatermarkStrategy):
            raise TypeError("assign_timestamps_and_watermarks() takes a WatermarkStrategy, got "
                            f"{type(watermark_strategy).__name__}")
        return self._stream(TimestampsAndWatermarksSpec("Timestamps/Watermarks", "",
                                                        watermark_strategy))

    def window_all(self, window_assigner: WindowAssigner) -> AllWindowedStream:
        """Windows over the whole stream, evaluated by one subtask."""
        return AllWindowedStream(self, window_assigner)

    def count_window_all(self, size: int, slide: int = 0) -> AllWindowedStream:
        """Tumbling (or, with ``slide``, sliding) windows of ``size`` elements of the whole stream."""
        return self.window_all(_count_assigner(size, slide))

    def get_side_output(self, output_tag: OutputTag) -> DataStream:
        """The records the operator of this stream emitted to ``output_tag``."""
        if not isinstance(output_tag, OutputTag):
            raise TypeError(f"get_side_output() takes an OutputTag, got "
                            f"{type(output_tag).__name__}")
        upstream = self._transformation("get_side_output")
        return DataStream(self._env, [StreamInput(upstream, side_output_tag=output_tag.tag_id)])

    def _stream(self, spec: OperatorSpec) -> DataStream:
        t = self._then(spec)
        return DataStream(self._env, [StreamInput(t)])

    # ---------------------------------------------------------------- sinks

    def print(self, sink_identifier: str | None = None) -> DataStreamSink:
        """Prints each record; with parallelism above 1 each line starts with ``<subtask+1>> ``."""
        return self._sink(PrintSinkSpec("Sink: Print to Std. Out", "", sink_identifier))

    def sink_to(self, sink: Sink) -> DataStreamSink:
        if not isinstance(sink, Sink):
            raise TypeError(f"sink_to() takes a Sink, got {type(sink).__name__}; use add_sink() "
                            "for a SinkFunction")
        return self._sink(SinkSpec(f"Sink: {type(sink).__name__}", "", sink))

    def add_sink(self, sink_func: SinkFunction | Callable[[Any], None]) -> DataStreamSink:
        _check_function(sink_func, "invoke")
        return self._sink(SinkFunctionSpec("Sink: Unnamed", "", sink_func))

    def _sink(self, spec: OperatorSpec) -> DataStreamSink:
        return DataStreamSink(self._env, self._then(spec, is_sink=True))

    def execute_and_collect(self, job_execution_name: str | None = None,
                            limit: int | None = None) -> CloseableIterator | list:
        """Runs the job and returns its results: an iterator, or a list of at most ``limit``."""
        self._then(CollectSinkSpec("Sink: Collect", ""), is_sink=True)
        iterator = self._env._execute_collect(job_execution_name or "collect")
        if limit is None:
            return iterator
        with iterator:
            results: list[Any] = []
            for record in iterator:
                if len(results) >= limit:
                    break
                results.append(record)
            return results


class KeyedStream(DataStream):
    """A stream partitioned by key: state and timers are scoped to the key."""

    def __init__(self, env: StreamExecutionEnvironment, inputs: list[StreamInput],
                 key_selector: Callable[[Any], Any]) -> None:
        super().__init__(env, inputs)
        self._key_selector = key_selector

    def get_key_selector(self) -> Callable[[Any], Any]:
        return self._key_selector

    def reduce(self, func: Callable[[Any, Any], Any] | Function) -> DataStream:
        """Emits the running reduction of each key after every record."""
        _check_function(func, "reduce")
        return self._stream(KeyedReduceSpec("Keyed Reduce", "", self._key_selector,
                                            function_call(func, "reduce")))

    def process(self, func: KeyedProcessFunction,  # type: ignore[override]
                output_type: TypeInformation | None = None) -> DataStream:
        if not isinstance(func, KeyedProcessFunction):
            raise TypeError("KeyedStream.process() takes a KeyedProcessFunction")
        return self._stream(KeyedProcessSpec("KeyedProcess", "", self._key_selector, func))

    def interval_join(self, other_stream: KeyedStream) -> IntervalJoin:
        """An interval join with ``other_stream`` (Java Flink's; see
        ``weir.datastream.interval_join``): ``.between(lower_bound, upper_bound)
        .process(ProcessJoinFunction)`` joins each element at ``t`` with the other stream's
        elements of the same key at ``t + lower_bound`` to ``t + upper_bound``."""
        from weir.datastream.interval_join import IntervalJoin
        return IntervalJoin(self, other_stream)

    def window(self, window_assigner: WindowAssigner) -> WindowedStream:
        """Windows of each key; evaluate them with reduce, aggregate, apply or process."""
        return WindowedStream(self, window_assigner)

    def count_window(self, size: int, slide: int = 0) -> WindowedStream:
        """Tumbling (or, with ``slide``, sliding) windows of ``size`` elements of each key."""
        return self.window(_count_assigner(size, slide))

    def sum(self, position_to_sum: int | str = 0) -> DataStream:
        return self.reduce(_aggregations.summing(position_to_sum))

    def min(self, position_to_min: int | str = 0) -> DataStream:
        return self.reduce(_aggregations.field_extreme(position_to_min, smallest=True))

    def max(self, position_to_max: int | str = 0) -> DataStream:
        return self.reduce(_aggregations.field_extreme(position_to_max, smallest=False))

    def min_by(self, position_to_min_by: int | str = 0) -> DataStream:
        return self.reduce(_aggregations.record_extreme(position_to_min_by, smallest=True))

    def max_by(self, position_to_max_by: int | str = 0) -> DataStream:
        return self.reduce(_aggregations.record_extreme(position_to_max_by, smallest=False))


class DataStreamSink:
    """The end of a stream; name, uid and parallelism of the sink can be set."""

    def __init__(self, env: StreamExecutionEnvironment, transformation: Transformation) -> None:
        self._stream = DataStream(env, [StreamInput(transformation)])

    def name(self, name: str) -> DataStreamSink:
        self._stream.name(name)
        return self

    def uid(self, uid: str) -> DataStreamSink:
        self._stream.uid(uid)
        return self

    def set_parallelism(self, parallelism: int) -> DataStreamSink:
        self._stream.set_parallelism(parallelism)
        return self

    def disable_chaining(self) -> DataStreamSink:
        self._stream.disable_chaining()
        return self

    def slot_sharing_group(self, slot_sharing_group: Any) -> DataStreamSink:
        return self


def _count_assigner(size: int, slide: int) -> WindowAssigner:
    if slide == 0:
        return CountTumblingWindowAssigner(size)
    return CountSlidingWindowAssigner(size, slide)


def _check_function(func: Any, method: str) -> None:
    if isinstance(func, Function):
        if not callable(getattr(func, method, None)):
            raise TypeError(f"{type(func).__name__} has no {method}() method")
        return
    if not callable(func):
        raise TypeError(f"expected a function or a Function object with {method}(), "
                        f"got {type(func).__name__}")


def __getattr__(name: str) -> Any:
    """``ConnectedStreams``, ``BroadcastStream`` and ``BroadcastConnectedStream`` live in
    ``weir.datastream.connected_streams`` (they import this module); PyFlink jobs import
    them from here."""
    if name in ("BroadcastConnectedStream", "BroadcastStream", "ConnectedStreams"):
        from weir.datastream import connected_streams
        return getattr(connected_streams, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
