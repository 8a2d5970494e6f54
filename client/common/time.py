"""``Time`` and ``Duration`` (``pyflink.common.time``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from weir.common.configuration import ConfigError

__all__ = ["Duration", "Time", "parse_duration_ms"]


@dataclass(frozen=True)
class Duration:
    """A length of time in milliseconds."""

    millis: int

    @staticmethod
    def of_millis(millis: int) -> Duration:
        return Duration(int(millis))

    @staticmethod
    def of_seconds(seconds: int) -> Duration:
        return Duration(int(seconds) * 1000)

    @staticmethod
    def of_minutes(minutes: int) -> Duration:
        return Duration(int(minutes) * 60_000)

    @staticmethod
    def of_hours(hours: int) -> Duration:
        return Duration(int(hours) * 3_600_000)

    @staticmethod
    def of_days(days: int) -> Duration:
        return Duration(int(days) * 86_400_000)

    @staticmethod
    def zero() -> Duration:
        return Duration(0)

    def to_milliseconds(self) -> int:
        return self.millis


@dataclass(frozen=True)
class Time:
    """A window size or offset in milliseconds."""

    millis: int

    @staticmethod
    def milliseconds(millis: int) -> Time:
        return Time(int(millis))

    @staticmethod
    def seconds(seconds: int) -> Time:
        return Time(int(seconds) * 1000)

    @staticmethod
    def minutes(minutes: int) -> Time:
        return Time(int(minutes) * 60_000)

    @staticmethod
    def hours(hours: int) -> Time:
        return Time(int(hours) * 3_600_000)

    @staticmethod
    def days(days: int) -> Time:
        return Time(int(days) * 86_400_000)

    def to_milliseconds(self) -> int:
        return self.millis


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
