"""``Time`` and ``Duration`` (``pyflink.common.time``)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Duration", "Time"]


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
