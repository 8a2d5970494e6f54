"""Common types shared by the APIs (``pyflink.common``)."""

from weir.common.restart_strategy import RestartStrategies, RestartStrategyConfiguration
from weir.common.serialization import (
    DeserializationSchema,
    Encoder,
    SerializationSchema,
    SimpleStringSchema,
)
from weir.common.time import Duration, Time
from weir.common.typeinfo import TypeInformation, Types
from weir.common.types import Row
from weir.common.watermark_strategy import TimestampAssigner, WatermarkStrategy
from weir.config import ConfigError, Configuration

__all__ = [
    "ConfigError",
    "Configuration",
    "DeserializationSchema",
    "Duration",
    "Encoder",
    "RestartStrategies",
    "RestartStrategyConfiguration",
    "Row",
    "SerializationSchema",
    "SimpleStringSchema",
    "Time",
    "TimestampAssigner",
    "TypeInformation",
    "Types",
    "WatermarkStrategy",
]
