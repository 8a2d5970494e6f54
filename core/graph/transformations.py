"""The transformations a DataStream program records, before they become a job graph."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from weir.graph.operators import OperatorSpec
from weir.proto import jobmanager_pb2 as pb

__all__ = ["ChainingStrategy", "StreamInput", "Transformation"]


class ChainingStrategy(enum.Enum):
    ALWAYS = "always"
    HEAD = "head"  # starts a new chain, but later operators may chain to it
    NEVER = "never"


@dataclass(frozen=True)
class StreamInput:
    """One input of a transformation: the upstream transformation and how records are routed.

    ``partitioner`` None means the default: forward when the parallelism is
    equal, rebalance otherwise (as in Flink).
    """

    upstream: Transformation
    partitioner: pb.Partitioner | None = None
    key_selector: Any = None
    # CUSTOM edges: the user's partition(key, num_partitions) -> channel, as a callable.
    partition_function: Any = None
    # Reads the upstream's side output with this tag id instead of its main output.
    side_output_tag: str | None = None


@dataclass(eq=False)
class Transformation:
    """One operator of the program and its inputs."""

    id: int
    spec: OperatorSpec
    inputs: list[StreamInput] = field(default_factory=list)
    parallelism: int | None = None
    max_parallelism: int | None = None
    fixed_parallelism: int | None = None
    uid: str | None = None
    chaining: ChainingStrategy = ChainingStrategy.ALWAYS
    is_sink: bool = False

    @property
    def name(self) -> str:
        return self.spec.name
