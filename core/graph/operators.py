"""Operator specs: what each operator of a job is, as data plus user functions.

The client builds them, cloudpickle carries them inside the job graph, and
only TaskManagers unpickle and run them. The JobManager never does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from weir.connector import Sink, Source

__all__ = [
    "AsyncWaitSpec",
    "BroadcastProcessSpec",
    "CoFlatMapSpec",
    "CoMapSpec",
    "CoProcessSpec",
    "CollectSinkSpec",
    "FilterSpec",
    "FlatMapSpec",
    "KeyedBroadcastProcessSpec",
    "KeyedCoProcessSpec",
    "KeyedProcessSpec",
    "KeyedReduceSpec",
    "MapSpec",
    "OperatorSpec",
    "PrintSinkSpec",
    "ProcessSpec",
    "SinkFunctionSpec",
    "SinkSpec",
    "SourceSpec",
    "TimestampsAndWatermarksSpec",
    "TwoInputSpec",
    "WindowSpec",
]


@dataclass
class OperatorSpec:
    """Base: every operator has a display name and a uid (state is matched by uid)."""

    name: str
    uid: str
    # Side outputs of this operator that the job reads: (consumer vertex id, input index)
    # -> output tag id. Set by the job graph generator; other side outputs are dropped.
    side_output_routes: dict[tuple[str, int], str] = field(default_factory=dict, kw_only=True)


@dataclass
class SourceSpec(OperatorSpec):
    source: Source
    watermark_strategy: Any  # the user's weir.common.WatermarkStrategy, run by TaskManagers


@dataclass
class MapSpec(OperatorSpec):
    function: Any


@dataclass
class FlatMapSpec(OperatorSpec):
    function: Any


@dataclass
class FilterSpec(OperatorSpec):
    function: Any


@dataclass
class ProcessSpec(OperatorSpec):
    function: Any


@dataclass
class KeyedProcessSpec(OperatorSpec):
    key_selector: Any
    function: Any


@dataclass
class KeyedReduceSpec(OperatorSpec):
    key_selector: Any
    function: Any


@dataclass
class TwoInputSpec(OperatorSpec):
    """An operator with two inputs (connected streams). Its input edges are the first
    input's edges, then the second's: edge ``i`` (the ``input_index`` of the job edge)
    belongs to the first input when ``i < first_input_edges``."""

    first_input_edges: int
    function: Any


@dataclass
class CoMapSpec(TwoInputSpec):
    """A CoMapFunction on two non-keyed inputs (on keyed inputs it runs as a
    ``KeyedCoProcessSpec``, which has keyed state)."""


@dataclass
class CoFlatMapSpec(TwoInputSpec):
    """A CoFlatMapFunction on two non-keyed inputs (see ``CoMapSpec``)."""


@dataclass
class CoProcessSpec(TwoInputSpec):
    """A CoProcessFunction on two non-keyed inputs."""


@dataclass
class KeyedCoProcessSpec(TwoInputSpec):
    """A KeyedCoProcessFunction: both inputs keyed, sharing keyed state and timers."""

    key_selector1: Any
    key_selector2: Any


@dataclass
class BroadcastProcessSpec(TwoInputSpec):
    """A BroadcastProcessFunction: the second input is broadcast and writes the broadcast
    state named by ``broadcast_state_descriptors`` (MapStateDescriptors)."""

    broadcast_state_descriptors: list[Any]


@dataclass
class KeyedBroadcastProcessSpec(BroadcastProcessSpec):
    """A KeyedBroadcastProcessFunction: the first input keyed by ``key_selector``."""

    key_selector: Any


@dataclass
class AsyncWaitSpec(OperatorSpec):
    """Async I/O (``AsyncDataStream``): the user's AsyncFunction, at most ``capacity``
    requests in flight, each ending after ``timeout_ms`` (0: never), retried as
    ``retry_strategy`` says; results in input order when ``ordered``. ``key_selector``:
    the input's, when it is a keyed stream (a rescaled restore keeps the records of its
    own keys)."""

    function: Any
    timeout_ms: int
    capacity: int
    retry_strategy: Any
    ordered: bool
    key_selector: Any = None


@dataclass
class TimestampsAndWatermarksSpec(OperatorSpec):
    """Assigns event timestamps and emits watermarks (``assign_timestamps_and_watermarks``)."""

    watermark_strategy: Any  # the user's weir.common.WatermarkStrategy, run by TaskManagers


@dataclass
class WindowSpec(OperatorSpec):
    """A window operator: assigner, trigger, contents (a state descriptor: reducing,
    aggregating or list state) and how contents become output (``WindowEvaluation``)."""

    key_selector: Any
    assigner: Any
    trigger: Any
    allowed_lateness: int
    late_data_tag: str | None
    contents: Any
    evaluation: Any


@dataclass
class SinkSpec(OperatorSpec):
    sink: Sink


@dataclass
class SinkFunctionSpec(OperatorSpec):
    function: Any


@dataclass
class PrintSinkSpec(OperatorSpec):
    sink_identifier: str | None


@dataclass
class CollectSinkSpec(OperatorSpec):
    """Ships records back to the client of ``execute_and_collect``."""
