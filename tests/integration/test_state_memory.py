"""Keyed state larger than the TaskManager's memory: on RocksDB the job runs through at a
steady resident set size, its state on disk (Flink's answer to state that outgrows memory).

The TaskManager is started with ``taskmanager.memory.process.size``; the job keeps a
400-byte incompressible value per key for more keys than fit in that much memory. The
TaskManager's RSS is sampled from /proc while the job runs, and so is the size of its
RocksDB directory."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.cluster import RunningJobManager, start_jobmanager, stop_jobmanager
from tests.fixtures.processes import descendants, resident_bytes
from weir.common import Configuration, WatermarkStrategy
from weir.datastream import KeyedProcessFunction, StreamExecutionEnvironment
from weir.datastream.connectors.datagen import DataGeneratorSource
from weir.datastream.state import ValueStateDescriptor
from weir.proto import jobmanager_pb2 as pb
from weir.rpc.client import JobManagerClient

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

MEMORY = 640 * 1024 * 1024
KEYS = 1_400_000
VALUE_BYTES = 400


@pytest.fixture
def small_taskmanager(tmp_path: Path) -> Iterator[RunningJobManager]:
    running = start_jobmanager(tmp_path / "jobmanager.log", "--taskmanagers", "1", "--slots",
                               "1", "-D", f"taskmanager.memory.process.size={MEMORY}b")
    yield running
    stop_jobmanager(running)


class Remember(KeyedProcessFunction):
    def open(self, runtime_context):
        self.value = runtime_context.get_state(ValueStateDescriptor("value"))

    def process_element(self, value, ctx):
        self.value.update(value)
        return ()


def value_of(index: int) -> tuple[int, bytes]:
    return index, random.Random(index).randbytes(VALUE_BYTES)  # incompressible


def directory_bytes(root: Path) -> int:
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())


def test_state_larger_than_memory_runs_at_steady_rss_on_rocksdb(
        small_taskmanager: RunningJobManager, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEIR_JOBMANAGER", small_taskmanager.address)
    monkeypatch.setenv("WEIR_TOKEN", small_taskmanager.token)
    localdir = tmp_path / "rocksdb"
    config = Configuration()
    config.set_string("state.backend", "rocksdb")
    config.set_string("state.backend.rocksdb.localdir", str(localdir))
    env = StreamExecutionEnvironment.get_execution_environment(config)
    (env.from_source(DataGeneratorSource(value_of, KEYS), WatermarkStrategy.no_watermarks(),
                     "values")
        .key_by(lambda pair: pair[0]).process(Remember()).uid("remember")
        .print())  # nothing: the function emits no record
    taskmanagers = [pid for pid in descendants(small_taskmanager.process.pid)
                    if b"TaskManager" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert len(taskmanagers) == 1, taskmanagers
    samples: list[tuple[int, int]] = []  # (rss, state on disk)
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.25):
            samples.append((resident_bytes(taskmanagers[0]), directory_bytes(localdir)))

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        job = env.execute_async("state-larger-than-memory")
        job.get_job_execution_result().result(timeout=240)
    finally:
        done.set()
        sampler.join()
    with JobManagerClient(small_taskmanager.address, small_taskmanager.token) as client:
        details = client.get_job(job.get_job_id())
    assert details.state == pb.FINISHED, details.failure_cause
    peak_rss = max(rss for rss, _ in samples)
    peak_disk = max(disk for _, disk in samples)
    print(f"peak RSS {peak_rss / 2**20:.0f} MiB, peak state on disk {peak_disk / 2**20:.0f} MiB, "
          f"{len(samples)} samples")
    assert peak_disk > MEMORY  # the state did outgrow the TaskManager's memory
    assert peak_rss < MEMORY
    half = len(samples) // 2  # steady: the second half grows little beyond the first
    assert max(rss for rss, _ in samples[half:]) < 1.25 * max(rss for rss, _ in samples[:half])
