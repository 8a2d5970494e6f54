"""Two-input operators in-process (the operator harness, every state backend): connected
streams with shared keyed state and timers, broadcast state read-only and read-write, its
snapshot and restore (also after rescaling), each against a plain-Python oracle."""

from __future__ import annotations

import asyncio
import collections
import pickle
import random

import pytest

from tests.fixtures.operator_harness import ChainHarness
from weir.checkpoint.redistribution import RedistributedState
from weir.datastream import (
    BroadcastProcessFunction,
    CoFlatMapFunction,
    CoMapFunction,
    CoProcessFunction,
    KeyedBroadcastProcessFunction,
    KeyedCoProcessFunction,
    OutputTag,
)
from weir.datastream.state import ListStateDescriptor, MapStateDescriptor, ValueStateDescriptor
from weir.graph.operators import (
    BroadcastProcessSpec,
    CoFlatMapSpec,
    CoMapSpec,
    CoProcessSpec,
    KeyedBroadcastProcessSpec,
    KeyedCoProcessSpec,
)
from weir.keygroups import assign_to_key_group
from weir.taskmanager.state.pending_snapshot import PendingSnapshot, SnapshotTarget

WINDOW = 100
RULES = MapStateDescriptor("rules")


def first(record):
    return record[0]


class SumsPerWindow(KeyedCoProcessFunction):
    """Sums each key's values of both inputs per window in keyed state; every record emits
    the key's running sums, the end-of-window timer emits and clears them."""

    def open(self, runtime_context) -> None:
        self.left = runtime_context.get_state(ValueStateDescriptor("left"))
        self.right = runtime_context.get_state(ValueStateDescriptor("right"))

    def _add(self, state, value, ctx):
        state.update((state.value() or 0) + value[1])
        ctx.timer_service().register_event_time_timer(ctx.timestamp() // WINDOW * WINDOW
                                                      + WINDOW - 1)
        yield ctx.get_current_key(), self.left.value() or 0, self.right.value() or 0

    def process_element1(self, value, ctx):
        return self._add(self.left, value, ctx)

    def process_element2(self, value, ctx):
        return self._add(self.right, value, ctx)

    def on_timer(self, timestamp, ctx):
        yield "window", ctx.get_current_key(), timestamp, self.left.value(), self.right.value()
        self.left.clear()
        self.right.clear()


def sums_oracle(script):
    """What SumsPerWindow emits for ``script`` (batches and watermarks), with timestamps."""
    sums: dict[int, list[int]] = collections.defaultdict(lambda: [0, 0])
    timers: set[tuple[int, int]] = set()
    out = []
    for step in script:
        if step[0] == "watermark":
            for timestamp, key in sorted(t for t in timers if t[0] <= step[1]):
                timers.discard((timestamp, key))
                left, right = sums.pop(key, (0, 0))
                out.append((("window", key, timestamp, left or None, right or None), timestamp))
            continue
        side, records = step
        for (key, value), timestamp in records:
            sums[key][side] += value
            timers.add((timestamp // WINDOW * WINDOW + WINDOW - 1, key))
            out.append(((key, *sums[key]), timestamp))
    return out


def random_script(seed: int, steps: int = 60):
    """Batches of either input and rising watermarks: ("watermark", w) or
    (side, [((key, value), timestamp), ...])."""
    rng = random.Random(seed)
    script, now = [], 0
    for _ in range(steps):
        if rng.random() < 0.25:
            script.append(("watermark", now - 20))
            continue
        batch = []
        for _ in range(rng.randint(1, 8)):
            now += rng.randint(0, 7)
            batch.append(((rng.randint(0, 5), rng.randint(1, 9)), now - rng.randint(0, 15)))
        script.append((rng.randint(0, 1), batch))
    return script + [("watermark", now + WINDOW * 2)]


def run_script(harness: ChainHarness, script, first_input_edges: int = 1):
    for step in script:
        if step[0] == "watermark":
            harness.watermark(step[1])
        else:
            side, batch = step
            records, stamps = [r for r, _ in batch], [t for _, t in batch]
            harness.process_input(0 if side == 0 else first_input_edges, records, stamps)
    return harness.emitted


@pytest.mark.parametrize("seed", range(3))
def test_keyed_co_process_shares_keyed_state_and_timers_across_inputs(make_harness, seed):
    script = random_script(seed)
    harness = make_harness(KeyedCoProcessSpec("co", "co", 1, SumsPerWindow(), first, first))
    got = run_script(harness, script)
    assert sorted(got, key=repr) == sorted(sums_oracle(script), key=repr)
    # Each key's outputs in order (timers fire in timestamp order, records as they came):
    by_key = collections.defaultdict(list)
    for record, timestamp in sums_oracle(script):
        by_key[record[1] if record[0] == "window" else record[0]].append((record, timestamp))
    got_by_key = collections.defaultdict(list)
    for record, timestamp in got:
        got_by_key[record[1] if record[0] == "window" else record[0]].append((record, timestamp))
    assert got_by_key == by_key


def test_keyed_co_process_state_survives_a_snapshot(make_harness):
    script = random_script(7)
    cut = len(script) // 2
    harness = make_harness(KeyedCoProcessSpec("co", "co", 2, SumsPerWindow(), first, first))
    run_script(harness, script[:cut], first_input_edges=2)
    restored = make_harness(KeyedCoProcessSpec("co", "co", 2, SumsPerWindow(), first, first),
                            restored=harness.snapshot())
    run_script(restored, script[cut:], first_input_edges=2)
    assert sorted(harness.emitted + restored.emitted, key=repr) == \
        sorted(sums_oracle(script), key=repr)


class Tagged(CoProcessFunction):
    def process_element1(self, value, ctx):
        yield "first", value, ctx.timestamp()

    def process_element2(self, value, ctx):
        yield "second", value, ctx.timestamp()


def test_co_process_tells_the_inputs_apart_by_edge(make_harness):
    # Three edges: the first input is a union of two streams (edges 0 and 1), then the second.
    harness = make_harness(CoProcessSpec("co", "co", 2, Tagged()))
    harness.process_input(1, ["a", "b"], [5, 6])
    harness.process_input(2, ["c"])
    harness.process_input(0, ["d"])
    assert harness.emitted == [(("first", "a", 5), 5), (("first", "b", 6), 6),
                               (("second", "c", None), None), (("first", "d", None), None)]


LATE = OutputTag("late")


class RouteLate(KeyedCoProcessFunction):
    """Side outputs from either input, by ``ctx.output`` and by yielding ``(tag, value)``."""

    def process_element1(self, value, ctx):
        if value[1] < ctx.timer_service().current_watermark():
            ctx.output(LATE, ("first", value))
        else:
            yield value

    def process_element2(self, value, ctx):
        if value[1] < ctx.timer_service().current_watermark():
            yield LATE, ("second", value)
        else:
            yield value


def test_co_process_side_outputs_from_either_input(make_harness):
    harness = make_harness(KeyedCoProcessSpec("co", "co", 1, RouteLate(), first, first),
                           side_outputs=(LATE.tag_id,))
    harness.watermark(10)
    harness.process_input(0, [("a", 5), ("a", 15)], [5, 15])
    harness.process_input(1, [("b", 7), ("b", 17)], [7, 17])
    assert harness.main() == [(("a", 15), 15), (("b", 17), 17)]
    assert harness.side(LATE.tag_id) == [(("first", ("a", 5)), 5), (("second", ("b", 7)), 7)]


class Both(CoMapFunction):
    def map1(self, value):
        return value * 10

    def map2(self, value):
        return -value


class Twice(CoFlatMapFunction):
    def flat_map1(self, value):
        return [value, value]

    def flat_map2(self, value):
        return [] if value % 2 else [value]


def test_co_map_and_co_flat_map_keep_each_records_timestamp(make_harness):
    mapped = make_harness(CoMapSpec("m", "m", 1, Both()))
    mapped.process_input(0, [1, 2], [10, 20])
    mapped.process_input(1, [3])
    assert mapped.emitted == [(10, 10), (20, 20), (-3, None)]
    flat = make_harness(CoFlatMapSpec("f", "f", 1, Twice()))
    flat.process_input(1, [1, 2, 4], [1, 2, 4])
    flat.process_input(0, [7], [7])
    assert flat.emitted == [(2, 2), (4, 4), (7, 7), (7, 7)]


class NoTimers(CoProcessFunction):
    def process_element1(self, value, ctx):
        ctx.timer_service().register_event_time_timer(1)

    def process_element2(self, value, ctx):
        return ()


def test_timers_need_keyed_connected_streams(make_harness):
    harness = make_harness(CoProcessSpec("co", "co", 1, NoTimers()))
    with pytest.raises(RuntimeError, match="only supported on a keyed stream"):
        harness.process_input(0, [1])


# ------------------------------------------------------------------- broadcast state

class Thresholds(BroadcastProcessFunction):
    """Rules ("set", name, limit) / ("drop", name) on the broadcast side; each number of the
    other side emits the rules it exceeds."""

    def process_broadcast_element(self, value, ctx):
        rules = ctx.get_broadcast_state(RULES)
        if value[0] == "set":
            rules.put(value[1], value[2])
        else:
            rules.remove(value[1])
        yield "rule", value

    def process_element(self, value, ctx):
        rules = ctx.get_broadcast_state(RULES)
        yield value, sorted(name for name, limit in rules.items() if value > limit)


def test_broadcast_state_is_written_by_the_broadcast_side_and_read_by_the_other(make_harness):
    harness = make_harness(BroadcastProcessSpec("b", "b", 1, Thresholds(), [RULES]))
    harness.process_input(1, [("set", "big", 10), ("set", "huge", 100)])
    harness.process_input(0, [5, 50, 500])
    harness.process_input(1, [("drop", "big")])
    harness.process_input(0, [500])
    assert [r for r, _ in harness.emitted] == [
        ("rule", ("set", "big", 10)), ("rule", ("set", "huge", 100)),
        (5, []), (50, ["big"]), (500, ["big", "huge"]),
        ("rule", ("drop", "big")), (500, ["huge"])]


def test_broadcast_state_restores_from_a_snapshot_and_after_rescaling(make_harness):
    harness = make_harness(BroadcastProcessSpec("b", "b", 1, Thresholds(), [RULES]))
    harness.process_input(1, [("set", "big", 10)])
    snapshot = harness.snapshot()
    for restored_state in (snapshot["op-0"], RedistributedState([snapshot["op-0"]] * 3)):
        restored = make_harness(BroadcastProcessSpec("b", "b", 1, Thresholds(), [RULES]),
                                restored={"op-0": restored_state})
        restored.process_input(0, [11])
        assert restored.emitted == [((11, ["big"]), None)]


class WritesOnTheWrongSide(BroadcastProcessFunction):
    def process_broadcast_element(self, value, ctx):
        return ()

    def process_element(self, value, ctx):
        ctx.get_broadcast_state(RULES).put("x", value)


class ReadsUndeclaredState(BroadcastProcessFunction):
    def process_broadcast_element(self, value, ctx):
        ctx.get_broadcast_state(MapStateDescriptor("not-declared"))

    def process_element(self, value, ctx):
        return ()


def test_broadcast_state_misuse_fails_with_what_to_fix(make_harness):
    wrong_side = make_harness(BroadcastProcessSpec("b", "b", 1, WritesOnTheWrongSide(), [RULES]))
    with pytest.raises(RuntimeError, match="read-only in process_element"):
        wrong_side.process_input(0, [1])
    undeclared = make_harness(BroadcastProcessSpec("b", "b", 1, ReadsUndeclaredState(), [RULES]))
    with pytest.raises(ValueError, match="The requested state does not exist"):
        undeclared.process_input(1, [1])


class PendingUntilPriced(KeyedBroadcastProcessFunction):
    """Orders (item, qty) wait in keyed state until their item's price is broadcast; a price
    (item, price) prices every waiting order of every key (``apply_to_keyed_state``); an
    event-time timer reports what still waits."""

    def open(self, runtime_context) -> None:
        self.waiting_descriptor = ListStateDescriptor("waiting")
        self.waiting = runtime_context.get_list_state(self.waiting_descriptor)

    def process_element(self, value, ctx):
        price = ctx.get_broadcast_state(RULES).get(value[0])
        if price is not None:
            yield "priced", value, price * value[1]
            return
        self.waiting.add(value)
        ctx.timer_service().register_event_time_timer(1000)

    def process_broadcast_element(self, value, ctx):
        ctx.get_broadcast_state(RULES).put(value[0], value[1])
        priced = []

        def price_waiting(key, state):
            kept = []
            for order in state.get():
                if order[0] == value[0]:
                    priced.append(("priced", order, value[1] * order[1]))
                else:
                    kept.append(order)
            state.update(kept)

        ctx.apply_to_keyed_state(self.waiting_descriptor, price_waiting)
        return priced

    def on_timer(self, timestamp, ctx):
        waiting = list(self.waiting.get())
        if waiting:
            yield "unpriced", ctx.get_current_key(), sorted(waiting)


def keyed_broadcast(make_harness, **options) -> ChainHarness:
    return make_harness(KeyedBroadcastProcessSpec("kb", "kb", 1, PendingUntilPriced(), [RULES],
                                                  first), **options)


def test_keyed_broadcast_prices_every_keys_waiting_orders(make_harness):
    harness = keyed_broadcast(make_harness)
    harness.process_input(0, [("apple", 2), ("pear", 1), ("apple", 3)], [1, 2, 3])
    harness.process_input(1, [("apple", 10)])
    harness.process_input(0, [("apple", 1)], [4])
    harness.watermark(1000)
    assert sorted(r for r, _ in harness.emitted) == sorted([
        ("priced", ("apple", 2), 20), ("priced", ("apple", 3), 30),
        ("priced", ("apple", 1), 10), ("unpriced", "pear", [("pear", 1)])])


def test_keyed_broadcast_state_is_split_by_key_group_and_copied_on_rescale(make_harness):
    orders = [(f"item-{i}", i) for i in range(40)]
    old = [keyed_broadcast(make_harness, subtask_index=s, parallelism=2) for s in range(2)]
    for subtask, harness in enumerate(old):
        harness.process_input(1, [("item-0", 7)])  # every subtask gets every broadcast record
        mine = [o for o in orders
                if assign_to_key_group(o[0], 128) * 2 // 128 == subtask]  # its key groups
        harness.process_input(0, mine, [1] * len(mine))
    parts = RedistributedState(h.snapshot()["op-0"] for h in old)
    merged = keyed_broadcast(make_harness, restored={"op-0": parts})
    merged.process_input(0, [("item-0", 3)], [2])
    merged.watermark(1000)
    unpriced = sorted(r[1] for r, _ in merged.emitted if r[0] == "unpriced")
    assert unpriced == sorted(o[0] for o in orders[1:])
    assert [r for r, _ in merged.emitted if r[0] == "priced"] == [("priced", ("item-0", 3), 21)]


def test_keyed_broadcast_snapshot_with_incremental_rocksdb(tmp_path):
    """The backend's snapshot is pending (uploaded after the barrier); the broadcast maps
    are taken at the barrier and join it once it is materialized."""
    configuration = {"state.backend": "rocksdb", "state.backend.incremental": "true",
                     "state.backend.rocksdb.localdir": str(tmp_path / "local")}
    spec = KeyedBroadcastProcessSpec("kb", "kb", 1, PendingUntilPriced(), [RULES], first)
    harness = ChainHarness(spec, configuration=configuration)
    try:
        harness.process_input(1, [("apple", 10)])
        harness.process_input(0, [("pear", 2)], [1])
        pending = harness.chain.snapshot_state(1)["op-0"]
        assert isinstance(pending, PendingSnapshot)
        harness.process_input(1, [("plum", 5)])  # after the barrier: not in the snapshot
        target = SnapshotTarget(1, (tmp_path / "shared").as_uri())
        try:
            done = asyncio.run(pending.materialize(target))
        finally:
            pending.discard()
    finally:
        harness.close()
    restored = ChainHarness(KeyedBroadcastProcessSpec("kb", "kb", 1, PendingUntilPriced(),
                                                      [RULES], first),
                            configuration=configuration,
                            restored={"op-0": pickle.loads(pickle.dumps(done.state))})
    try:
        restored.process_input(0, [("apple", 1), ("plum", 1)], [2, 2])
        restored.watermark(1000)
    finally:
        restored.close()
    assert sorted(r for r, _ in restored.emitted) == sorted([
        ("priced", ("apple", 1), 10),
        ("unpriced", "pear", [("pear", 2)]), ("unpriced", "plum", [("plum", 1)])])
