"""Durations in Flink's configuration syntax ("500 ms", "10 s", "1 min")."""

from __future__ import annotations

import re

from weir.config.configuration import ConfigError

__all__ = ["parse_duration_ms"]

_UNIT_MS: dict[str, float] = {
    **dict.fromkeys(("d", "day", "days"), 86_400_000),
    **dict.fromkeys(("h", "hour", "hours"), 3_600_000),
    **dict.fromkeys(("min", "m", "minute", "minutes"), 60_000),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1000),
    **dict.fromkeys(("ms", "milli", "millis", "millisecond", "milliseconds"), 1),
    **dict.fromkeys(("µs", "us", "micro", "micros", "microsecond", "microseconds"), 1e-3),
    **dict.fromkeys(("ns", "nano", "nanos", "nanosecond", "nanoseconds"), 1e-6),
}
_DURATION = re.compile(r"\s*(\d+)\s*([^\d\s]*)\s*")


def parse_duration_ms(value: str, key: str = "duration") -> int:
    """Milliseconds of a duration in Flink's syntax: a non-negative integer and an optional
    unit ("500 ms", "10s", "1 min", "2 h", "1 d"); a plain number is milliseconds.
    Sub-millisecond units are rounded down.

    Raises:
        ConfigError: naming ``key``, when ``value`` is not such a duration.
    """
    match = _DURATION.fullmatch(str(value))
    unit = match.group(2).lower() if match else ""
    if match is None or (unit and unit not in _UNIT_MS):
        raise ConfigError(
            f"configuration '{key}' must be a duration such as '500 ms', '10 s', '1 min' or "
            f"'2 h' (a plain number is milliseconds), got {value!r}")
    return int(int(match.group(1)) * _UNIT_MS[unit or "ms"])
