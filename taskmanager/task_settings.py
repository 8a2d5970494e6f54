"""The task's batching and flow-control settings, read once from the job's configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from weir.config import ConfigError, Configuration
from weir.taskmanager.network.environment import DEFAULT_INITIAL_CREDITS

__all__ = ["BUFFER_RECORDS", "BUFFER_TIMEOUT", "CREDITS", "DEFAULT_BUFFER_RECORDS",
           "SOURCE_BATCH", "TaskSettings"]

BUFFER_TIMEOUT = "execution.buffer-timeout"
BUFFER_RECORDS = "taskmanager.network.buffer-records"
CREDITS = "taskmanager.network.credits-per-channel"
SOURCE_BATCH = "source.batch-records"
DEFAULT_BUFFER_TIMEOUT_MS = 100
# Records per network buffer and per source poll. Measured on W1 (benchmarks/run.py): what
# waits in flight and in batches is memory a task walks through again, so 500-record buffers
# and polls with 2 credits a channel took 14% (p=2) to 25% (p=1) less TaskManager CPU per
# event than 1,000 and 16; 250 gained nothing more and 100 lost.
DEFAULT_BUFFER_RECORDS = 500


@dataclass(frozen=True)
class TaskSettings:
    """``buffer_timeout_s``: the longest a partly filled buffer waits under load (0: every
    batch goes out at once); ``buffer_records``: records per network buffer; ``credits``:
    buffers a sender may have in flight per channel; ``source_batch``: records per poll of
    a source reader."""

    buffer_timeout_s: float
    buffer_records: int
    credits: int
    source_batch: int

    @classmethod
    def from_configuration(cls, config: Mapping[str, str]) -> TaskSettings:
        """Raises:
            ConfigError: naming the key whose value is not an integer, or too small.
        """
        read = Configuration(config)
        timeout_ms = read.get_integer(BUFFER_TIMEOUT, DEFAULT_BUFFER_TIMEOUT_MS)
        return cls(buffer_timeout_s=max(timeout_ms, 0) / 1000.0,
                   buffer_records=_at_least_one(read, BUFFER_RECORDS, DEFAULT_BUFFER_RECORDS,
                                                "records per network buffer"),
                   credits=_at_least_one(read, CREDITS, DEFAULT_INITIAL_CREDITS,
                                         "buffers a sender may have in flight per channel"),
                   source_batch=_at_least_one(read, SOURCE_BATCH, DEFAULT_BUFFER_RECORDS,
                                              "records per source poll"))


def _at_least_one(config: Configuration, key: str, default: int, meaning: str) -> int:
    number = config.get_integer(key, default)
    if number < 1:
        raise ConfigError(f"{key} must be at least 1 ({meaning}); got {number}")
    return number
