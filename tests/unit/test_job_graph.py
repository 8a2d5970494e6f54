"""DataStream program → JobGraph: chaining, stable vertex ids, edges, validation errors."""

from __future__ import annotations

import json
import threading

import cloudpickle
import pytest

from weir.common import WatermarkStrategy
from weir.datastream import OutputTag, StreamExecutionEnvironment
from weir.datastream.connectors.number_seq import NumberSequenceSource
from weir.graph.generator import InvalidJobError, build_job_graph
from weir.graph.operators import FilterSpec, MapSpec, PrintSinkSpec, SourceSpec
from weir.graph.transformations import Transformation
from weir.proto import jobmanager_pb2 as pb


def job_graph(env: StreamExecutionEnvironment) -> pb.JobGraph:
    """What ``env.execute()`` would submit (the environment has no public accessor for it)."""
    return build_job_graph(env._transformations, "job", env.get_parallelism(),
                           env.get_max_parallelism(), env.get_config().to_dict())


def vertices(graph: pb.JobGraph) -> dict[str, pb.JobVertex]:
    return {v.name: v for v in graph.vertices}


def edges(graph: pb.JobGraph) -> list[tuple[str, str, str]]:
    """(upstream vertex name, downstream vertex name, partitioner name) of every edge."""
    names = {v.id: v.name for v in graph.vertices}
    return [(names[e.source_vertex_id], v.name, pb.Partitioner.Name(e.partitioner))
            for v in graph.vertices for e in v.inputs]


def numbers(env: StreamExecutionEnvironment):
    return env.from_source(NumberSequenceSource(0, 99), WatermarkStrategy.no_watermarks(),
                           "numbers")


def double(x):
    return x * 2


def is_even(x):
    return x % 2 == 0


# ------------------------------------------------------------------------- chaining


def test_forward_operators_of_equal_parallelism_chain_into_one_vertex():
    env = StreamExecutionEnvironment.get_execution_environment().set_parallelism(3)
    numbers(env).map(double).filter(is_even).name("evens").print()
    graph = job_graph(env)
    assert [v.name for v in graph.vertices] == [
        "Source: numbers -> Map -> evens -> Sink: Print to Std. Out"]
    (vertex,) = graph.vertices
    assert vertex.parallelism == 3 and vertex.is_source and not vertex.inputs
    specs = cloudpickle.loads(vertex.operator_chain)
    assert [type(s) for s in specs] == [SourceSpec, MapSpec, FilterSpec, PrintSinkSpec]
    assert specs[1].function(21) == 42 and specs[2].function(3) is False


@pytest.mark.parametrize(("partition", "partitioner"), [
    (lambda s: s.rebalance(), "REBALANCE"),
    (lambda s: s.shuffle(), "SHUFFLE"),
    (lambda s: s.broadcast(), "BROADCAST"),
    (lambda s: s.rescale(), "RESCALE"),
], ids=["rebalance", "shuffle", "broadcast", "rescale"])
def test_a_partitioning_breaks_the_chain_and_becomes_the_edge(partition, partitioner):
    env = StreamExecutionEnvironment.get_execution_environment().set_parallelism(2)
    partition(numbers(env).map(double)).filter(is_even).print()
    graph = job_graph(env)
    assert edges(graph) == [("Source: numbers -> Map", "Filter -> Sink: Print to Std. Out",
                             partitioner)]
    assert all(e.key_selector == b"" for v in graph.vertices for e in v.inputs)


def test_key_by_breaks_the_chain_with_a_hash_edge_carrying_the_key_selector():
    env = StreamExecutionEnvironment.get_execution_environment().set_parallelism(2)
    numbers(env).map(lambda x: (x % 3, x)).key_by(lambda r: r[0]).reduce(
        lambda a, b: (a[0], a[1] + b[1])).print()
    graph = job_graph(env)
    assert edges(graph) == [("Source: numbers -> Map", "Keyed Reduce -> Sink: Print to Std. Out",
                             "HASH")]
    (edge,) = vertices(graph)["Keyed Reduce -> Sink: Print to Std. Out"].inputs
    assert cloudpickle.loads(edge.key_selector)((2, 10)) == 2


def test_a_change_of_parallelism_breaks_the_chain_with_a_rebalance_edge():
    env = StreamExecutionEnvironment.get_execution_environment().set_parallelism(2)
    env.from_collection([1, 2, 3]).map(double).print().set_parallelism(1)
    graph = job_graph(env)
    # The collection source is not parallel (1), the map has the default 2, the sink 1.
    assert [(v.name, v.parallelism) for v in graph.vertices] == [
        ("Source: Collection Source", 1), ("Map", 2), ("Sink: Print to Std. Out", 1)]
    assert edges(graph) == [("Source: Collection Source", "Map", "REBALANCE"),
                            ("Map", "Sink: Print to Std. Out", "REBALANCE")]


def test_explicit_forward_keeps_the_chain():
    env = StreamExecutionEnvironment.get_execution_environment().set_parallelism(2)
    numbers(env).map(double).forward().filter(is_even).print()
    assert [v.name for v in job_graph(env).vertices] == [
        "Source: numbers -> Map -> Filter -> Sink: Print to Std. Out"]


def test_disable_chaining_and_start_new_chain():
    env = StreamExecutionEnvironment.get_execution_environment()
    stream = numbers(env).map(double).disable_chaining().filter(is_even).start_new_chain()
    stream.map(str).print()
    assert [v.name for v in job_graph(env).vertices] == [
        "Source: numbers", "Map", "Filter -> Map -> Sink: Print to Std. Out"]


def test_union_and_fan_out_do_not_chain():
    env = StreamExecutionEnvironment.get_execution_environment()
    doubled = numbers(env).map(double)
    doubled.filter(is_even).print()
    doubled.union(env.from_collection([1])).print()
    graph = job_graph(env)
    # The map has two consumers and the sink two inputs: neither chains to its neighbour.
    assert sorted(edges(graph)) == sorted([
        ("Source: numbers -> Map", "Filter -> Sink: Print to Std. Out", "FORWARD"),
        ("Source: numbers -> Map", "Sink: Print to Std. Out", "FORWARD"),
        ("Source: Collection Source", "Sink: Print to Std. Out", "FORWARD"),
    ])


def test_a_side_output_is_its_own_edge_and_ends_the_producing_chain():
    env = StreamExecutionEnvironment.get_execution_environment()
    mapped = numbers(env).map(double)
    mapped.print().name("main")
    mapped.get_side_output(OutputTag("late")).print().name("side")
    graph = job_graph(env)
    assert sorted(edges(graph)) == [("Source: numbers -> Map", "main", "FORWARD"),
                                    ("Source: numbers -> Map", "side", "FORWARD")]
    specs = cloudpickle.loads(vertices(graph)["Source: numbers -> Map"].operator_chain)
    # The map knows that the "side" vertex reads its "late" output on input 0.
    assert specs[1].side_output_routes == {(vertices(graph)["side"].id, 0): "late"}


def test_operators_that_reach_no_sink_are_left_out():
    env = StreamExecutionEnvironment.get_execution_environment()
    source = numbers(env)
    source.map(double)  # dangling
    source.filter(is_even).print()
    assert [v.name for v in job_graph(env).vertices] == [
        "Source: numbers -> Filter -> Sink: Print to Std. Out"]


# ------------------------------------------------------------------------ vertex ids


def _pipeline(env: StreamExecutionEnvironment, extra_filter: bool) -> None:
    stream = numbers(env).uid("numbers").map(double).uid("double")
    if extra_filter:
        stream = stream.filter(is_even)
    stream.key_by(lambda x: x % 5).reduce(lambda a, b: a + b).uid("sum").print().uid("out")


def _ids_by_head_uid(graph: pb.JobGraph) -> dict[str, str]:
    return {v.operator_uids[0]: v.id for v in graph.vertices}


def test_vertex_ids_are_the_same_in_every_build_of_the_same_program():
    builds = []
    for _ in range(2):
        env = StreamExecutionEnvironment.get_execution_environment()
        numbers(env).map(double).key_by(lambda x: x % 5).reduce(lambda a, b: a + b).print()
        builds.append([(v.name, v.id) for v in job_graph(env).vertices])
    assert builds[0] == builds[1]
    assert len({vertex_id for _, vertex_id in builds[0]}) == len(builds[0])


def test_a_uid_keeps_its_vertex_id_when_an_unrelated_operator_changes():
    first, second = StreamExecutionEnvironment(), StreamExecutionEnvironment()
    _pipeline(first, extra_filter=False)
    _pipeline(second, extra_filter=True)
    before, after = job_graph(first), job_graph(second)
    assert [v.name for v in after.vertices] != [v.name for v in before.vertices]
    assert _ids_by_head_uid(before)["sum"] == _ids_by_head_uid(after)["sum"]
    assert _ids_by_head_uid(before)["numbers"] == _ids_by_head_uid(after)["numbers"]
    sum_vertex = next(v for v in after.vertices if v.operator_uids[0] == "sum")
    assert list(sum_vertex.operator_uids) == ["sum", "out"]


def test_a_uid_used_twice_is_refused():
    env = StreamExecutionEnvironment()
    numbers(env).uid("a").map(double).uid("b")
    with pytest.raises(ValueError, match="uid 'a' is used by two operators.*must be unique"):
        numbers(env).uid("a")


# ------------------------------------------------------------------------ validation


def test_a_function_that_cannot_be_pickled_is_refused_with_what_to_fix():
    lock = threading.Lock()

    def guarded(x):
        with lock:
            return x

    env = StreamExecutionEnvironment()
    numbers(env).map(guarded).name("guarded map").print()
    with pytest.raises(InvalidJobError) as error:
        job_graph(env)
    message = str(error.value)
    assert "operator 'guarded map' cannot be sent to the cluster" in message
    assert "lock" in message and "create those in open()" in message


def test_parallelism_above_max_parallelism_is_refused():
    env = StreamExecutionEnvironment().set_max_parallelism(4)
    numbers(env).map(double).set_parallelism(5).print()
    with pytest.raises(InvalidJobError, match=r"operator 'Map': parallelism 5 is above its max "
                                              r"parallelism 4; lower the parallelism or raise "
                                              r"set_max_parallelism\(\)"):
        job_graph(env)


def test_the_default_parallelism_is_checked_against_an_operator_max_parallelism():
    env = StreamExecutionEnvironment().set_parallelism(8)
    numbers(env).set_max_parallelism(4).print()
    with pytest.raises(InvalidJobError, match="parallelism 8 is above its max parallelism 4"):
        job_graph(env)


def test_forward_between_different_parallelism_is_refused():
    env = StreamExecutionEnvironment().set_parallelism(2)
    numbers(env).forward().map(double).set_parallelism(3).print()
    with pytest.raises(InvalidJobError, match="forward partitioning does not allow a change of "
                                              "parallelism.*use rebalance"):
        job_graph(env)


def test_a_program_without_sink_is_refused():
    env = StreamExecutionEnvironment()
    numbers(env).map(double)
    with pytest.raises(InvalidJobError, match="Add a sink: print"):
        job_graph(env)


def test_an_operator_without_input_is_refused():
    # The API cannot express it; the generator still guards the graphs it is given.
    orphan = Transformation(id=0, spec=PrintSinkSpec("Sink: orphan", "u", None), is_sink=True)
    with pytest.raises(InvalidJobError, match="operator 'Sink: orphan' has no input"):
        build_job_graph([orphan], "job", 1, 128, {})


@pytest.mark.parametrize("call", [
    lambda env: env.set_parallelism(0),
    lambda env: env.set_max_parallelism(32769),
    lambda env: numbers(env).set_parallelism(0),
    lambda env: env.from_collection([1]).set_parallelism(2),
    lambda env: numbers(env).map(42),
    lambda env: numbers(env).key_by("not callable"),
], ids=["env parallelism 0", "max parallelism too high", "operator parallelism 0",
        "parallel collection source", "map of a non-function", "key_by a non-function"])
def test_bad_arguments_fail_where_they_are_given(call):
    with pytest.raises((ValueError, TypeError)):
        call(StreamExecutionEnvironment())


def test_a_non_parallel_source_says_so():
    env = StreamExecutionEnvironment()
    with pytest.raises(ValueError, match="'Source: Collection Source' is not parallel"):
        env.from_collection([1]).set_parallelism(2)


def test_the_execution_plan_lists_every_operator_with_its_inputs_in_flinks_format():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    numbers = env.from_source(NumberSequenceSource(1, 10), WatermarkStrategy.no_watermarks(),
                              "numbers")
    numbers.map(lambda x: (x % 3, x)).key_by(lambda pair: pair[0]) \
        .reduce(lambda a, b: (a[0], a[1] + b[1])).set_parallelism(3).print()
    plan = json.loads(env.get_execution_plan())
    assert [(n["type"], n["pact"], n["parallelism"]) for n in plan["nodes"]] == [
        ("Source: numbers", "Data Source", 2), ("Map", "Operator", 2),
        ("Keyed Reduce", "Operator", 3), ("Sink: Print to Std. Out", "Data Sink", 2)]
    ids = [n["id"] for n in plan["nodes"]]
    assert [[(p["id"], p["ship_strategy"]) for p in n.get("predecessors", [])]
            for n in plan["nodes"]] == [[], [(ids[0], "FORWARD")], [(ids[1], "HASH")],
                                        [(ids[2], "REBALANCE")]]
    assert job_graph(env).vertices  # the plan keeps the operators for execute()


def test_the_execution_plan_of_a_program_without_a_sink_is_an_error():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_collection([1, 2]).map(lambda x: x)
    with pytest.raises(InvalidJobError, match="Add a sink"):
        env.get_execution_plan()
