"""Connector contracts shared by the API, the connectors and the TaskManager runtime
(Flink's ``org.apache.flink.api.connector``): sources with their readers, sinks with their
writers and, for exactly-once output, committers."""

from weir.connector.sink import (
    Committer,
    Sink,
    SinkWriter,
    TwoPhaseCommittingSink,
    TwoPhaseCommittingSinkWriter,
)
from weir.connector.source import Source, SourceReader, SplitAwareSourceReader

__all__ = ["Committer", "Sink", "SinkWriter", "Source", "SourceReader",
           "SplitAwareSourceReader", "TwoPhaseCommittingSink", "TwoPhaseCommittingSinkWriter"]
