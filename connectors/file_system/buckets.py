"""Which bucket (sub-directory of the base path) a ``FileSink`` writes each record to."""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["BasePathBucketAssigner", "BucketAssigner", "BucketAssignerContext",
           "DateTimeBucketAssigner", "java_date_time_formatter"]


@dataclass(frozen=True)
class BucketAssignerContext:
    """What a bucket assigner may use besides the record (Flink's ``BucketAssigner.Context``)."""

    processing_time_ms: int

    def current_processing_time(self) -> int:
        return self.processing_time_ms


class BucketAssigner(abc.ABC):
    """Assigns each record a bucket id: the path of its directory below the base path
    (``""`` for the base path itself, ``"a/b"`` for nested directories)."""

    @abc.abstractmethod
    def get_bucket_id(self, element: Any, context: BucketAssignerContext) -> str: ...

    def assign_batch(self, elements: list[Any],
                     context: BucketAssignerContext) -> dict[str, list[Any]]:
        """The batch's records by bucket id, each list in record order."""
        buckets: dict[str, list[Any]] = {}
        get_bucket_id = self.get_bucket_id
        for element in elements:
            bucket_id = get_bucket_id(element, context)
            records = buckets.get(bucket_id)
            if records is None:
                buckets[bucket_id] = [element]
            else:
                records.append(element)
        return buckets

    @staticmethod
    def base_path_bucket_assigner() -> BasePathBucketAssigner:
        """Every record goes to the base path itself (no bucketing)."""
        return BasePathBucketAssigner()

    @staticmethod
    def date_time_bucket_assigner(format_str: str = "yyyy-MM-dd--HH",
                                  timezone_id: str | None = None) -> DateTimeBucketAssigner:
        """Buckets by processing time, formatted with a Java ``DateTimeFormatter`` pattern."""
        return DateTimeBucketAssigner(format_str, timezone_id)


class BasePathBucketAssigner(BucketAssigner):
    """Writes every record to the base path (Flink's ``BasePathBucketAssigner``)."""

    def get_bucket_id(self, element: Any, context: BucketAssignerContext) -> str:
        return ""

    def assign_batch(self, elements: list[Any],
                     context: BucketAssignerContext) -> dict[str, list[Any]]:
        return {"": elements}


class DateTimeBucketAssigner(BucketAssigner):
    """One bucket per period of processing time (Flink's ``DateTimeBucketAssigner``).

    ``format_str`` is a Java ``DateTimeFormatter`` pattern (default
    ``yyyy-MM-dd--HH``: a bucket per hour). ``timezone_id`` is an IANA zone name
    such as ``"Europe/Berlin"``; unlike Flink, which uses the machine's zone,
    the default is UTC, so every TaskManager names buckets the same way.
    """

    def __init__(self, format_str: str = "yyyy-MM-dd--HH", timezone_id: str | None = None) -> None:
        self.format_str = format_str
        self.timezone_id = timezone_id or "UTC"
        self._set_up()

    def _set_up(self) -> None:
        try:
            self._zone = ZoneInfo(self.timezone_id)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"date_time_bucket_assigner: unknown time zone "
                             f"{self.timezone_id!r}") from None
        self._format = java_date_time_formatter(self.format_str)

    def get_bucket_id(self, element: Any, context: BucketAssignerContext) -> str:
        return self._bucket_at(context.processing_time_ms)

    def assign_batch(self, elements: list[Any],
                     context: BucketAssignerContext) -> dict[str, list[Any]]:
        return {self._bucket_at(context.processing_time_ms): elements}

    def _bucket_at(self, time_ms: int) -> str:
        return self._format(dt.datetime.fromtimestamp(time_ms / 1000, self._zone))

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the settings only; the formatter is rebuilt from them."""
        return {"format_str": self.format_str, "timezone_id": self.timezone_id}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._set_up()


_FIELDS: dict[str, Callable[[dt.datetime, int], str]] = {
    "y": lambda t, n: f"{t.year % 100:02d}" if n == 2 else f"{t.year:0{n}d}",
    "u": lambda t, n: f"{t.year % 100:02d}" if n == 2 else f"{t.year:0{n}d}",
    "M": lambda t, n: (t.strftime("%B") if n >= 4 else t.strftime("%b") if n == 3
                       else f"{t.month:0{n}d}"),
    "d": lambda t, n: f"{t.day:0{n}d}",
    "D": lambda t, n: f"{t.timetuple().tm_yday:0{n}d}",
    "H": lambda t, n: f"{t.hour:0{n}d}",
    "h": lambda t, n: f"{(t.hour % 12) or 12:0{n}d}",
    "m": lambda t, n: f"{t.minute:0{n}d}",
    "s": lambda t, n: f"{t.second:0{n}d}",
    "S": lambda t, n: f"{t.microsecond:06d}"[:n].ljust(n, "0"),
    "a": lambda t, n: "AM" if t.hour < 12 else "PM",
    "E": lambda t, n: t.strftime("%A") if n >= 4 else t.strftime("%a"),
}


def java_date_time_formatter(pattern: str) -> Callable[[dt.datetime], str]:
    """A formatter for a Java ``DateTimeFormatter`` pattern such as ``yyyy-MM-dd--HH``.

    Supports the letters y u M d D H h m s S a E; text in single quotes is literal
    (``''`` is a quote); other non-letters are literal. Other letters raise
    ``ValueError`` so a typo fails when the job is built, not in the sink.
    """
    parts: list[str | tuple[Callable[[dt.datetime, int], str], int]] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "'":
            text, i = _quoted(pattern, i)
            parts.append(text)
        elif char.isascii() and char.isalpha():
            run = len(pattern[i:]) - len(pattern[i:].lstrip(char))
            if char not in _FIELDS:
                raise ValueError(f"date-time pattern {pattern!r}: unsupported letter {char!r} "
                                 f"(supported: {' '.join(_FIELDS)}; quote literal text)")
            parts.append((_FIELDS[char], run))
            i += run
        else:
            parts.append(char)
            i += 1

    def format_time(time: dt.datetime) -> str:
        return "".join(p if isinstance(p, str) else p[0](time, p[1]) for p in parts)

    return format_time


def _quoted(pattern: str, start: int) -> tuple[str, int]:
    """The literal text of the quote at ``start`` and the index after it (``''`` is a quote)."""
    if pattern.startswith("''", start):
        return "'", start + 2
    text = []
    i = start + 1
    while i < len(pattern):
        if pattern.startswith("''", i):
            text.append("'")
            i += 2
        elif pattern[i] == "'":
            return "".join(text), i + 1
        else:
            text.append(pattern[i])
            i += 1
    raise ValueError(f"date-time pattern {pattern!r}: unterminated quote")
