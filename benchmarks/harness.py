"""What every benchmark here shares: a local cluster that is up before any timing starts,
and one timed run of a workload checked against the plain-Python loop's answer."""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from workloads import read_counts

from weir.datastream import StreamExecutionEnvironment
from weir.jobmanager.local_cluster import LocalCluster

BENCH_METRICS = "WEIR_BENCH_METRICS"
Build = Callable[[StreamExecutionEnvironment, int, str], None]
Configure = Callable[[StreamExecutionEnvironment], None]


@contextlib.contextmanager
def local_cluster(taskmanagers: int = 2, slots: int = 2) -> Iterator[LocalCluster]:
    """A local cluster that ``env.execute()`` submits to; its start-up time is printed.

    With ``WEIR_BENCH_METRICS=1`` its Prometheus endpoints are on and scraped every second,
    as Prometheus would (a revision without metrics, e.g. compare.py's base, ignores it).
    """
    started = time.perf_counter()
    metrics = os.environ.get(BENCH_METRICS) == "1" and \
        "metrics_configuration" in inspect.signature(LocalCluster).parameters
    extra = {"metrics_configuration": {"metrics.reporter.prom.enabled": "true",
                                       "metrics.reporter.prom.port": "0"}} if metrics else {}
    cluster = LocalCluster(taskmanagers=taskmanagers, slots=slots, **extra).start()
    print(f"cluster start-up: {time.perf_counter() - started:.2f} s (Ray, JobManager, "
          f"{taskmanagers} TaskManagers{', metrics scraped every 1 s' if metrics else ''})",
          flush=True)
    os.environ["WEIR_JOBMANAGER"] = cluster.address
    os.environ["WEIR_TOKEN"] = cluster.token
    stop = threading.Event()
    if metrics:
        threading.Thread(target=_scrape, args=(cluster, stop), daemon=True).start()
    try:
        yield cluster
    finally:
        stop.set()
        cluster.shutdown()


def _scrape(cluster: LocalCluster, stop: threading.Event) -> None:
    """Read every endpoint the JobManager lists, once a second, until ``stop``."""
    targets = f"http://127.0.0.1:{cluster.metrics_port}/targets"
    while not stop.wait(1.0):
        with urllib.request.urlopen(targets, timeout=5) as response:
            groups = json.loads(response.read())
        for endpoint in (t for group in groups for t in group["targets"]):
            with urllib.request.urlopen(f"http://{endpoint}/metrics", timeout=5) as response:
                response.read()


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
