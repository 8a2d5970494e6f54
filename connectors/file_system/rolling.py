"""When a ``FileSink`` closes its in-progress part file and starts a new one."""

from __future__ import annotations

import abc
from dataclasses import dataclass

__all__ = ["DefaultRollingPolicy", "OnCheckpointRollingPolicy", "PartFileInfo", "RollingPolicy"]


@dataclass
class PartFileInfo:
    """What a rolling policy sees of an in-progress part file (Flink's ``PartFileInfo``)."""

    bucket_id: str
    creation_time: int
    last_update_time: int
    size: int


class RollingPolicy(abc.ABC):
    """Decides when a bucket's in-progress part file rolls (becomes pending).

    The writer asks before each record (``should_roll_on_event``), every bucket
    check interval (``should_roll_on_processing_time``) and at each checkpoint
    (``should_roll_on_checkpoint``). A part that does not roll at a checkpoint
    stays in progress across it: its data is made durable but stays hidden.
    ``should_roll_on_event`` must stay True once it is True for a growing part:
    the writer asks once per batch whether the part rolls before the batch's
    last record, and walks the batch record by record only then.
    """

    @abc.abstractmethod
    def should_roll_on_checkpoint(self, part: PartFileInfo) -> bool: ...

    @abc.abstractmethod
    def should_roll_on_event(self, part: PartFileInfo) -> bool: ...

    @abc.abstractmethod
    def should_roll_on_processing_time(self, part: PartFileInfo, current_time: int) -> bool: ...

    @staticmethod
    def default_rolling_policy(part_size: int = 1024 * 1024 * 128,
                               rollover_interval: int = 60 * 1000,
                               inactivity_interval: int = 60 * 1000) -> DefaultRollingPolicy:
        """Roll when the part exceeds ``part_size`` bytes, is older than
        ``rollover_interval`` ms, or was not written to for ``inactivity_interval`` ms."""
        return DefaultRollingPolicy(part_size, rollover_interval, inactivity_interval)

    @staticmethod
    def on_checkpoint_rolling_policy() -> OnCheckpointRollingPolicy:
        """Roll on every checkpoint, and only then."""
        return OnCheckpointRollingPolicy()


class DefaultRollingPolicy(RollingPolicy):
    """Rolls by size, age and inactivity (Flink's ``DefaultRollingPolicy``)."""

    def __init__(self, part_size: int, rollover_interval: int, inactivity_interval: int) -> None:
        for name, value in (("part_size", part_size), ("rollover_interval", rollover_interval),
                            ("inactivity_interval", inactivity_interval)):
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"default_rolling_policy: {name} must be a positive integer, "
                                 f"got {value!r}")
        self.part_size = part_size
        self.rollover_interval = rollover_interval
        self.inactivity_interval = inactivity_interval

    def should_roll_on_checkpoint(self, part: PartFileInfo) -> bool:
        return part.size > self.part_size

    def should_roll_on_event(self, part: PartFileInfo) -> bool:
        return part.size > self.part_size

    def should_roll_on_processing_time(self, part: PartFileInfo, current_time: int) -> bool:
        return (current_time - part.creation_time >= self.rollover_interval
                or current_time - part.last_update_time >= self.inactivity_interval)


class OnCheckpointRollingPolicy(RollingPolicy):
    """Rolls on every checkpoint only (Flink's ``OnCheckpointRollingPolicy``)."""

    def should_roll_on_checkpoint(self, part: PartFileInfo) -> bool:
        return True

    def should_roll_on_event(self, part: PartFileInfo) -> bool:
        return False

    def should_roll_on_processing_time(self, part: PartFileInfo, current_time: int) -> bool:
        return False
