"""Jobs at parallelism 1, 2 and 4 over 2 TaskManagers, every result against a plain-Python oracle."""

from __future__ import annotations

import collections

import pytest

from tests.fixtures.state_backends import BACKENDS, state_backend
from tests.fixtures.window_functions import Mean
from weir.common import Types, WatermarkStrategy
from weir.common.job_client import JobExecutionException
from weir.datastream import (
    KeyedProcessFunction,
    MapFunction,
    RuntimeContext,
    StreamExecutionEnvironment,
)
from weir.datastream.connectors.datagen import DataGeneratorSource, RateLimiterStrategy
from weir.datastream.connectors.number_seq import NumberSequenceSource
from weir.datastream.state import (
    AggregatingStateDescriptor,
    ListStateDescriptor,
    MapStateDescriptor,
    ReducingStateDescriptor,
    ValueStateDescriptor,
)

N = 20_000
PARALLELISM = [1, 2, 4]


def environment(parallelism: int, backend: str = "hashmap") -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    env.set_state_backend(state_backend(backend))
    return env


def numbers(env: StreamExecutionEnvironment, first: int, last: int):
    return env.from_source(NumberSequenceSource(first, last),
                           WatermarkStrategy.no_watermarks(), f"numbers {first}-{last}")


def collect(stream) -> list:
    with stream.execute_and_collect() as results:
        return list(results)


def last_per_key(rows, key=lambda row: row[0]) -> dict:
    """The last result each key emitted (keyed operators emit running values in order per key)."""
    return {key(row): row for row in rows}


@pytest.mark.parametrize("parallelism", PARALLELISM)
@pytest.mark.parametrize("backend", BACKENDS)
def test_chained_stateless_operators_then_keyed_reduce(cluster, parallelism, backend):
    env = environment(parallelism, backend)
    stream = (numbers(env, 0, N - 1)
              .map(lambda x: x * 3)
              .filter(lambda x: x % 2 == 0)
              .flat_map(lambda x: [(x % 13, x), (x % 13, 1)])
              .key_by(lambda pair: pair[0])
              .reduce(lambda a, b: (a[0], a[1] + b[1])))
    rows = collect(stream)

    expected = collections.Counter()
    emitted = 0
    for x in range(N):
        y = x * 3
        if y % 2 == 0:
            expected[y % 13] += y + 1
            emitted += 2
    assert len(rows) == emitted
    assert {k: v for k, (_, v) in last_per_key(rows).items()} == dict(expected)


@pytest.mark.parametrize("parallelism", PARALLELISM)
def test_union_and_repartitioning_lose_and_duplicate_nothing(cluster, parallelism):
    env = environment(parallelism)
    evens = numbers(env, 0, 4999).map(lambda x: 2 * x).rebalance()
    odds = numbers(env, 0, 4999).map(lambda x: 2 * x + 1).shuffle()
    tagged = env.from_collection(list(range(10_000, 10_100))).rescale()
    stream = evens.union(odds, tagged).map(lambda x: x + 0).set_parallelism(parallelism)
    assert sorted(collect(stream)) == list(range(10_100))


@pytest.mark.parametrize("parallelism", [2, 4])
def test_broadcast_reaches_every_subtask_once(cluster, parallelism):
    class TagWithSubtask(MapFunction):
        def open(self, runtime_context: RuntimeContext) -> None:
            self.index = runtime_context.get_index_of_this_subtask()
            self.count = runtime_context.get_number_of_parallel_subtasks()

        def map(self, value):
            return value, self.index, self.count

    env = environment(parallelism)
    stream = env.from_collection(["a", "b", "c"]).broadcast().map(TagWithSubtask())
    expected = [(v, i, parallelism) for v in "abc" for i in range(parallelism)]
    assert sorted(collect(stream)) == sorted(expected)


@pytest.mark.parametrize("parallelism", PARALLELISM)
@pytest.mark.parametrize("backend", BACKENDS)
def test_keyed_aggregations_by_position(cluster, parallelism, backend):
    env = environment(parallelism, backend)
    rows = [(f"k{i % 7}", (i * 37) % 101, i) for i in range(3000)]
    source = env.from_collection(rows)
    sums = last_per_key(collect(source.key_by(lambda r: r[0]).sum(1)))
    max_bys = last_per_key(collect(env.from_collection(rows).key_by(lambda r: r[0]).max_by(1)))

    for key in {r[0] for r in rows}:
        mine = [r for r in rows if r[0] == key]
        assert sums[key][1] == sum(r[1] for r in mine)
        best = max(r[1] for r in mine)
        assert max_bys[key] == next(r for r in mine if r[1] == best)  # first of the ties


class EveryStateKind(KeyedProcessFunction):
    """Keeps each key's count, last three values, value histogram, sum and average."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.count = runtime_context.get_state(ValueStateDescriptor("count", Types.LONG()))
        self.recent = runtime_context.get_list_state(ListStateDescriptor("recent", Types.LONG()))
        self.histogram = runtime_context.get_map_state(
            MapStateDescriptor("histogram", Types.LONG(), Types.LONG()))
        self.total = runtime_context.get_reducing_state(
            ReducingStateDescriptor("total", lambda a, b: a + b, Types.LONG()))
        self.average = runtime_context.get_aggregating_state(
            AggregatingStateDescriptor("average", Mean(), Types.TUPLE([Types.LONG()] * 2)))

    def process_element(self, value, ctx):
        key, x = value
        assert ctx.get_current_key() == key
        self.count.update((self.count.value() or 0) + 1)
        self.recent.update((list(self.recent.get()) + [x])[-3:])
        bucket = x % 5
        self.histogram.put(bucket, (self.histogram.get(bucket) or 0) + 1)
        self.total.add(x)
        self.average.add(x)
        yield (key, self.count.value(), list(self.recent.get()), dict(self.histogram.items()),
               self.total.get(), self.average.get())


@pytest.mark.parametrize("parallelism", PARALLELISM)
@pytest.mark.parametrize("backend", BACKENDS)
def test_keyed_state_of_every_kind_is_scoped_to_its_key(cluster, parallelism, backend):
    env = environment(parallelism, backend)
    # one source subtask: each key's records arrive in sequence order (one channel per pair)
    stream = (numbers(env, 0, 9999).set_parallelism(1)
              .map(lambda x: (f"user-{(x * 7919) % 23}", x)).set_parallelism(1)
              .key_by(lambda pair: pair[0])
              .process(EveryStateKind()))
    final = last_per_key(collect(stream))

    per_key: dict[str, list[int]] = collections.defaultdict(list)
    for x in range(10_000):
        per_key[f"user-{(x * 7919) % 23}"].append(x)
    assert set(final) == set(per_key)
    for key, xs in per_key.items():
        histogram = dict(collections.Counter(x % 5 for x in xs))
        assert final[key] == (key, len(xs), xs[-3:], histogram, sum(xs), sum(xs) / len(xs))


class FirstSeenTimer(KeyedProcessFunction):
    """Registers a processing-time timer on a key's first record; the timer reports the count."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.count = runtime_context.get_state(ValueStateDescriptor("count", Types.LONG()))

    def process_element(self, value, ctx):
        if self.count.value() is None:
            now = ctx.timer_service().current_processing_time()
            ctx.timer_service().register_processing_time_timer(now + 100)
            ctx.timer_service().register_processing_time_timer(now + 100)  # de-duplicated
        self.count.update((self.count.value() or 0) + 1)
        return []

    def on_timer(self, timestamp, ctx):
        yield ctx.get_current_key(), self.count.value(), ctx.time_domain().name


@pytest.mark.parametrize("parallelism", [1, 2])
@pytest.mark.parametrize("backend", BACKENDS)
def test_processing_time_timers_fire_once_per_key_with_its_state(cluster, parallelism, backend):
    env = environment(parallelism, backend)
    keys = 10
    # 3000 records at 2000 records/s: every key appears in the first few records,
    # its timer fires about 100 ms later while the stream keeps running for ~1.5 s.
    source = DataGeneratorSource(lambda i: i % keys, 3000, RateLimiterStrategy.per_second(2000))
    stream = (env.from_source(source, WatermarkStrategy.no_watermarks(), "ticks")
              .key_by(lambda k: k)
              .process(FirstSeenTimer()))
    fired = collect(stream)
    assert sorted(key for key, _, _ in fired) == list(range(keys))
    for _, count, domain in fired:
        assert domain == "PROCESSING_TIME"
        assert 1 <= count < 3000 // keys  # fired while the key's records were still arriving


def test_a_failing_user_function_fails_the_job_with_its_traceback(cluster):
    def explode(x):
        if x == 777:
            raise ValueError(f"cannot handle record {x}")
        return x

    env = environment(2)
    numbers(env, 0, 999).map(explode).add_sink(lambda x: None)
    with pytest.raises(JobExecutionException) as failure:
        env.execute("explodes")
    message = str(failure.value)
    assert "ValueError: cannot handle record 777" in message
    assert "in explode" in message
