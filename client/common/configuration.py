"""``Configuration`` (``pyflink.common.configuration``); it lives in ``weir.config``, which
the JobManager and TaskManagers share."""

from weir.config import ConfigError, Configuration

__all__ = ["ConfigError", "Configuration"]
