"""Connected and broadcast streams in the API: the job graph they make, and the errors a
job built wrong gets (each saying what to fix)."""

from __future__ import annotations

import cloudpickle
import pytest

from tests.unit.test_job_graph import edges, job_graph, numbers, vertices
from weir.datastream import (
    BroadcastConnectedStream,
    BroadcastProcessFunction,
    BroadcastStream,
    CoMapFunction,
    ConnectedStreams,
    KeyedBroadcastProcessFunction,
    KeyedCoProcessFunction,
    StreamExecutionEnvironment,
)
from weir.datastream.state import MapStateDescriptor, ValueStateDescriptor
from weir.graph.operators import KeyedBroadcastProcessSpec, KeyedCoProcessSpec
from weir.proto import jobmanager_pb2 as pb

RULES = MapStateDescriptor("rules")


class Both(CoMapFunction):
    def map1(self, value):
        return value

    def map2(self, value):
        return value


class KeyedBoth(KeyedCoProcessFunction):
    def process_element1(self, value, ctx):
        return ()

    def process_element2(self, value, ctx):
        return ()


class Rules(BroadcastProcessFunction):
    def process_element(self, value, ctx):
        return ()

    def process_broadcast_element(self, value, ctx):
        return ()


class KeyedRules(KeyedBroadcastProcessFunction):
    def process_element(self, value, ctx):
        return ()

    def process_broadcast_element(self, value, ctx):
        return ()


@pytest.fixture
def env() -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    return env


def test_connected_keyed_streams_make_one_vertex_with_both_inputs_hashed(env):
    left = numbers(env).map(lambda x: x).name("left")
    right = numbers(env).union(numbers(env))
    connected = left.connect(right)
    assert isinstance(connected, ConnectedStreams)
    connected.key_by(lambda x: x % 3, lambda x: x % 5).process(KeyedBoth()).print()
    graph = job_graph(env)
    co = vertices(graph)["Keyed Co-Process -> Sink: Print to Std. Out"]
    assert [(e.input_index, pb.Partitioner.Name(e.partitioner)) for e in co.inputs] == \
        [(0, "HASH"), (1, "HASH"), (2, "HASH")]
    spec = cloudpickle.loads(co.operator_chain)[0]
    assert isinstance(spec, KeyedCoProcessSpec)
    assert spec.first_input_edges == 1  # edges 1 and 2 (the union) are the second input
    assert (spec.key_selector1(7), spec.key_selector2(7)) == (1, 2)


def test_a_keyed_stream_connected_with_a_broadcast_stream(env):
    rules = numbers(env).broadcast(RULES)
    assert isinstance(rules, BroadcastStream)
    connected = numbers(env).key_by(lambda x: x % 3).connect(rules)
    assert isinstance(connected, BroadcastConnectedStream)
    connected.process(KeyedRules()).print()
    graph = job_graph(env)
    assert sorted(e[2] for e in edges(graph) if e[1].startswith("Co-Process-Broadcast-Keyed")) \
        == ["BROADCAST", "HASH"]
    spec = cloudpickle.loads(vertices(graph)["Co-Process-Broadcast-Keyed -> Sink: Print to "
                                             "Std. Out"].operator_chain)[0]
    assert isinstance(spec, KeyedBroadcastProcessSpec)
    assert [d.name for d in spec.broadcast_state_descriptors] == ["rules"]


def test_plain_broadcast_still_partitions(env):
    numbers(env).broadcast().map(lambda x: x).print()
    assert edges(job_graph(env)) == [("Source: numbers", "Map -> Sink: Print to Std. Out",
                                      "BROADCAST")]


def test_keyed_co_process_function_needs_two_keyed_streams(env):
    connected = numbers(env).key_by(lambda x: x).connect(numbers(env))
    with pytest.raises(TypeError, match="KeyedCoProcessFunction can only be used when both "
                                        "input streams are of type KeyedStream"):
        connected.process(KeyedBoth())


def test_broadcast_functions_need_a_broadcast_stream_with_state_descriptors(env):
    with pytest.raises(TypeError, match="needs a BroadcastStream"):
        numbers(env).connect(numbers(env).broadcast()).process(Rules())
    with pytest.raises(ValueError, match="at least one MapStateDescriptor"):
        BroadcastStream(numbers(env), [])
    with pytest.raises(TypeError, match="described by MapStateDescriptors"):
        numbers(env).broadcast(ValueStateDescriptor("rules"))
    with pytest.raises(ValueError, match="must be unique"):
        numbers(env).broadcast(RULES, MapStateDescriptor("rules"))


def test_broadcast_functions_match_the_keyedness_of_the_other_stream(env):
    rules = numbers(env).broadcast(RULES)
    with pytest.raises(TypeError, match="BroadcastProcessFunction should be applied to "
                                        "non-keyed DataStream"):
        numbers(env).key_by(lambda x: x).connect(rules).process(Rules())
    with pytest.raises(TypeError, match="KeyedBroadcastProcessFunction should be applied to "
                                        "keyed DataStream"):
        numbers(env).connect(rules).process(KeyedRules())


def test_co_functions_must_be_function_objects(env):
    connected = numbers(env).connect(numbers(env))
    with pytest.raises(TypeError, match="must be a CoMapFunction"):
        connected.map(lambda x: x)
    with pytest.raises(TypeError, match="must be a CoFlatMapFunction"):
        connected.flat_map(Both())
    with pytest.raises(TypeError, match="must be a CoProcessFunction or KeyedCoProcessFunction"):
        connected.process(Both())


def test_streams_of_different_environments_do_not_connect(env):
    other = StreamExecutionEnvironment.get_execution_environment()
    with pytest.raises(ValueError, match="different execution environments"):
        numbers(env).connect(numbers(other))


def test_pyflink_module_paths():
    from weir.datastream import data_stream, functions, state

    assert data_stream.ConnectedStreams is ConnectedStreams
    assert data_stream.BroadcastStream is BroadcastStream
    assert data_stream.BroadcastConnectedStream is BroadcastConnectedStream
    assert functions.KeyedBroadcastProcessFunction is KeyedBroadcastProcessFunction
    assert {"BroadcastState", "ReadOnlyBroadcastState"} <= set(state.__all__)
