"""Async I/O survives a TaskManager kill exactly once: requests in flight at a checkpoint are
part of it and are made again after the restore.

The fake service holds the requests of a few records (``held``) until the fault struck
(its marker file exists). Those records were read by the source long before the checkpoint
the job restores from, so the rewound source never reads them again: their results can
only come from the async operator's checkpointed requests, made again after the restore.
Every other request takes a few milliseconds. The committed output of the exactly-once
FileSink must equal the oracle's.
"""

from __future__ import annotations

import asyncio
import collections
from pathlib import Path

import pytest

from tests.chaos.test_failover import run_failing_once
from tests.fixtures.cluster import RunningJobManager
from tests.fixtures.counting_job import committed_file_lines
from tests.fixtures.faults import FailOnce, Fault
from weir.common import Time, WatermarkStrategy
from weir.common.serialization import Encoder
from weir.datastream import (
    AsyncDataStream,
    AsyncFunction,
    CheckpointingMode,
    StreamExecutionEnvironment,
)
from weir.datastream.connectors.datagen import DataGeneratorSource, RateLimiterStrategy
from weir.datastream.connectors.file_system import FileSink

RECORDS, RATE, PARALLELISM = 6_000, 2_000, 2


def held(value: int) -> bool:
    return value % 1_000 == 17


class HoldUntilFailure(AsyncFunction):
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    async def async_invoke(self, value: int) -> list[str]:
        if held(value):
            while not self.marker.exists():
                await asyncio.sleep(0.01)
        await asyncio.sleep((1 + value % 5) / 1000)
        return [f"{value},{value * value}"]


@pytest.mark.slow
@pytest.mark.parametrize("fault", list(Fault), ids=[f.value for f in Fault])
@pytest.mark.parametrize("mode", ["ordered", "unordered"])
def test_requests_in_flight_are_made_again_after_a_failure(cluster: RunningJobManager,
                                                           tmp_path: Path,
                                                           request: pytest.FixtureRequest,
                                                           mode: str, fault: Fault) -> None:
    # Half-way through a source subtask's records: the held records of its first half are
    # in flight at every checkpoint before the fault.
    plan = FailOnce(tmp_path / "failed", after_records=RECORDS // PARALLELISM // 2,
                    fault=fault)
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(PARALLELISM)
    env.enable_checkpointing(300, CheckpointingMode.EXACTLY_ONCE)
    env.get_checkpoint_config().set_checkpoint_storage_dir((tmp_path / "chk").as_uri())
    source = DataGeneratorSource(lambda i: i, count=RECORDS,
                                 rate_limiter_strategy=RateLimiterStrategy.per_second(RATE))
    stream = env.from_source(plan.source(source), WatermarkStrategy.no_watermarks(),
                             "numbers").uid("numbers")
    wait = AsyncDataStream.ordered_wait if mode == "ordered" else AsyncDataStream.unordered_wait
    # Capacity above a subtask's records before the fault: the held requests (and, in
    # order, everything behind them) never stop the source before it fails.
    (wait(stream, HoldUntilFailure(plan.marker), Time.seconds(120), capacity=RECORDS)
        .uid("lookups")
        .sink_to(FileSink.for_row_format((tmp_path / "out").as_uri(),
                                         Encoder.simple_string_encoder()).build())
        .uid("files"))
    run_failing_once(cluster, env, f"async-failover-{mode}-{fault.value}", plan, request)
    expected = collections.Counter(f"{v},{v * v}" for v in range(RECORDS))
    assert committed_file_lines(tmp_path / "out") == expected
