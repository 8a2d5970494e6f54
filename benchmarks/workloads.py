"""The benchmark workloads W1 and W2, as weir jobs and as plain-Python loops.

Event i = (user_id = (i*7919) % 10000, ts_ms = 1_700_000_000_000 + i, amount = (i % 100) * 0.5).

- W1: event time ts_ms (monotonous watermarks), key by user, 1-minute tumbling
  event-time windows, ``aggregate`` (count, sum of amount, count squared) per
  window; one result per (user, window) goes to a counting sink.
- W2: map amount*2, keep even users, counting sink.

The counting sink writes each subtask's (count, checksum) to a file when it
closes; the checksum is the sum of one field of every result.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from weir.common import Time, WatermarkStrategy
from weir.datastream import AggregateFunction, SinkFunction, StreamExecutionEnvironment
from weir.datastream.connectors.number_seq import NumberSequenceSource
from weir.datastream.window import TumblingEventTimeWindows

TS0 = 1_700_000_000_000


def event(i: int) -> tuple[int, int, float]:
    return ((i * 7919) % 10000, TS0 + i, (i % 100) * 0.5)


class CountingSink(SinkFunction):
    """Counts results and sums field ``field`` of each; writes both to ``out_dir`` on close."""

    def __init__(self, out_dir: str, field: int) -> None:
        self.out_dir = out_dir
        self.field = field

    def open(self, runtime_context: Any) -> None:
        self.count = 0
        self.checksum = 0.0
        self.subtask = runtime_context.get_index_of_this_subtask()

    def invoke(self, value: Any, context: Any) -> None:
        self.count += 1
        self.checksum += value[self.field]

    def close(self) -> None:
        path = Path(self.out_dir) / f"subtask-{self.subtask}.json"
        path.write_text(json.dumps({"count": self.count, "checksum": self.checksum}))


def read_counts(out_dir: str) -> tuple[int, float]:
    parts = [json.loads(p.read_text()) for p in Path(out_dir).glob("subtask-*.json")]
    return sum(p["count"] for p in parts), sum(p["checksum"] for p in parts)


def event_time(i: int, record_timestamp: int) -> int:
    return TS0 + i


class CountAndSum(AggregateFunction):
    """(count, sum of amount, count squared) of a window: the square makes the checksum
    depend on how records were grouped into windows."""

    def create_accumulator(self) -> tuple[int, float]:
        return 0, 0.0

    def add(self, value: tuple[int, int, float], accumulator: tuple[int, float]
            ) -> tuple[int, float]:
        return accumulator[0] + 1, accumulator[1] + value[2]

    def get_result(self, accumulator: tuple[int, float]) -> tuple[int, float, int]:
        return accumulator[0], accumulator[1], accumulator[0] * accumulator[0]

    def merge(self, a: tuple[int, float], b: tuple[int, float]) -> tuple[int, float]:
        return a[0] + b[0], a[1] + b[1]


def build_w1(env: StreamExecutionEnvironment, n: int, out_dir: str) -> None:
    strategy = WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(event_time)
    (env.from_source(NumberSequenceSource(0, n - 1), strategy, "events")
        .map(event)
        .key_by(lambda e: e[0])
        .window(TumblingEventTimeWindows.of(Time.minutes(1)))
        .aggregate(CountAndSum())
        .add_sink(CountingSink(out_dir, 2)))


def build_w2(env: StreamExecutionEnvironment, n: int, out_dir: str) -> None:
    (env.from_source(NumberSequenceSource(0, n - 1), WatermarkStrategy.no_watermarks(), "events")
        .map(event)
        .map(lambda e: (e[0], e[1], e[2] * 2))
        .filter(lambda e: e[0] % 2 == 0)
        .add_sink(CountingSink(out_dir, 2)))


def plain_w1(n: int, start: int = 0, step: int = 1) -> tuple[int, float]:
    """The same windows in one loop: (windows with results, sum of squared counts).
    ``start``, ``step``: only events start, start + step, ... (a share of a split loop)."""
    table: dict[tuple[int, int], tuple[int, float]] = {}
    for i in range(start, n, step):
        user, ts, amount = (i * 7919) % 10000, TS0 + i, (i % 100) * 0.5
        key = (user, ts - ts % 60000)
        acc = table.get(key)
        table[key] = (1, amount) if acc is None else (acc[0] + 1, acc[1] + amount)
    return len(table), float(sum(count * count for count, _ in table.values()))


def plain_w2(n: int, start: int = 0, step: int = 1) -> tuple[int, float]:
    results = 0
    checksum = 0.0
    for i in range(start, n, step):
        user, _, amount = (i * 7919) % 10000, TS0 + i, (i % 100) * 0.5
        doubled = amount * 2
        if user % 2 == 0:
            results += 1
            checksum += doubled
    return results, checksum


WORKLOADS = {"W1": (build_w1, plain_w1), "W2": (build_w2, plain_w2)}
