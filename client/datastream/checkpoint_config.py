"""``CheckpointConfig`` (``pyflink.datastream.checkpoint_config``).

A view on the environment's ``Configuration``: every setter writes Flink's key, so the
settings travel in the job graph, and every getter reads it back (``checkpoint_settings``
applies the same defaults and checks on the JobManager).
"""

from __future__ import annotations

from weir.checkpoint.settings import (
    CHECKPOINT_TIMEOUT,
    CHECKPOINTING_INTERVAL,
    CHECKPOINTING_MODE,
    CHECKPOINTS_DIRECTORY,
    DEFAULT_TIMEOUT_MS,
    MAX_CONCURRENT_CHECKPOINTS,
    MIN_PAUSE_BETWEEN_CHECKPOINTS,
    MINIMAL_CHECKPOINT_TIME_MS,
    TOLERABLE_FAILED_CHECKPOINTS,
    CheckpointingMode,
    CheckpointSettings,
    checkpoint_settings,
    checkpoint_storage_dir,
)
from weir.config import Configuration

__all__ = ["CheckpointConfig", "CheckpointingMode"]


class CheckpointConfig:
    """All checkpointing settings of one ``StreamExecutionEnvironment``.

    Durations are milliseconds, as in PyFlink; invalid values raise ValueError at once.
    """

    DEFAULT_MODE = CheckpointingMode.EXACTLY_ONCE
    DEFAULT_TIMEOUT = DEFAULT_TIMEOUT_MS
    DEFAULT_MIN_PAUSE_BETWEEN_CHECKPOINTS = 0
    DEFAULT_MAX_CONCURRENT_CHECKPOINTS = 1

    def __init__(self, configuration: Configuration) -> None:
        self._config = configuration

    def _settings(self) -> CheckpointSettings:
        return checkpoint_settings(self._config.to_dict())

    def is_checkpointing_enabled(self) -> bool:
        return self._config.contains_key(CHECKPOINTING_INTERVAL)

    def get_checkpointing_mode(self) -> CheckpointingMode:
        return self._settings().mode

    def set_checkpointing_mode(self, checkpointing_mode: CheckpointingMode) -> None:
        if not isinstance(checkpointing_mode, CheckpointingMode):
            raise TypeError("set_checkpointing_mode() takes CheckpointingMode.EXACTLY_ONCE or "
                            f"CheckpointingMode.AT_LEAST_ONCE, got {checkpointing_mode!r}")
        self._config.set_string(CHECKPOINTING_MODE, checkpointing_mode.name)

    def get_checkpoint_interval(self) -> int:
        """The interval in milliseconds, or -1 when checkpointing is off (as in Flink)."""
        interval = self._settings().interval_ms
        return -1 if interval is None else interval

    def set_checkpoint_interval(self, checkpoint_interval: int) -> None:
        """Checkpoint every ``checkpoint_interval`` ms (at least 10); this enables
        checkpointing."""
        self._set_millis(CHECKPOINTING_INTERVAL, checkpoint_interval, MINIMAL_CHECKPOINT_TIME_MS)

    def get_checkpoint_timeout(self) -> int:
        return self._settings().timeout_ms

    def set_checkpoint_timeout(self, checkpoint_timeout: int) -> None:
        self._set_millis(CHECKPOINT_TIMEOUT, checkpoint_timeout, MINIMAL_CHECKPOINT_TIME_MS)

    def get_min_pause_between_checkpoints(self) -> int:
        return self._settings().min_pause_ms

    def set_min_pause_between_checkpoints(self, min_pause_between_checkpoints: int) -> None:
        self._set_millis(MIN_PAUSE_BETWEEN_CHECKPOINTS, min_pause_between_checkpoints, 0)

    def get_max_concurrent_checkpoints(self) -> int:
        return self._settings().max_concurrent

    def set_max_concurrent_checkpoints(self, max_concurrent_checkpoints: int) -> None:
        self._set_count(MAX_CONCURRENT_CHECKPOINTS, max_concurrent_checkpoints, 1)

    def get_tolerable_checkpoint_failure_number(self) -> int:
        return self._settings().tolerable_failures

    def set_tolerable_checkpoint_failure_number(self, tolerable_checkpoint_failure_number: int,
                                                ) -> None:
        self._set_count(TOLERABLE_FAILED_CHECKPOINTS, tolerable_checkpoint_failure_number, 0)

    def set_checkpoint_storage_dir(self, checkpoint_path: str) -> None:
        """Where checkpoints go: ``file:///dir`` or ``s3://bucket/prefix``."""
        normalized = checkpoint_storage_dir(checkpoint_path)
        if normalized is None:
            raise ValueError("the checkpoint storage directory must be a non-empty URI, "
                             "e.g. s3://bucket/checkpoints or file:///tmp/checkpoints")
        self._config.set_string(CHECKPOINTS_DIRECTORY, normalized)

    def get_checkpoint_storage_dir(self) -> str | None:
        return self._settings().dir

    def _set_millis(self, key: str, millis: int, minimum: int) -> None:
        self._set_count(key, millis, minimum, " ms")

    def _set_count(self, key: str, value: int, minimum: int, unit: str = "") -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{key} must be an int, got {type(value).__name__}")
        if value < minimum:
            raise ValueError(f"{key} must be at least {minimum}{unit}, got {value}{unit}")
        self._config.set_string(key, f"{value}{unit}")
