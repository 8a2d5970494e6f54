"""Joins on the cluster at parallelism 1, 2 and 4: the interval join and the window join
(with a JoinFunction, a FlatJoinFunction and as a co-group) on every state backend, and the
order-payment example, each result and its timestamp against a nested loop over both
inputs."""

from __future__ import annotations

import collections
import re
import sys
from pathlib import Path

import cloudpickle
import pytest

from tests.fixtures.state_backends import BACKENDS
from tests.integration.test_pipelines import PARALLELISM, collect, environment
from weir.common import Duration, Time, WatermarkStrategy
from weir.datastream import (
    CoGroupFunction,
    FlatJoinFunction,
    ProcessFunction,
    ProcessJoinFunction,
)
from weir.datastream.connectors.datagen import DataGeneratorSource
from weir.datastream.window import TumblingEventTimeWindows

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))

import order_payment_join  # the example's generators are the oracle's input

cloudpickle.register_pickle_by_value(order_payment_join)  # as when run as a script

LEFT, RIGHT = 3_000, 2_000
OUT_OF_ORDERNESS_MS = 50
WINDOW_MS = 1_000


def left_element(i: int) -> tuple[str, int, int]:
    """(side, key, ts_ms): one every 10 ms, up to 49 ms out of order, 13 keys."""
    return "L", i % 13, i * 10 - (i * 7919) % OUT_OF_ORDERNESS_MS


def right_element(i: int) -> tuple[str, int, int]:
    """One every 15 ms over the same event time as the left ones, 11 keys."""
    return "R", (i * 7) % 11, i * 15 - (i * 104_729) % OUT_OF_ORDERNESS_MS


def element_stream(env, generator, count: int):
    watermarks = WatermarkStrategy \
        .for_bounded_out_of_orderness(Duration.of_millis(OUT_OF_ORDERNESS_MS)) \
        .with_timestamp_assigner(lambda element, _: element[2])
    return env.from_source(DataGeneratorSource(generator, count), watermarks,
                           generator.__name__)


def both_inputs(env):
    return element_stream(env, left_element, LEFT), element_stream(env, right_element, RIGHT)


class WithTimestamp(ProcessFunction):
    def process_element(self, value, ctx):
        yield value, ctx.timestamp()


class Pair(ProcessJoinFunction):
    def process_element(self, left, right, ctx):
        assert ctx.get_timestamp() == max(left[2], right[2])
        yield left, right, ctx.get_left_timestamp(), ctx.get_right_timestamp()


@pytest.mark.parametrize("parallelism", PARALLELISM)
@pytest.mark.parametrize("backend", BACKENDS)
def test_interval_join_matches_a_nested_loop(cluster, parallelism, backend):
    env = environment(parallelism, backend)
    left, right = both_inputs(env)
    joined = left.key_by(lambda e: e[1]).interval_join(right.key_by(lambda e: e[1])) \
        .between(Time.milliseconds(-300), Time.milliseconds(200)).upper_bound_exclusive() \
        .process(Pair())
    got = collect(joined.process(WithTimestamp()))
    lefts = [left_element(i) for i in range(LEFT)]
    rights = [right_element(i) for i in range(RIGHT)]
    expected = [((a, b, a[2], b[2]), max(a[2], b[2])) for a in lefts for b in rights
                if a[1] == b[1] and a[2] - 300 <= b[2] < a[2] + 200]
    assert len(expected) > 5_000
    assert collections.Counter(got) == collections.Counter(expected)


class Both(FlatJoinFunction):
    def join(self, first, second):
        if (first[2] + second[2]) % 3:
            yield "flat", first
            yield "flat", second


class Summary(CoGroupFunction):
    """Order-free facts of a key's window: the two sides' counts and timestamp sums."""

    def co_group(self, first, second):
        first, second = list(first), list(second)
        key = (first or second)[0][1]
        yield ("co-group", key, len(first), sum(e[2] for e in first), len(second),
               sum(e[2] for e in second))


@pytest.mark.parametrize("parallelism", PARALLELISM)
@pytest.mark.parametrize("backend", BACKENDS)
def test_window_join_flat_join_and_co_group_match_nested_loops(cluster, parallelism, backend):
    env = environment(parallelism, backend)
    left, right = both_inputs(env)
    windows = TumblingEventTimeWindows.of(Time.milliseconds(WINDOW_MS))

    def keyed(operation):
        return operation.where(lambda e: e[1]).equal_to(lambda e: e[1]).window(windows)

    joined = keyed(left.join(right)).apply(lambda a, b: ("join", a, b))
    flat = keyed(left.join(right)).apply(Both())
    co_grouped = keyed(left.co_group(right)).apply(Summary())
    got = collect(joined.union(flat, co_grouped).process(WithTimestamp()))

    def window_end(element):  # the results' timestamp: the window's max timestamp
        return element[2] // WINDOW_MS * WINDOW_MS + WINDOW_MS - 1

    lefts = [left_element(i) for i in range(LEFT)]
    rights = [right_element(i) for i in range(RIGHT)]
    expected = []
    for a in lefts:
        for b in rights:
            if a[1] == b[1] and window_end(a) == window_end(b):
                expected.append((("join", a, b), window_end(a)))
                if (a[2] + b[2]) % 3:
                    expected += [(("flat", a), window_end(a)), (("flat", b), window_end(a))]
    groups = collections.defaultdict(lambda: ([], []))
    for side, elements in enumerate((lefts, rights)):
        for e in elements:
            groups[e[1], window_end(e)][side].append(e)
    for (key, end), (first, second) in groups.items():
        expected.append((("co-group", key, len(first), sum(e[2] for e in first), len(second),
                          sum(e[2] for e in second)), end))
    assert any(not first or not second for first, second in groups.values())
    assert collections.Counter(got) == collections.Counter(expected)


def paid_orders_oracle(orders: int) -> list[str]:
    """Each order with each payment of its id that came 0 to 15 minutes after it."""
    within_ms = order_payment_join.PAYMENT_WITHIN.to_milliseconds()
    payments = collections.defaultdict(list)
    for i in range(orders):
        paid_id, _, paid_ts = order_payment_join.payment(i)
        payments[paid_id].append(paid_ts)
    lines = []
    for i in range(orders):
        order_id, user, amount, order_ts = order_payment_join.order(i)
        for paid_ts in payments[order_id]:
            if order_ts <= paid_ts <= order_ts + within_ms:
                lines.append(f"order {order_id} of user {user}: {amount / 100:.2f} paid after "
                             f"{(paid_ts - order_ts) // 1000} s")
    return lines


@pytest.mark.parametrize("parallelism", PARALLELISM)
def test_order_payment_example_joins_orders_paid_within_15_minutes(cluster, capsys,
                                                                  parallelism):
    orders = 6_000
    order_payment_join.order_payment_join(orders, parallelism)
    lines = [re.sub(r"^\d+> ", "", line) for line in capsys.readouterr().out.splitlines()
             if line.lstrip("0123456789> ").startswith("order ")]
    expected = paid_orders_oracle(orders)
    assert 0 < len(expected) < orders  # some orders are paid too late
    assert collections.Counter(lines) == collections.Counter(expected)
