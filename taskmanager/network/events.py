"""In-band events that travel on channels in order with the record buffers."""

from __future__ import annotations

__all__ = ["END_OF_PARTITION", "EndOfPartition"]


class EndOfPartition:
    """The producer subtask will send nothing more on this channel."""

    def __reduce__(self) -> str:
        return "END_OF_PARTITION"

    def __repr__(self) -> str:
        return "EndOfPartition"


END_OF_PARTITION = EndOfPartition()
