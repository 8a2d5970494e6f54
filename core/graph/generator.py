"""Turns recorded transformations into a JobGraph: validation, parallelism, chaining.

Chaining rule (Flink's): an operator joins its upstream's chain when it has
exactly one input, the edge is forward (explicitly, or by default with equal
parallelism), the upstream has no other consumer, and neither side disabled
chaining.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence

from weir.graph import user_code
from weir.graph.operators import OperatorSpec, SourceSpec
from weir.graph.transformations import ChainingStrategy, StreamInput, Transformation
from weir.proto import jobmanager_pb2 as pb

__all__ = ["InvalidJobError", "build_job_graph", "execution_plan", "vertex_id_for"]


class InvalidJobError(ValueError):
    """The job cannot run as defined; the message says what to change."""


def vertex_id_for(head: Transformation) -> str:
    """A stable vertex id: from the head operator's uid, else from its position."""
    basis = f"uid:{head.uid}" if head.uid else f"pos:{head.id}"
    return hashlib.sha256(basis.encode()).hexdigest()[:32]


def build_job_graph(transformations: Sequence[Transformation], job_name: str,
                    default_parallelism: int, max_parallelism: int,
                    configuration: Mapping[str, str]) -> pb.JobGraph:
    """Validate the program and build its JobGraph.

    Raises:
        InvalidJobError: for a program that cannot run (no sink, an operator
            without input, parallelism above max parallelism, a function that
            cannot be pickled, forward edges between different parallelism).
    """
    used = _reachable_from_sinks(transformations)
    parallelism = {t: _resolve_parallelism(t, default_parallelism, max_parallelism) for t in used}
    max_par = {t: t.max_parallelism or max_parallelism for t in used}
    consumers: dict[Transformation, int] = {t: 0 for t in used}
    for t in used:
        if not t.inputs and not isinstance(t.spec, SourceSpec):
            raise InvalidJobError(f"operator '{t.name}' has no input")
        for edge in t.inputs:
            consumers[edge.upstream] += 1

    chain_head: dict[Transformation, Transformation] = {}
    chains: dict[Transformation, list[Transformation]] = {}
    for t in used:  # ids ascend, so every input comes before its consumer
        upstream = _chain_upstream(t, parallelism, max_par, consumers)
        if upstream is None:
            chain_head[t] = t
            chains[t] = [t]
        else:
            head = chain_head[upstream]
            chain_head[t] = head
            chains[head].append(t)

    _route_side_outputs(chains)
    graph = pb.JobGraph(name=job_name, configuration=dict(configuration))
    for head, members in chains.items():
        vertex = graph.vertices.add(
            id=vertex_id_for(head),
            name=" -> ".join(m.name for m in members),
            parallelism=parallelism[head],
            max_parallelism=max_par[head],
            operator_chain=_pickle_chain([m.spec for m in members]),
            is_source=isinstance(head.spec, SourceSpec),
            operator_uids=[m.uid or f"auto-{m.id}" for m in members],
        )
        for index, edge in enumerate(head.inputs):
            upstream_head = chain_head[edge.upstream]
            partitioner = _resolve_partitioner(edge, parallelism[edge.upstream], parallelism[head],
                                               head.name)
            vertex.inputs.add(
                source_vertex_id=vertex_id_for(upstream_head),
                partitioner=partitioner,
                key_selector=(user_code.dumps(edge.key_selector)
                              if partitioner in (pb.HASH, pb.CUSTOM) else b""),
                input_index=index,
                partition_function=(user_code.dumps(edge.partition_function)
                                    if partitioner == pb.CUSTOM else b""),
            )
    return graph


def execution_plan(transformations: Sequence[Transformation], default_parallelism: int,
                   max_parallelism: int) -> str:
    """The program's operators as JSON, in Flink's execution-plan format: one node per
    operator (before chaining) with its parallelism and its inputs' ship strategies.

    Raises:
        InvalidJobError: as ``build_job_graph`` does for a program that cannot run.
    """
    used = _reachable_from_sinks(transformations)
    parallelism = {t: _resolve_parallelism(t, default_parallelism, max_parallelism)
                   for t in used}
    nodes = []
    for t in used:
        pact = "Data Source" if not t.inputs else "Data Sink" if t.is_sink else "Operator"
        node: dict[str, object] = {"id": t.id, "type": t.name, "pact": pact,
                                   "contents": t.name, "parallelism": parallelism[t]}
        if t.inputs:
            node["predecessors"] = [
                {"id": edge.upstream.id, "side": "second",
                 "ship_strategy": pb.Partitioner.Name(_resolve_partitioner(
                     edge, parallelism[edge.upstream], parallelism[t], t.name))}
                for edge in t.inputs]
        nodes.append(node)
    return json.dumps({"nodes": nodes}, indent=2)


def _route_side_outputs(chains: Mapping[Transformation, list[Transformation]]) -> None:
    """Tell each operator which of its side outputs the job reads, and on which edge.

    A side-output edge never chains, so its upstream operator ends its chain and
    the task routes each side output to the writer of its edge."""
    for members in chains.values():
        for t in members:
            t.spec.side_output_routes = {}
    for head in chains:
        for index, edge in enumerate(head.inputs):
            if edge.side_output_tag is not None:
                routes = edge.upstream.spec.side_output_routes
                routes[(vertex_id_for(head), index)] = edge.side_output_tag


def _reachable_from_sinks(transformations: Sequence[Transformation]) -> list[Transformation]:
    sinks = [t for t in transformations if t.is_sink]
    if not sinks:
        raise InvalidJobError("No operators defined in streaming topology. Cannot execute. "
                              "Add a sink: print(), sink_to(), add_sink() or execute_and_collect()")
    seen: set[int] = set()
    stack = list(sinks)
    while stack:
        t = stack.pop()
        if t.id in seen:
            continue
        seen.add(t.id)
        stack.extend(edge.upstream for edge in t.inputs)
    by_id = {t.id: t for t in transformations}
    for t in transformations:
        for edge in t.inputs:
            by_id.setdefault(edge.upstream.id, edge.upstream)
    return [by_id[i] for i in sorted(seen)]


def _resolve_parallelism(t: Transformation, default: int, max_parallelism: int) -> int:
    p = t.fixed_parallelism or t.parallelism or default
    limit = t.max_parallelism or max_parallelism
    if p < 1:
        raise InvalidJobError(f"operator '{t.name}': parallelism must be at least 1, got {p}")
    if p > limit:
        raise InvalidJobError(
            f"operator '{t.name}': parallelism {p} is above its max parallelism {limit}; "
            "lower the parallelism or raise set_max_parallelism()")
    if t.fixed_parallelism and t.parallelism and t.parallelism != t.fixed_parallelism:
        raise InvalidJobError(f"operator '{t.name}' is not parallel: its parallelism must be "
                              f"{t.fixed_parallelism}, got {t.parallelism}")
    return p


def _chain_upstream(t: Transformation, parallelism: Mapping[Transformation, int],
                    max_par: Mapping[Transformation, int],
                    consumers: Mapping[Transformation, int]) -> Transformation | None:
    if len(t.inputs) != 1 or t.chaining is not ChainingStrategy.ALWAYS:
        return None
    edge = t.inputs[0]
    up = edge.upstream
    if edge.side_output_tag is not None:
        return None
    if up.chaining is ChainingStrategy.NEVER or consumers[up] != 1:
        return None
    if parallelism[up] != parallelism[t] or max_par[up] != max_par[t]:
        return None
    if edge.partitioner not in (None, pb.FORWARD):
        return None
    return up


def _resolve_partitioner(edge: StreamInput, upstream_parallelism: int,
                         downstream_parallelism: int,
                         downstream_name: str) -> pb.Partitioner:
    if edge.partitioner is None:
        return pb.FORWARD if upstream_parallelism == downstream_parallelism else pb.REBALANCE
    if edge.partitioner == pb.FORWARD and upstream_parallelism != downstream_parallelism:
        raise InvalidJobError(
            f"forward partitioning does not allow a change of parallelism: "
            f"'{edge.upstream.name}' has {upstream_parallelism}, '{downstream_name}' has "
            f"{downstream_parallelism}; use rebalance() or rescale() instead")
    return edge.partitioner


def _pickle_chain(specs: list[OperatorSpec]) -> bytes:
    for spec in specs:
        try:
            user_code.dumps(spec)
        except Exception as error:
            raise InvalidJobError(
                f"operator '{spec.name}' cannot be sent to the cluster: its function cannot be "
                f"pickled ({type(error).__name__}: {error}). Functions must not capture locks, "
                "sockets, open files or clients: create those in open()") from error
    return user_code.dumps(specs)
