"""Latency tracking's option (Flink's ``metrics.latency.interval``, off by default)."""

from __future__ import annotations

from collections.abc import Mapping

from weir.config import parse_duration_ms

__all__ = ["LATENCY_INTERVAL", "latency_interval_ms"]

LATENCY_INTERVAL = "metrics.latency.interval"


def latency_interval_ms(configuration: Mapping[str, str]) -> int:
    """How often sources send latency markers, in ms (0: never).

    Raises:
        ConfigError: naming the key, when the value is not a duration.
    """
    return parse_duration_ms(configuration.get(LATENCY_INTERVAL, "0"), LATENCY_INTERVAL)
