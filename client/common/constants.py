"""Constants shared by the API and the runtime (``pyflink.common.constants``)."""

from __future__ import annotations

__all__ = ["MAX_LONG_VALUE", "MIN_LONG_VALUE"]

# Event time is a Java long in Flink: the watermark that fires everything is the
# largest long, and "no timestamp / no watermark yet" is the smallest.
MAX_LONG_VALUE = 2**63 - 1
MIN_LONG_VALUE = -(2**63)
