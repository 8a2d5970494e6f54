"""What every benchmark here shares: a local cluster that is up before any timing starts,
and one timed run of a workload checked against the plain-Python loop's answer."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from workloads import read_counts

from weir.datastream import StreamExecutionEnvironment
from weir.jobmanager.local_cluster import LocalCluster

Build = Callable[[StreamExecutionEnvironment, int, str], None]
Configure = Callable[[StreamExecutionEnvironment], None]


@contextlib.contextmanager
def local_cluster(taskmanagers: int = 2, slots: int = 2) -> Iterator[LocalCluster]:
    """A local cluster that ``env.execute()`` submits to; its start-up time is printed."""
    started = time.perf_counter()
    cluster = LocalCluster(taskmanagers=taskmanagers, slots=slots).start()
    print(f"cluster start-up: {time.perf_counter() - started:.2f} s (Ray, JobManager, "
          f"{taskmanagers} TaskManagers)", flush=True)
    os.environ["WEIR_JOBMANAGER"] = cluster.address
    os.environ["WEIR_TOKEN"] = cluster.token
    try:
        yield cluster
    finally:
        cluster.shutdown()


@dataclass(frozen=True)
class Run:
    job_id: str
    events_per_s: float
    results: int
    checksum: float

    def matches(self, expected: tuple[int, float]) -> bool:
        return (self.results, round(self.checksum, 3)) == (expected[0], round(expected[1], 3))


def run_job(name: str, build: Build, n: int, parallelism: int,
            configure: Configure | None = None) -> Run:
    """Run the workload on ``n`` events; events/s = n / the JobManager's submit-to-finish
    time."""
    with tempfile.TemporaryDirectory() as out_dir:
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(parallelism)
        if configure is not None:
            configure(env)
        build(env, n, out_dir)
        result = env.execute(name)
        results, checksum = read_counts(out_dir)
    return Run(result.get_job_id(), n / (result.get_net_runtime() / 1000), results, checksum)
