"""How long a cancelled task may take to stop (Flink's ``task.cancellation.*``).

- ``task.cancellation.timeout`` (default 180 s; a plain number is milliseconds, as in
  Flink): a TaskManager whose cancelled tasks have not all stopped this long after the
  cancel reached it ends its own process (Flink's ``TaskCancelerWatchdog``), and the
  JobManager replaces it. ``0`` turns the watchdog off.
- ``task.cancellation.interval`` (default 30 s): how often a cancelled task that is still
  running is cancelled again (Flink interrupts the task thread again), for code that
  swallowed the first cancellation.

The TaskManagers enforce both, read from each task's configuration (the cluster's,
overridden by the job's); the JobManager reads the same values to bound its own wait.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from weir.config.configuration import ConfigError
from weir.config.durations import parse_duration_ms

__all__ = ["TASK_CANCELLATION_INTERVAL", "TASK_CANCELLATION_TIMEOUT", "TaskCancellation"]

TASK_CANCELLATION_TIMEOUT = "task.cancellation.timeout"
TASK_CANCELLATION_INTERVAL = "task.cancellation.interval"


@dataclass(frozen=True)
class TaskCancellation:
    """``timeout_s``: None when the watchdog is off; ``interval_s``: always positive."""

    timeout_s: float | None = 180.0
    interval_s: float = 30.0

    @classmethod
    def from_configuration(cls, configuration: Mapping[str, str]) -> TaskCancellation:
        """The options in ``configuration``, Flink's defaults for those not set.

        Raises:
            ConfigError: naming the option that is not a duration, or a zero interval.
        """
        timeout_ms = parse_duration_ms(configuration.get(TASK_CANCELLATION_TIMEOUT, "180 s"),
                                       TASK_CANCELLATION_TIMEOUT)
        interval_ms = parse_duration_ms(configuration.get(TASK_CANCELLATION_INTERVAL, "30 s"),
                                        TASK_CANCELLATION_INTERVAL)
        if interval_ms == 0:
            raise ConfigError(f"configuration '{TASK_CANCELLATION_INTERVAL}' must be positive")
        return cls(timeout_ms / 1000.0 if timeout_ms else None, interval_ms / 1000.0)
