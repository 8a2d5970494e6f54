"""In-band events that travel on channels in order with the record buffers."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["END_OF_PARTITION", "CheckpointBarrier", "EndOfPartition", "LatencyMarker",
           "Watermark", "WatermarkStatus"]


@dataclass(frozen=True)
class CheckpointBarrier:
    """Everything before it on a channel belongs to checkpoint ``checkpoint_id``."""

    checkpoint_id: int
    timestamp_ms: int
    # The directory the checkpoint (or savepoint) is written to.
    target_uri: str
    # The job's directory for files shared by checkpoints (incremental RocksDB); "" for a
    # savepoint, which is self-contained.
    shared_uri: str = ""
    # The newest completed checkpoint, whose shared files this one may reference (0: none).
    base_checkpoint_id: int = 0


class EndOfPartition:
    """The producer subtask will send nothing more on this channel."""

    def __reduce__(self) -> str:
        return "END_OF_PARTITION"

    def __repr__(self) -> str:
        return "EndOfPartition"


END_OF_PARTITION = EndOfPartition()


class Watermark:
    """Event time on this channel reached ``timestamp``: no record with a timestamp at or
    below it should follow (later ones are late)."""

    __slots__ = ("timestamp",)

    def __init__(self, timestamp: int) -> None:
        self.timestamp = timestamp

    def __reduce__(self) -> tuple[type[Watermark], tuple[int]]:
        return Watermark, (self.timestamp,)

    def __eq__(self, other: object) -> bool:
        return type(other) is Watermark and other.timestamp == self.timestamp

    def __hash__(self) -> int:
        return hash(self.timestamp)

    def __repr__(self) -> str:
        return f"Watermark({self.timestamp})"


class WatermarkStatus:
    """The producer became idle (its watermarks are not to be waited for) or active again.

    ``WatermarkStatus.IDLE`` and ``WatermarkStatus.ACTIVE`` are the only instances.
    """

    IDLE: WatermarkStatus
    ACTIVE: WatermarkStatus

    __slots__ = ("idle",)

    def __init__(self, idle: bool) -> None:
        self.idle = idle

    def __reduce__(self) -> str:
        return "_IDLE" if self.idle else "_ACTIVE"

    def __repr__(self) -> str:
        return "WatermarkStatus.IDLE" if self.idle else "WatermarkStatus.ACTIVE"


_IDLE = WatermarkStatus.IDLE = WatermarkStatus(True)
_ACTIVE = WatermarkStatus.ACTIVE = WatermarkStatus(False)


@dataclass(frozen=True)
class LatencyMarker:
    """Sent by a source subtask every ``metrics.latency.interval`` (Flink's
    ``LatencyMarker``): it travels behind the records sent before it, so the time a task
    receives it, less ``marked_time_ms`` (wall clock), is the delay from that source."""

    marked_time_ms: int
    source_id: str
    source_subtask: int
