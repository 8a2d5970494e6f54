"""Operator specs: what each operator of a job is, as data plus user functions.

The client builds them, cloudpickle carries them inside the job graph, and
only TaskManagers unpickle and run them. The JobManager never does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from weir.connector import Sink, Source

__all__ = [
    "CollectSinkSpec",
    "FilterSpec",
    "FlatMapSpec",
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
