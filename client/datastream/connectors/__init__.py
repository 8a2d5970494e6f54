"""Connectors (``pyflink.datastream.connectors``)."""

from weir.datastream.connectors.base import Sink, SinkWriter, Source, SourceReader
from weir.datastream.connectors.datagen import (
    DataGeneratorSource,
    GeneratorFunction,
    RateLimiterStrategy,
)
from weir.datastream.connectors.number_seq import NumberSequenceSource

__all__ = [
    "DataGeneratorSource",
    "GeneratorFunction",
    "NumberSequenceSource",
    "RateLimiterStrategy",
    "Sink",
    "SinkWriter",
    "Source",
    "SourceReader",
]
