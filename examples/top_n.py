"""Top-N best-selling items: every 100 orders (a global window with a count trigger) and per
1-minute tumbling event-time window.

    python examples/top_n.py
    weir run examples/top_n.py -- --orders 5000 --n 5
"""

import argparse
from collections import Counter
from datetime import UTC, datetime

from weir.common import Time, WatermarkStrategy
from weir.datastream import (
    AggregateFunction,
    ProcessAllWindowFunction,
    StreamExecutionEnvironment,
)
from weir.datastream.window import (
    CountTrigger,
    GlobalWindows,
    PurgingTrigger,
    TumblingEventTimeWindows,
)

START_MS = 1_700_000_040_000
ITEMS = ("tea", "coffee", "cocoa", "juice", "water", "soda", "milk", "kefir")


def order(i: int) -> tuple[int, str, int, int]:
    """Order i: (order id, item, quantity, ts_ms), one every 150 ms; popularity drifts."""
    drift = i // 400
    item = ITEMS[(i * i + drift) % 7 % len(ITEMS)] if i % 3 else ITEMS[drift % len(ITEMS)]
    return i, item, 1 + i % 4, START_MS + i * 150


def top(counts: Counter, n: int) -> str:
    return ", ".join(f"{item} x{quantity}" for item, quantity in counts.most_common(n))


class ItemQuantities(AggregateFunction):
    def create_accumulator(self) -> Counter:
        return Counter()

    def add(self, value: tuple[int, str, int, int], accumulator: Counter) -> Counter:
        accumulator[value[1]] += value[2]
        return accumulator

    def get_result(self, accumulator: Counter) -> Counter:
        return accumulator

    def merge(self, acc_a: Counter, acc_b: Counter) -> Counter:
        return acc_a + acc_b


class TopOfEveryHundred(ProcessAllWindowFunction):
    def __init__(self, n: int) -> None:
        self.n = n

    def process(self, context: ProcessAllWindowFunction.Context, elements):
        orders = list(elements)
        first, last = min(o[0] for o in orders), max(o[0] for o in orders)
        counts: Counter = Counter()
        for _, item, quantity, _ in orders:
            counts[item] += quantity
        yield f"orders {first:>4}-{last:>4}: top {self.n}: {top(counts, self.n)}"


class TopOfTheMinute(ProcessAllWindowFunction):
    def __init__(self, n: int) -> None:
        self.n = n

    def process(self, context: ProcessAllWindowFunction.Context, elements):
        start = datetime.fromtimestamp(context.window().start / 1000, UTC)
        yield f"minute {start:%H:%M}: top {self.n}: {top(next(iter(elements)), self.n)}"


def top_n(orders: int, n: int) -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    stream = env.from_collection([order(i) for i in range(orders)]) \
        .assign_timestamps_and_watermarks(
            WatermarkStrategy.for_monotonous_timestamps()
            .with_timestamp_assigner(lambda o, _: o[3]))
    every_hundred = (stream.window_all(GlobalWindows.create())
                     .trigger(PurgingTrigger.of(CountTrigger.of(100)))
                     .process(TopOfEveryHundred(n)))
    every_minute = (stream.window_all(TumblingEventTimeWindows.of(Time.minutes(1)))
                    .aggregate(ItemQuantities(), window_function=TopOfTheMinute(n)))
    every_hundred.union(every_minute).print()
    result = env.execute("top_n")
    print(f"top_n: {orders} orders in {result.get_net_runtime() / 1000:.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1200)
    parser.add_argument("--n", type=int, default=3)
    args = parser.parse_args()
    top_n(args.orders, args.n)
