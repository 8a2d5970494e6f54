"""Common types shared by the APIs (``pyflink.common``)."""

from weir.common.configuration import ConfigError, Configuration
from weir.common.time import Duration, Time
from weir.common.typeinfo import TypeInformation, Types
from weir.common.types import Row
from weir.common.watermark_strategy import TimestampAssigner, WatermarkStrategy

__all__ = [
    "ConfigError",
    "Configuration",
    "Duration",
    "Row",
    "Time",
    "TimestampAssigner",
    "TypeInformation",
    "Types",
    "WatermarkStrategy",
]
