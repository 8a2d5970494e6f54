"""Connected streams on the cluster at parallelism 1, 2 and 4: CoMap, CoFlatMap, CoProcess
and KeyedCoProcess (keyed state and timers shared by both inputs; the two inputs'
watermarks combined), each against a plain-Python oracle."""

from __future__ import annotations

import collections
import re
import sys
from pathlib import Path

import cloudpickle
import pytest

from tests.fixtures.state_backends import BACKENDS
from tests.integration.test_pipelines import PARALLELISM, collect, environment, numbers
from weir.datastream import (
    CoFlatMapFunction,
    CoMapFunction,
    CoProcessFunction,
    KeyedCoProcessFunction,
)
from weir.datastream.state import ValueStateDescriptor

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))

import dimension_enrichment  # the example's generators are the oracle's input

cloudpickle.register_pickle_by_value(dimension_enrichment)  # as when run as a script

N = 6_000
END_OF_INPUT = 2**62  # an event-time timer there fires when the input ends


class Tag(CoMapFunction):
    def map1(self, value):
        return "number", value * 2

    def map2(self, value):
        return "word", value.upper()


class Split(CoFlatMapFunction):
    def flat_map1(self, value):
        return [value] * (value % 3)

    def flat_map2(self, value):
        yield from value


class Sides(CoProcessFunction):
    def process_element1(self, value, ctx):
        yield 1, value

    def process_element2(self, value, ctx):
        if value % 2:
            yield 2, value


def words(env, count: int):
    return env.from_collection([f"w{i}" for i in range(count)])


@pytest.mark.parametrize("parallelism", PARALLELISM)
def test_co_map_co_flat_map_and_co_process_see_each_input(cluster, parallelism):
    env = environment(parallelism)
    mapped = numbers(env, 0, N - 1).connect(words(env, 500)).map(Tag())
    flat = numbers(env, 0, N - 1).connect(words(env, 500)).flat_map(Split())
    processed = numbers(env, 0, N - 1).connect(numbers(env, N, 2 * N - 1)).process(Sides())
    got = collect(mapped.union(flat.map(lambda x: ("flat", x)),
                               processed.map(lambda x: ("process", x))))
    expected = [("number", x * 2) for x in range(N)] + \
        [("word", f"W{i}") for i in range(500)] + \
        [("flat", x) for x in range(N) for _ in range(x % 3)] + \
        [("flat", c) for i in range(500) for c in f"w{i}"] + \
        [("process", (1, x)) for x in range(N)] + \
        [("process", (2, x)) for x in range(N, 2 * N) if x % 2]
    assert collections.Counter(got) == collections.Counter(expected)


class CountBothSides(CoMapFunction):
    """On keyed connected streams a CoMapFunction has keyed state: a count per key over
    both inputs; whatever the interleaving, key k emits the counts 1..n_k once each."""

    def open(self, runtime_context) -> None:
        self.count = runtime_context.get_state(ValueStateDescriptor("count"))

    def _next(self, key):
        self.count.update((self.count.value() or 0) + 1)
        return key, self.count.value()

    def map1(self, value):
        return self._next(value % 7)

    def map2(self, value):
        return self._next(value % 5)


@pytest.mark.parametrize("parallelism", PARALLELISM)
def test_co_map_on_keyed_streams_shares_the_keys_state(cluster, parallelism):
    env = environment(parallelism)
    stream = numbers(env, 0, N - 1).connect(numbers(env, N, 2 * N - 1)) \
        .key_by(lambda x: x % 7, lambda x: x % 5).map(CountBothSides())
    per_key = collections.Counter(x % 7 for x in range(N)) + \
        collections.Counter(x % 5 for x in range(N, 2 * N))
    expected = [(k, c) for k, n in per_key.items() for c in range(1, n + 1)]
    assert collections.Counter(collect(stream)) == collections.Counter(expected)


class Totals(KeyedCoProcessFunction):
    """Per key: the sum of the first input and the count of the second, in keyed state;
    one end-of-input timer per key reports both."""

    def open(self, runtime_context) -> None:
        self.total = runtime_context.get_state(ValueStateDescriptor("total"))
        self.seen = runtime_context.get_state(ValueStateDescriptor("seen"))

    def process_element1(self, value, ctx):
        self.total.update((self.total.value() or 0) + value)
        ctx.timer_service().register_event_time_timer(END_OF_INPUT)

    def process_element2(self, value, ctx):
        self.seen.update((self.seen.value() or 0) + 1)
        ctx.timer_service().register_event_time_timer(END_OF_INPUT)

    def on_timer(self, timestamp, ctx):
        yield ctx.get_current_key(), self.total.value() or 0, self.seen.value() or 0


@pytest.mark.parametrize("parallelism", PARALLELISM)
@pytest.mark.parametrize("backend", BACKENDS)
def test_keyed_co_process_has_one_state_and_timer_per_key(cluster, parallelism, backend):
    env = environment(parallelism, backend)
    stream = numbers(env, 0, N - 1).connect(numbers(env, 0, N // 2 - 1)) \
        .key_by(lambda x: x % 11, lambda x: x % 13).process(Totals())
    totals = collections.Counter()
    seen = collections.Counter()
    for x in range(N):
        totals[x % 11] += x
    for x in range(N // 2):
        seen[x % 13] += 1
    expected = {(k, totals[k], seen[k]) for k in set(totals) | set(seen)}
    got = collect(stream)
    assert sorted(got) == sorted(expected)


def enrichment_oracle(orders: int) -> list[str]:
    """Each order priced with its item's latest price change at or before the order."""
    history = collections.defaultdict(list)
    for i in range(dimension_enrichment.price_changes_for(orders)):
        item, price, ts = dimension_enrichment.price_change(i)
        history[item].append((ts, price))
    lines = []
    for i in range(orders):
        order_id, item, quantity, ts = dimension_enrichment.order(i)
        price = max(h for h in history[item] if h[0] <= ts)[1]
        lines.append(f"order {order_id}: {quantity} x item {item} at {price / 100:.2f} = "
                     f"{quantity * price / 100:.2f}")
    return lines


@pytest.mark.parametrize("parallelism", PARALLELISM)
def test_dimension_enrichment_prices_orders_as_of_their_time(cluster, capsys, parallelism):
    orders = 8_000
    dimension_enrichment.dimension_enrichment(orders, parallelism)
    lines = [re.sub(r"^\d+> ", "", line) for line in capsys.readouterr().out.splitlines()
             if "order " in line]
    assert collections.Counter(lines) == collections.Counter(enrichment_oracle(orders))
