"""Two streams processed by one operator (``pyflink.datastream.data_stream``'s
``ConnectedStreams``, ``BroadcastStream`` and ``BroadcastConnectedStream``).

``ds1.connect(ds2)`` gives ``ConnectedStreams``: ``map``/``flat_map``/``process`` see the
records of both inputs, each with the function method of its input (``map1``/``map2``, …).
On two keyed inputs (``key_by(key_selector1, key_selector2)``) both share the keyed state
and timers of the current key. ``ds.broadcast(MapStateDescriptor, ...)`` gives a
``BroadcastStream``; connected to a (keyed) stream, every subtask sees every broadcast
record and keeps the broadcast state, which only the broadcast side may write.
"""

from __future__ import annotations

from typing import Any

from weir.common.typeinfo import TypeInformation
from weir.datastream.data_stream import DataStream, KeyedStream
from weir.datastream.functions import (
    BaseBroadcastProcessFunction,
    BroadcastProcessFunction,
    CoFlatMapFunction,
    CoMapFunction,
    CoProcessFunction,
    Function,
    KeyedBroadcastProcessFunction,
    KeyedCoProcessFunction,
    RuntimeContext,
)
from weir.datastream.state import MapStateDescriptor
from weir.graph.operators import (
    BroadcastProcessSpec,
    CoFlatMapSpec,
    CoMapSpec,
    CoProcessSpec,
    KeyedBroadcastProcessSpec,
    KeyedCoProcessSpec,
    TwoInputSpec,
)
from weir.graph.transformations import StreamInput
from weir.proto import jobmanager_pb2 as pb

__all__ = ["BroadcastConnectedStream", "BroadcastStream", "ConnectedStreams"]


class ConnectedStreams:
    """Two streams, possibly of different types, processed by one operator."""

    def __init__(self, stream1: DataStream, stream2: DataStream) -> None:
        _check_same_environment(stream1, stream2)
        self.stream1 = stream1
        self.stream2 = stream2

    def key_by(self, key_selector1: Any, key_selector2: Any,
               key_type: TypeInformation | None = None) -> ConnectedStreams:
        """Both inputs keyed (records with equal keys meet in one subtask and share its keyed
        state and timers)."""
        return ConnectedStreams(self.stream1.key_by(key_selector1, key_type),
                                self.stream2.key_by(key_selector2, key_type))

    def map(self, func: CoMapFunction, output_type: TypeInformation | None = None
            ) -> DataStream:
        if not isinstance(func, CoMapFunction):
            raise TypeError("The input must be a CoMapFunction!")
        if self._is_keyed_stream():
            return self._keyed("Co-Map", _CoMapAdapter(func))
        return self._connected(CoMapSpec("Co-Map", "", len(self.stream1._inputs), func))

    def flat_map(self, func: CoFlatMapFunction, output_type: TypeInformation | None = None
                 ) -> DataStream:
        if not isinstance(func, CoFlatMapFunction):
            raise TypeError("The input must be a CoFlatMapFunction!")
        if self._is_keyed_stream():
            return self._keyed("Co-Flat Map", _CoFlatMapAdapter(func))
        return self._connected(CoFlatMapSpec("Co-Flat Map", "", len(self.stream1._inputs),
                                             func))

    def process(self, func: CoProcessFunction | KeyedCoProcessFunction,
                output_type: TypeInformation | None = None) -> DataStream:
        if isinstance(func, BaseBroadcastProcessFunction):
            raise TypeError(f"{type(func).__name__} needs a BroadcastStream: connect the "
                            "stream that broadcast(MapStateDescriptor, ...) returns")
        if not isinstance(func, (CoProcessFunction, KeyedCoProcessFunction)):
            raise TypeError("The input must be a CoProcessFunction or KeyedCoProcessFunction!")
        if self._is_keyed_stream():
            return self._keyed("Keyed Co-Process", func)
        if isinstance(func, KeyedCoProcessFunction):
            raise TypeError("KeyedCoProcessFunction can only be used when both input streams "
                            "are of type KeyedStream: call key_by(key_selector1, key_selector2)")
        return self._connected(CoProcessSpec("Co-Process", "", len(self.stream1._inputs), func))

    def _is_keyed_stream(self) -> bool:
        return isinstance(self.stream1, KeyedStream) and isinstance(self.stream2, KeyedStream)

    def _keyed(self, name: str, function: Function) -> DataStream:
        """``function`` (process_element1/2, on_timer) with keyed state and timers."""
        stream1, stream2 = self.stream1, self.stream2
        assert isinstance(stream1, KeyedStream) and isinstance(stream2, KeyedStream)
        return self._connected(KeyedCoProcessSpec(
            name, "", len(stream1._inputs), function, stream1.get_key_selector(),
            stream2.get_key_selector()))

    def _connected(self, spec: TwoInputSpec) -> DataStream:
        return _connected(self.stream1, self.stream2._inputs, spec)


class BroadcastStream:
    """A stream whose every record reaches every subtask of the operator it is connected
    to, where it may update the broadcast state named by the descriptors."""

    def __init__(self, input_stream: DataStream,
                 broadcast_state_descriptors: list[MapStateDescriptor]) -> None:
        if not broadcast_state_descriptors:
            raise ValueError("a BroadcastStream needs at least one MapStateDescriptor: "
                             "call broadcast(MapStateDescriptor(...), ...)")
        for descriptor in broadcast_state_descriptors:
            if not isinstance(descriptor, MapStateDescriptor):
                raise TypeError("broadcast state is described by MapStateDescriptors, got "
                                f"{type(descriptor).__name__}")
        names = [d.name for d in broadcast_state_descriptors]
        if len(set(names)) != len(names):
            raise ValueError(f"broadcast state names must be unique, got {names}")
        self.input_stream = input_stream
        self.broadcast_state_descriptors = list(broadcast_state_descriptors)


class BroadcastConnectedStream:
    """A (keyed or non-keyed) stream connected with a ``BroadcastStream``."""

    def __init__(self, non_broadcast_stream: DataStream, broadcast_stream: BroadcastStream,
                 broadcast_state_descriptors: list[MapStateDescriptor]) -> None:
        _check_same_environment(non_broadcast_stream, broadcast_stream.input_stream)
        self.non_broadcast_stream = non_broadcast_stream
        self.broadcast_stream = broadcast_stream
        self.broadcast_state_descriptors = broadcast_state_descriptors

    def process(self, func: BroadcastProcessFunction | KeyedBroadcastProcessFunction,
                output_type: TypeInformation | None = None) -> DataStream:
        keyed = isinstance(self.non_broadcast_stream, KeyedStream)
        if isinstance(func, BroadcastProcessFunction) and keyed:
            raise TypeError("BroadcastProcessFunction should be applied to non-keyed "
                            "DataStream: use a KeyedBroadcastProcessFunction")
        if isinstance(func, KeyedBroadcastProcessFunction) and not keyed:
            raise TypeError("KeyedBroadcastProcessFunction should be applied to keyed "
                            "DataStream: call key_by() before connect()")
        if not isinstance(func, (BroadcastProcessFunction, KeyedBroadcastProcessFunction)):
            raise TypeError("The input must be a BroadcastProcessFunction or "
                            "KeyedBroadcastProcessFunction!")
        stream = self.non_broadcast_stream
        first = len(stream._inputs)
        spec: BroadcastProcessSpec
        if isinstance(stream, KeyedStream):
            spec = KeyedBroadcastProcessSpec("Co-Process-Broadcast-Keyed", "", first, func,
                                             self.broadcast_state_descriptors,
                                             stream.get_key_selector())
        else:
            spec = BroadcastProcessSpec("Co-Process-Broadcast", "", first, func,
                                        self.broadcast_state_descriptors)
        broadcast_inputs = [StreamInput(i.upstream, partitioner=pb.BROADCAST,
                                        side_output_tag=i.side_output_tag)
                            for i in self.broadcast_stream.input_stream._inputs]
        return _connected(stream, broadcast_inputs, spec)


def _check_same_environment(stream1: DataStream, stream2: DataStream) -> None:
    if stream1._env is not stream2._env:
        raise ValueError("cannot connect streams of different execution environments")


def _connected(stream1: DataStream, second_inputs: list[StreamInput],
               spec: TwoInputSpec) -> DataStream:
    """The two-input operator ``spec`` on the inputs of ``stream1`` and then ``second_inputs``
    (the order ``spec.first_input_edges`` counts on)."""
    env = stream1._env
    transformation = env._add_transformation(spec, [*stream1._inputs, *second_inputs])
    return DataStream(env, [StreamInput(transformation)])


class _CoMapAdapter(KeyedCoProcessFunction):
    """A CoMapFunction on keyed inputs, run as a keyed co-process function (as PyFlink runs
    it), so that it has keyed state."""

    def __init__(self, function: CoMapFunction) -> None:
        self.function = function

    def open(self, runtime_context: RuntimeContext) -> None:
        self.function.open(runtime_context)

    def close(self) -> None:
        self.function.close()

    def process_element1(self, value: Any, ctx: Any) -> tuple[Any]:
        return (self.function.map1(value),)

    def process_element2(self, value: Any, ctx: Any) -> tuple[Any]:
        return (self.function.map2(value),)


class _CoFlatMapAdapter(KeyedCoProcessFunction):
    """A CoFlatMapFunction on keyed inputs (see ``_CoMapAdapter``)."""

    def __init__(self, function: CoFlatMapFunction) -> None:
        self.function = function

    def open(self, runtime_context: RuntimeContext) -> None:
        self.function.open(runtime_context)

    def close(self) -> None:
        self.function.close()

    def process_element1(self, value: Any, ctx: Any) -> Any:
        return self.function.flat_map1(value)

    def process_element2(self, value: Any, ctx: Any) -> Any:
        return self.function.flat_map2(value)

