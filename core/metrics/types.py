"""The metric kinds, as in Flink and PyFlink: counter, gauge, meter, histogram/distribution.

Updates are plain attribute arithmetic on the task's thread (runtime code bumps them once
per batch, not per record). Everything derived — rates, quantiles — is computed when a
reporter reads the metric (at scrape time, on the reporter's thread); reads of an int or a
list copy are atomic under the GIL, so no lock is needed.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

__all__ = [
    "HISTOGRAM_QUANTILES",
    "Counter",
    "Distribution",
    "Gauge",
    "Histogram",
    "Meter",
    "MeterView",
    "Metric",
]

# The quantiles Flink's Prometheus reporter exports for a histogram.
HISTOGRAM_QUANTILES = (0.5, 0.75, 0.95, 0.98, 0.99, 0.999)


class Metric:
    """Base of every metric kind."""


class Counter(Metric):
    """A count that goes up (and, rarely, down)."""

    __slots__ = ("_count",)

    def __init__(self) -> None:
        self._count = 0

    def inc(self, n: int = 1) -> None:
        self._count += n

    def dec(self, n: int = 1) -> None:
        self._count -= n

    def get_count(self) -> int:
        return self._count


class Gauge(Metric):
    """A value read when reported: ``obj()`` is called on the reporter's thread, so it
    must only read (an attribute, a ``len``)."""

    __slots__ = ("_read",)

    def __init__(self, obj: Callable[[], float | int | bool | None]) -> None:
        self._read = obj

    def get_value(self) -> float | int | bool | None:
        return self._read()


class MeterView(Metric):
    """Events per second over the last ``time_span_s`` seconds, of a count read lazily.

    Flink's ``MeterView`` samples its counter every few seconds on a timer thread; this
    one samples when it is read (at most once a second), so an unread meter costs nothing.
    The first read averages over the time since the meter was created.
    """

    def __init__(self, count: Callable[[], int | float], time_span_s: int = 60,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._count = count
        self._time_span_s = max(1, time_span_s)
        self._clock = clock
        self._samples: deque[tuple[float, float]] = deque([(clock(), float(count()))])

    def get_count(self) -> int:
        return int(self._count())

    def get_rate(self) -> float:
        now, count = self._clock(), float(self._count())
        samples = self._samples
        while len(samples) > 1 and now - samples[1][0] >= self._time_span_s:
            samples.popleft()
        first_time, first_count = samples[0]
        if now - samples[-1][0] >= 1.0:
            samples.append((now, count))
        elapsed = now - first_time
        return (count - first_count) / elapsed if elapsed > 0 else 0.0


class Meter(MeterView):
    """PyFlink's ``Meter``: ``mark_event(n)`` counts events; the rate is per second over
    ``time_span_in_seconds``."""

    def __init__(self, time_span_in_seconds: int = 60) -> None:
        self._events = 0
        super().__init__(lambda: self._events, time_span_in_seconds)

    def mark_event(self, value: int = 1) -> None:
        self._events += value


class Histogram(Metric):
    """The last ``window_size`` values (Flink's ``DescriptiveStatisticsHistogram``):
    quantiles, min, max and mean over them, and the count and sum of every value."""

    def __init__(self, window_size: int = 1024) -> None:
        self._values: deque[float] = deque(maxlen=window_size)
        self._count = 0
        self._sum = 0.0

    def update(self, value: float) -> None:
        self._values.append(value)
        self._count += 1
        self._sum += value

    def get_count(self) -> int:
        return self._count

    def get_sum(self) -> float:
        return self._sum

    def quantiles(self, quantiles: tuple[float, ...] = HISTOGRAM_QUANTILES
                  ) -> dict[float, float]:
        """Each quantile of the window (nearest rank); NaN when it holds no value."""
        values = sorted(self._values)
        if not values:
            return {q: math.nan for q in quantiles}
        last = len(values) - 1
        return {q: values[min(last, max(0, math.ceil(q * len(values)) - 1))]
                for q in quantiles}


class Distribution(Histogram):
    """PyFlink's ``Distribution`` (``update(value)``), reported as a histogram."""
