"""Connectors (``pyflink.datastream.connectors``)."""

from weir.datastream.connectors.base import Sink, SinkWriter, Source, SourceReader
from weir.datastream.connectors.datagen import (
    DataGeneratorSource,
    GeneratorFunction,
    RateLimiterStrategy,
)
from weir.datastream.connectors.file_system import (
    BucketAssigner,
    FileSink,
    FileSource,
    OutputFileConfig,
    RollingPolicy,
    StreamFormat,
)
from weir.datastream.connectors.number_seq import NumberSequenceSource

__all__ = [
    "BucketAssigner",
    "DataGeneratorSource",
    "FileSink",
    "FileSource",
    "GeneratorFunction",
    "NumberSequenceSource",
    "OutputFileConfig",
    "RateLimiterStrategy",
    "RollingPolicy",
    "Sink",
    "SinkWriter",
    "Source",
    "SourceReader",
    "StreamFormat",
]
