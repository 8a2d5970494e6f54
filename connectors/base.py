"""The connector base classes (``pyflink.datastream.connectors.base``), for users who write
their own sources and sinks; they are the runtime's contracts in ``weir.connector``."""

from weir.connector import (
    Committer,
    Sink,
    SinkWriter,
    Source,
    SourceReader,
    TwoPhaseCommittingSink,
    TwoPhaseCommittingSinkWriter,
)

__all__ = ["Committer", "Sink", "SinkWriter", "Source", "SourceReader",
           "TwoPhaseCommittingSink", "TwoPhaseCommittingSinkWriter"]
