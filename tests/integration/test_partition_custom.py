"""``partition_custom`` at parallelism 1, 2 and 4: every record reaches the subtask the user's
partitioner picked for its key, against a plain-Python oracle."""

from __future__ import annotations

from typing import Any

import pytest

from weir.common import WatermarkStrategy
from weir.common.job_client import JobExecutionException
from weir.datastream import (
    KeySelector,
    MapFunction,
    Partitioner,
    RuntimeContext,
    StreamExecutionEnvironment,
)
from weir.datastream.connectors.number_seq import NumberSequenceSource

N = 5_000


class WithSubtask(MapFunction):
    """``(record, index of the subtask that got it)``."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.subtask = runtime_context.get_index_of_this_subtask()

    def map(self, value: Any) -> tuple[Any, int]:
        return value, self.subtask


class ByTens(Partitioner):
    """Keys 0, 1, 2, ... to partitions n-1, n-2, ...: not what hashing would do."""

    def partition(self, key: Any, num_partitions: int) -> int:
        return num_partitions - 1 - key % num_partitions


class Tens(KeySelector):
    def get_key(self, value: int) -> int:
        return value // 10


def routed(parallelism: int, partitioner: Any, key_selector: Any) -> list[tuple[int, int]]:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    stream = (env.from_source(NumberSequenceSource(0, N - 1),
                              WatermarkStrategy.no_watermarks(), "numbers")
              .partition_custom(partitioner, key_selector)
              .map(WithSubtask()))
    with stream.execute_and_collect() as results:
        return sorted(results)


@pytest.mark.parametrize("parallelism", [1, 2, 4])
def test_records_go_to_the_partition_the_partitioner_picks(cluster, parallelism):
    assert routed(parallelism, ByTens(), Tens()) == [
        (x, parallelism - 1 - (x // 10) % parallelism) for x in range(N)]


@pytest.mark.parametrize("parallelism", [2, 4])
def test_plain_functions_serve_as_partitioner_and_key_selector(cluster, parallelism):
    assert routed(parallelism, lambda key, n: key % n, lambda x: x % 7) == [
        (x, (x % 7) % parallelism) for x in range(N)]


def test_a_partition_out_of_range_fails_the_job_saying_so(cluster):
    with pytest.raises(JobExecutionException, match=r"returned 2; it must return an int in "
                                                    r"\[0, 2\)"):
        routed(2, lambda key, n: n, lambda x: x)
