"""The benchmark workloads W1 and W2, as weir jobs and as plain-Python loops.

Event i = (user_id = (i*7919) % 10000, ts_ms = 1_700_000_000_000 + i, amount = (i % 100) * 0.5).

- W1: key by (user, 1-minute window) and reduce (count, sum of amount); every
  result (each rolling update) goes to a counting sink.
- W2: map amount*2, keep even users, counting sink.

The counting sink writes each subtask's (count, checksum) to a file when it
closes; the checksum is the sum of one field of every result.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from weir.common import WatermarkStrategy
from weir.datastream import SinkFunction, StreamExecutionEnvironment
from weir.datastream.connectors.number_seq import NumberSequenceSource

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


def build_w1(env: StreamExecutionEnvironment, n: int, out_dir: str) -> None:
    (env.from_source(NumberSequenceSource(0, n - 1), WatermarkStrategy.no_watermarks(), "events")
        .map(event)
        .map(lambda e: (e[0], e[1] // 60000, 1, e[2]))
        .key_by(lambda r: (r[0], r[1]))
        .reduce(lambda a, b: (a[0], a[1], a[2] + b[2], a[3] + b[3]))
        .add_sink(CountingSink(out_dir, 2)))


def build_w2(env: StreamExecutionEnvironment, n: int, out_dir: str) -> None:
    (env.from_source(NumberSequenceSource(0, n - 1), WatermarkStrategy.no_watermarks(), "events")
        .map(event)
        .map(lambda e: (e[0], e[1], e[2] * 2))
        .filter(lambda e: e[0] % 2 == 0)
        .add_sink(CountingSink(out_dir, 2)))


def plain_w1(n: int) -> tuple[int, float]:
    """The same rolling reduce in one loop: (results, sum of counts of all results)."""
    table: dict[tuple[int, int], tuple[int, float]] = {}
    results = 0
    checksum = 0
    for i in range(n):
        user, ts, amount = (i * 7919) % 10000, TS0 + i, (i % 100) * 0.5
        key = (user, ts // 60000)
        acc = table.get(key)
        acc = (1, amount) if acc is None else (acc[0] + 1, acc[1] + amount)
        table[key] = acc
        results += 1
        checksum += acc[0]
    return results, float(checksum)


def plain_w2(n: int) -> tuple[int, float]:
    results = 0
    checksum = 0.0
    for i in range(n):
        user, ts, amount = (i * 7919) % 10000, TS0 + i, (i % 100) * 0.5
        doubled = amount * 2
        if user % 2 == 0:
            results += 1
            checksum += doubled
    return results, checksum


WORKLOADS = {"W1": (build_w1, plain_w1), "W2": (build_w2, plain_w2)}
