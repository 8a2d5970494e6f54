"""Checkpointing options (Flink's keys and defaults) and the settings the JobManager reads.

``CheckpointConfig`` (``weir.datastream``) writes these keys into the environment's
configuration; ``checkpoint_settings`` reads them back, from a job's configuration merged
over the cluster's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from weir.checkpoint.storage import CheckpointStorageError, parse_storage_uri
from weir.config import ConfigError, Configuration, parse_duration_ms

__all__ = [
    "CHECKPOINTING_INTERVAL",
    "CHECKPOINTING_MODE",
    "CHECKPOINTS_DIRECTORY",
    "CHECKPOINT_TIMEOUT",
    "MAX_CONCURRENT_CHECKPOINTS",
    "MINIMAL_CHECKPOINT_TIME_MS",
    "MIN_PAUSE_BETWEEN_CHECKPOINTS",
    "NUM_RETAINED_CHECKPOINTS",
    "SAVEPOINT_DIRECTORY",
    "TOLERABLE_FAILED_CHECKPOINTS",
    "CheckpointSettings",
    "CheckpointingMode",
    "checkpoint_settings",
    "checkpoint_storage_dir",
    "checkpointing_mode",
]

CHECKPOINTING_INTERVAL = "execution.checkpointing.interval"
CHECKPOINTING_MODE = "execution.checkpointing.mode"
CHECKPOINT_TIMEOUT = "execution.checkpointing.timeout"
MIN_PAUSE_BETWEEN_CHECKPOINTS = "execution.checkpointing.min-pause"
MAX_CONCURRENT_CHECKPOINTS = "execution.checkpointing.max-concurrent-checkpoints"
TOLERABLE_FAILED_CHECKPOINTS = "execution.checkpointing.tolerable-failed-checkpoints"
CHECKPOINTS_DIRECTORY = "state.checkpoints.dir"
NUM_RETAINED_CHECKPOINTS = "state.checkpoints.num-retained"
SAVEPOINT_DIRECTORY = "state.savepoints.dir"

MINIMAL_CHECKPOINT_TIME_MS = 10  # Flink's lower bound for interval and timeout
DEFAULT_TIMEOUT_MS = 10 * 60 * 1000


class CheckpointingMode(Enum):
    """``pyflink.datastream.CheckpointingMode``: EXACTLY_ONCE aligns barriers on tasks with
    several inputs; AT_LEAST_ONCE does not block inputs (records after a barrier may be in the
    snapshot and be replayed after a restore)."""

    EXACTLY_ONCE = 0
    AT_LEAST_ONCE = 1


@dataclass(frozen=True)
class CheckpointSettings:
    """Checkpointing of one job. ``interval_ms`` None = periodic checkpoints are off."""

    interval_ms: int | None = None
    mode: CheckpointingMode = CheckpointingMode.EXACTLY_ONCE
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    min_pause_ms: int = 0
    max_concurrent: int = 1
    tolerable_failures: int = 0
    dir: str | None = None
    num_retained: int = 1
    savepoint_dir: str | None = None

    @property
    def enabled(self) -> bool:
        return self.interval_ms is not None


def checkpoint_settings(configuration: Mapping[str, str]) -> CheckpointSettings:
    """The checkpoint settings in ``configuration`` (Flink's keys and defaults).

    Raises:
        ConfigError: naming the key whose value is not usable.
    """
    config = Configuration(configuration)
    enabled = configuration.get(CHECKPOINTING_INTERVAL) is not None
    return CheckpointSettings(
        interval_ms=_duration(configuration, CHECKPOINTING_INTERVAL, MINIMAL_CHECKPOINT_TIME_MS,
                              0) if enabled else None,
        mode=checkpointing_mode(configuration.get(CHECKPOINTING_MODE, "EXACTLY_ONCE")),
        timeout_ms=_duration(configuration, CHECKPOINT_TIMEOUT, MINIMAL_CHECKPOINT_TIME_MS,
                             DEFAULT_TIMEOUT_MS),
        min_pause_ms=_duration(configuration, MIN_PAUSE_BETWEEN_CHECKPOINTS, 0, 0),
        max_concurrent=_at_least(config, MAX_CONCURRENT_CHECKPOINTS, 1, 1),
        tolerable_failures=_at_least(config, TOLERABLE_FAILED_CHECKPOINTS, 0, 0),
        dir=checkpoint_storage_dir(configuration.get(CHECKPOINTS_DIRECTORY), CHECKPOINTS_DIRECTORY),
        num_retained=_at_least(config, NUM_RETAINED_CHECKPOINTS, 1, 1),
        savepoint_dir=checkpoint_storage_dir(configuration.get(SAVEPOINT_DIRECTORY),
                                             SAVEPOINT_DIRECTORY),
    )


def checkpointing_mode(value: str | CheckpointingMode) -> CheckpointingMode:
    """EXACTLY_ONCE or AT_LEAST_ONCE (any case, '-' or '_'); raises ConfigError otherwise."""
    if isinstance(value, CheckpointingMode):
        return value
    name = str(value).strip().upper().replace("-", "_")
    try:
        return CheckpointingMode[name]
    except KeyError:
        raise ConfigError(f"configuration '{CHECKPOINTING_MODE}' must be EXACTLY_ONCE or "
                          f"AT_LEAST_ONCE, got {value!r}") from None


def checkpoint_storage_dir(value: str | None, key: str = CHECKPOINTS_DIRECTORY) -> str | None:
    """A checkpoint or savepoint directory URI, normalized (``file:///abs`` or
    ``s3://bucket/prefix``); None when unset. Raises ConfigError naming ``key``."""
    if value is None or not str(value).strip():
        return None
    try:
        return str(parse_storage_uri(str(value)))
    except CheckpointStorageError as error:
        raise ConfigError(f"configuration '{key}': {error}") from None


def _duration(configuration: Mapping[str, str], key: str, minimum_ms: int,
              default_ms: int) -> int:
    raw = configuration.get(key)
    if raw is None:
        return default_ms
    value = parse_duration_ms(raw, key)
    if value < minimum_ms:
        raise ConfigError(f"configuration '{key}' must be at least {minimum_ms} ms, got {raw!r}")
    return value


def _at_least(config: Configuration, key: str, minimum: int, default: int) -> int:
    value = config.get_integer(key, default)
    if value < minimum:
        raise ConfigError(f"configuration '{key}' must be at least {minimum}, got {value}")
    return value
