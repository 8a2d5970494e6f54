"""Exactly-once after a failure: a keyed counting job, an event-time window job and a job
with event-time timers checkpoint every 300 ms and write through the exactly-once FileSink,
and fail once (tests/fixtures/faults.py) at a known moment — after n records of a source
subtask, once a checkpoint with real state completed — either by a failing source (the job
fails over) or by that source killing its TaskManager (``ray.kill``). The committed output
must equal the oracle's."""

from __future__ import annotations

import collections

import pytest

from tests.fixtures.cluster import RunningJobManager
from tests.fixtures.counting_job import CountingJob, committed_file_lines
from tests.fixtures.faults import FailOnce, Fault, InjectedFailure
from tests.fixtures.ray_cluster import RayDriver
from tests.fixtures.state_backends import BACKENDS, state_backend
from weir.common import Duration, Time, WatermarkStrategy
from weir.common.serialization import Encoder
from weir.datastream import (
    AggregateFunction,
    CheckpointingMode,
    KeyedProcessFunction,
    ProcessWindowFunction,
    StreamExecutionEnvironment,
)
from weir.datastream.connectors.datagen import DataGeneratorSource, RateLimiterStrategy
from weir.datastream.connectors.file_system import FileSink
from weir.datastream.state import MapStateDescriptor
from weir.datastream.state_backend import EmbeddedRocksDBStateBackend
from weir.datastream.window import TumblingEventTimeWindows
from weir.proto import jobmanager_pb2 as pb
from weir.rpc.client import JobManagerClient
from weir.taskmanager.state.working_directory import PREFIX

FAULTS = pytest.mark.parametrize("fault", list(Fault), ids=[f.value for f in Fault])


def run_failing_once(cluster: RunningJobManager, env: StreamExecutionEnvironment, name: str,
                     plan: FailOnce, request: pytest.FixtureRequest) -> pb.JobDetails:
    """Run the job to its end; check that it failed as planned (the fault struck once, and a
    killed TaskManager is gone for good) and recovered once, from the checkpoint the source
    saw complete or a later one; its details at the end."""
    client_job = env.execute_async(name)
    job_id = client_job.get_job_id()
    client_job.get_job_execution_result().result(timeout=180)
    with JobManagerClient(cluster.address, cluster.token) as client:
        details = client.get_job(job_id)
    assert plan.happened, "the source never failed"
    assert details.state == pb.FINISHED, details.failure_cause
    struck = plan.struck
    assert details.num_restarts == 1, details.last_restart_cause
    assert details.checkpoints.restored_id >= struck.checkpoint_id > 0
    if plan.fault is Fault.RAISE:
        assert InjectedFailure.__name__ in details.last_restart_cause
    else:
        ray_driver: RayDriver = request.getfixturevalue("ray_driver")
        with pytest.raises(RuntimeError, match="ValueError"):  # no such live actor
            ray_driver.node_of(struck.taskmanager)
        assert struck.taskmanager not in {s.taskmanager for v in details.vertices
                                          for s in v.subtasks}
    return details


@pytest.mark.slow
@FAULTS
@pytest.mark.parametrize(("mode", "backend"), [(CheckpointingMode.EXACTLY_ONCE, "hashmap"),
                                               (CheckpointingMode.AT_LEAST_ONCE, "hashmap"),
                                               (CheckpointingMode.EXACTLY_ONCE, "rocksdb")])
def test_a_failure_after_a_checkpoint_loses_nothing(cluster: RunningJobManager, tmp_path,
                                                    request: pytest.FixtureRequest,
                                                    mode: CheckpointingMode, backend: str,
                                                    fault: Fault) -> None:
    job = CountingJob()
    # A third of the way through a source subtask's records:
    plan = FailOnce(tmp_path / "failed", after_records=job.records // job.parallelism // 3,
                    fault=fault)
    output = tmp_path / "out"
    env = job.environment(output.as_uri(), (tmp_path / "chk").as_uri(), mode=mode,
                          fault=plan)
    databases = tmp_path / "rocksdb"
    chosen = state_backend(backend)
    on_rocksdb = isinstance(chosen, EmbeddedRocksDBStateBackend)
    if on_rocksdb:
        chosen.set_db_storage_paths(str(databases))
    env.set_state_backend(chosen)
    run_failing_once(cluster, env, f"failover-{backend}-{fault.value}", plan, request)
    if on_rocksdb:  # no database is left, not even a killed TaskManager's
        leftovers = [path for path in databases.rglob("*") if path.name != ".lock" and not (
            path.parent == databases and path.name.startswith(PREFIX))]
        assert leftovers == []
    got, expected = committed_file_lines(output), job.expected()
    if mode is CheckpointingMode.EXACTLY_ONCE:
        assert got == expected
    else:
        # Every count is there; records replayed after a restore may be counted again
        # (a key's counts then go past its number of records), as at-least-once allows.
        assert set(expected) <= set(got)
        counts: dict[str, set[int]] = collections.defaultdict(set)
        for line in got:
            key, _, count = line.partition(",")
            counts[key].add(int(count))
        assert counts.keys() == {str(k) for k in range(job.keys)}  # no other keys
        assert all(seen == set(range(1, max(seen) + 1)) for seen in counts.values())


# ------------------------------------------------------------ windows and timers resume

WINDOW_MS = 1000
BOUND_MS = 50
KEYS = 8


def claim(i: int) -> tuple[int, int]:
    """Record i: (key, event time), one per millisecond, up to BOUND_MS out of order."""
    return i % KEYS, i - (i * 7919) % BOUND_MS


class CountUntilWindowEnd(KeyedProcessFunction):
    """Counts a key's records per window in keyed state and emits the count from an
    event-time timer at the window's end (Flink's timer idiom, without a window)."""

    def open(self, runtime_context) -> None:
        self.counts = runtime_context.get_map_state(MapStateDescriptor("counts"))

    def process_element(self, value, ctx):
        start = value[1] - value[1] % WINDOW_MS
        self.counts.put(start, (self.counts.get(start) or 0) + 1)
        ctx.timer_service().register_event_time_timer(start + WINDOW_MS - 1)
        return ()

    def on_timer(self, timestamp, ctx):
        start = timestamp + 1 - WINDOW_MS
        yield ctx.get_current_key(), start, self.counts.get(start)
        self.counts.remove(start)


class CountRecords(AggregateFunction):
    def create_accumulator(self) -> int:
        return 0

    def add(self, value, accumulator: int) -> int:
        return accumulator + 1

    def get_result(self, accumulator: int) -> int:
        return accumulator

    def merge(self, a: int, b: int) -> int:
        return a + b


class WithWindowStart(ProcessWindowFunction):
    def process(self, key, context, counts):
        yield key, context.window().start, next(iter(counts))


def windowed(keyed, how: str):
    if how == "window":
        return keyed.window(TumblingEventTimeWindows.of(Time.milliseconds(WINDOW_MS))) \
            .aggregate(CountRecords(), window_function=WithWindowStart()).uid("windows")
    return keyed.process(CountUntilWindowEnd()).uid("timers")


def windows_oracle(records: int) -> collections.Counter[str]:
    counts = collections.Counter()
    for i in range(records):
        key, ts = claim(i)
        counts[(key, ts - ts % WINDOW_MS)] += 1
    return collections.Counter(f"{key},{start},{n}" for (key, start), n in counts.items())


@pytest.mark.slow
@FAULTS
@pytest.mark.parametrize("how", ["window", "timers"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_windows_and_timers_resume_after_a_failure(cluster: RunningJobManager, tmp_path,
                                                   request: pytest.FixtureRequest,
                                                   how: str, backend: str, fault: Fault) -> None:
    records, rate, parallelism = 16_000, 3_000, 2
    # A third of the way through a source subtask's records:
    plan = FailOnce(tmp_path / "failed", after_records=records // parallelism // 3,
                    fault=fault)
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    env.set_state_backend(state_backend(backend))
    env.enable_checkpointing(300, CheckpointingMode.EXACTLY_ONCE)
    env.get_checkpoint_config().set_checkpoint_storage_dir((tmp_path / "chk").as_uri())
    env.get_config().set_string("pipeline.auto-watermark-interval", "20 ms")
    watermarks = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(BOUND_MS)) \
        .with_timestamp_assigner(lambda record, _: record[1])
    source = DataGeneratorSource(claim, count=records,
                                 rate_limiter_strategy=RateLimiterStrategy.per_second(rate))
    keyed = env.from_source(plan.source(source), watermarks, "claims").uid("claims") \
        .key_by(lambda r: r[0])
    (windowed(keyed, how)
        .map(lambda r: f"{r[0]},{r[1]},{r[2]}")
        .sink_to(FileSink.for_row_format((tmp_path / "out").as_uri(),
                                         Encoder.simple_string_encoder()).build())
        .uid("files"))
    run_failing_once(cluster, env, f"failover-{how}-{backend}-{fault.value}", plan, request)
    assert committed_file_lines(tmp_path / "out") == windows_oracle(records)
