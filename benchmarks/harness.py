"""What every benchmark here shares: a local cluster that is up before any timing starts,
one timed job execution with the CPU time its TaskManagers spent on it, and one timed run of
a workload checked against the plain-Python loop's answer."""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import ray
from workloads import read_counts

from weir.datastream import StreamExecutionEnvironment
from weir.jobmanager.local_cluster import LocalCluster
from weir.jobmanager.ray_resource_manager import RAY_NAMESPACE

BENCH_METRICS = "WEIR_BENCH_METRICS"
Build = Callable[[StreamExecutionEnvironment, int, str], None]
Configure = Callable[[StreamExecutionEnvironment], None]


@contextlib.contextmanager
def local_cluster(taskmanagers: int = 2, slots: int = 2) -> Iterator[LocalCluster]:
    """A local cluster that ``env.execute()`` submits to; its start-up time is printed (to
    stderr: stdout is for the benchmark's results).

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
          file=sys.stderr, flush=True)
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


def taskmanager_pids() -> list[int]:
    """The process ids of the cluster's TaskManager actors (named ``taskmanager-<n>`` in
    Ray namespace ``weir``; ``ping`` answers with the actor's pid)."""
    names = [actor["name"] for actor in ray.util.list_named_actors(all_namespaces=True)
             if actor["namespace"] == RAY_NAMESPACE and actor["name"].startswith("taskmanager-")]
    return ray.get([ray.get_actor(name, namespace=RAY_NAMESPACE).ping.remote()
                    for name in names])


def cpu_seconds(pids: list[int]) -> float | None:
    """User + system CPU seconds the processes ``pids`` used so far, all threads included
    (from ``/proc/<pid>/stat``); None where there is no ``/proc``, or a process is gone."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Execution:
    """One job run: its id, the JobManager's submit-to-finish time, and the CPU time the
    TaskManager processes used meanwhile (None where it cannot be read)."""

    job_id: str
    runtime_s: float
    taskmanager_cpu_s: float | None


def execute(env: StreamExecutionEnvironment, name: str) -> Execution:
    """``env.execute(name)``, with the TaskManagers' CPU time read just before and after."""
    pids = taskmanager_pids()
    before = cpu_seconds(pids)
    result = env.execute(name)
    after = cpu_seconds(pids)
    cpu = None if before is None or after is None else after - before
    return Execution(result.get_job_id(), result.get_net_runtime() / 1000, cpu)


@dataclass(frozen=True)
class Run:
    job_id: str
    events_per_s: float
    results: int
    checksum: float
    cpu_us_per_event: float | None = None  # TaskManagers' user+system CPU / events

    def matches(self, expected: tuple[int, float]) -> bool:
        return same_answer((self.results, self.checksum), expected)


def same_answer(got: tuple[int, float], expected: tuple[int, float]) -> bool:
    """(results, checksum) pairs equal, the checksums to 3 decimals (float sums)."""
    return (got[0], round(got[1], 3)) == (expected[0], round(expected[1], 3))


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
        execution = execute(env, name)
        results, checksum = read_counts(out_dir)
    cpu = execution.taskmanager_cpu_s
    return Run(execution.job_id, n / execution.runtime_s, results, checksum,
               None if cpu is None else cpu / n * 1e6)
