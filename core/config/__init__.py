"""Configuration with Flink's option names, shared by the client, the JobManager and the
TaskManagers; users reach ``Configuration`` as ``weir.common.Configuration``."""

from weir.config.configuration import ConfigError, Configuration
from weir.config.durations import parse_duration_ms
from weir.config.task_cancellation import TaskCancellation

__all__ = ["ConfigError", "Configuration", "TaskCancellation", "parse_duration_ms"]
