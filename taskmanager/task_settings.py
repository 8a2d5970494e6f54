"""The task's batching and flow-control settings, read once from the job's configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from weir.config import ConfigError
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
            ConfigError: naming the key whose value is not a whole number, or too small.
        """
        timeout_ms = _whole_number(config, BUFFER_TIMEOUT, DEFAULT_BUFFER_TIMEOUT_MS)
        return cls(buffer_timeout_s=max(timeout_ms, 0) / 1000.0,
                   buffer_records=_at_least_one(config, BUFFER_RECORDS, DEFAULT_BUFFER_RECORDS,
                                                "records per network buffer"),
                   credits=_at_least_one(config, CREDITS, DEFAULT_INITIAL_CREDITS,
                                         "buffers a sender may have in flight per channel"),
                   source_batch=_at_least_one(config, SOURCE_BATCH, DEFAULT_BUFFER_RECORDS,
                                              "records per source poll"))


def _whole_number(config: Mapping[str, str], key: str, default: int) -> int:
    value = config.get(key)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{key} must be a whole number; got {value!r}") from None


def _at_least_one(config: Mapping[str, str], key: str, default: int, meaning: str) -> int:
    number = _whole_number(config, key, default)
    if number < 1:
        raise ConfigError(f"{key} must be at least 1 ({meaning}); got {number}")
    return number
