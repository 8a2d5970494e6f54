"""Operator specs: what each operator of a job is, as data plus user functions.

The client builds them, cloudpickle carries them inside the job graph, and
only TaskManagers unpickle and run them. The JobManager never does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from weir.common.watermark_strategy import WatermarkStrategy
from weir.datastream.connectors.base import Sink, Source

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
]


@dataclass
class OperatorSpec:
    """Base: every operator has a display name and a uid (state is matched by uid)."""

    name: str
    uid: str


@dataclass
class SourceSpec(OperatorSpec):
    source: Source
    watermark_strategy: WatermarkStrategy


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
