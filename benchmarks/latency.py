"""The paced run: end-to-end latency at a steady rate below what the job can carry.

A source paced at ``--rate`` events/s (split evenly over its ``--parallelism`` subtasks)
→ key_by → map → sink, for ``--seconds`` seconds' worth of events. Every record carries the
wall-clock time (``time.time_ns()``) at which the source's reader produced it; the sink
records now − created for every record and writes them, per subtask, to a temporary
directory the driver reads when the job has finished. Records of the first
``--warmup-seconds`` are left out of the figures (tasks are still being deployed). A source
held back by backpressure creates its records late: that shows as a lower achieved rate,
not as latency.

The reader paces in 1 ms slices: the records of a slice fall due together at its start, a
poll emits every record that has fallen due and one that finds none sleeps until the next
slice starts (as a reader waiting on its broker would, instead of polling in a busy loop).
Records are stamped when emitted, so the pacing itself adds no latency.
The job runs with its default settings (``execution.buffer-timeout`` 100 ms) unless
``--buffer-timeout MS`` is given.

Usage: python benchmarks/latency.py [--rate 50000] [--parallelism 2] [--seconds 10]
                                    [--warmup-seconds 1] [--buffer-timeout MS]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import tempfile
import time
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import execute, local_cluster

from weir.common import WatermarkStrategy
from weir.connector import Source, SourceReader
from weir.datastream import SinkFunction, StreamExecutionEnvironment

SLICE_S = 0.001
KEYS = 1024
Record = tuple[int, int]  # sequence number, created (time.time_ns())


class PacedSource(Source[Record]):
    """``count`` records at ``rate`` records/s in all; subtask i of p emits sequence numbers
    i, i+p, i+2p, … at rate/p."""

    def __init__(self, rate: float, count: int) -> None:
        self.rate = rate
        self.count = count

    def is_bounded(self) -> bool:
        return True

    def create_reader(self, subtask_index: int, parallelism: int) -> SourceReader[Record]:
        return _PacedReader(range(subtask_index, self.count, parallelism), self.rate / parallelism)


class _PacedReader(SourceReader[Record]):
    """Emits the records due since its first poll; its position is how many it emitted (a
    restored reader paces from its restore on)."""

    def __init__(self, sequence: range, rate: float) -> None:
        self._sequence = sequence
        self._rate = rate
        self._next = 0
        self._started: float | None = None

    async def poll_batch(self, max_records: int) -> list[Record] | None:
        if self._next >= len(self._sequence):
            return None
        now = time.monotonic()
        if self._started is None:
            self._started = now - self._next / self._rate
        elapsed = now - self._started
        slices = elapsed // SLICE_S  # records fall due a slice at a time, as a broker's
        due = min(len(self._sequence), int(slices * SLICE_S * self._rate) + 1)
        if due <= self._next:
            await asyncio.sleep((slices + 1) * SLICE_S - elapsed)  # to the next slice
            return []
        upto = min(due, self._next + max_records)
        created = time.time_ns()
        batch = [(seq, created) for seq in self._sequence[self._next:upto]]
        self._next = upto
        return batch

    def snapshot_position(self) -> int:
        return self._next

    def restore_position(self, position: int) -> None:
        self._next = position


class LatencySink(SinkFunction):
    """Records now − created (ns) of every record from sequence number ``measured_from`` on;
    on close writes them, with how many records arrived in all and the span of their
    creation times, to ``out_dir``."""

    def __init__(self, out_dir: str, measured_from: int) -> None:
        self.out_dir = out_dir
        self.measured_from = measured_from

    def open(self, runtime_context: Any) -> None:
        self.subtask = runtime_context.get_index_of_this_subtask()
        self.latencies = array("q")
        self.received = 0
        self.first_created = math.inf
        self.last_created = -math.inf

    def invoke(self, value: tuple[int, int, int], context: Any) -> None:
        now = time.time_ns()
        self.received += 1
        seq, created, _ = value
        if seq >= self.measured_from:
            self.latencies.append(now - created)
            self.first_created = min(self.first_created, created)
            self.last_created = max(self.last_created, created)

    def close(self) -> None:
        out = Path(self.out_dir)
        with open(out / f"latencies-{self.subtask}.bin", "wb") as file:
            self.latencies.tofile(file)
        (out / f"received-{self.subtask}.json").write_text(json.dumps({
            "received": self.received, "first_created": self.first_created,
            "last_created": self.last_created}))


def build_paced(env: StreamExecutionEnvironment, rate: float, count: int, measured_from: int,
                out_dir: str) -> None:
    (env.from_source(PacedSource(rate, count), WatermarkStrategy.no_watermarks(), "paced")
        .key_by(lambda record: record[0] % KEYS)
        .map(lambda record: (record[0], record[1], record[0] % KEYS))
        .add_sink(LatencySink(out_dir, measured_from)))


@dataclass(frozen=True)
class PacedRun:
    """The figures of one paced run (latencies of the records after the warm-up)."""

    job_id: str
    parallelism: int
    rate: float  # the pace asked for, events/s
    events: int
    buffer_timeout_ms: int | None  # None: the job's default
    achieved_rate: float  # measured records / the span of their creation times
    p50_ms: float
    p99_ms: float
    max_ms: float
    cpu_us_per_event: float | None  # TaskManagers' user+system CPU / events


def percentile(ordered: list[int], q: float) -> int:
    """The nearest-rank ``q`` quantile (0 < q ≤ 1) of ``ordered`` (sorted, not empty)."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def run_paced(rate: float = 50_000, seconds: float = 10.0, parallelism: int = 2,
              warmup_seconds: float = 1.0, buffer_timeout_ms: int | None = None) -> PacedRun:
    """One paced run on the cluster ``WEIR_JOBMANAGER`` names (see harness.local_cluster).

    Raises:
        RuntimeError: when the sinks did not receive every record exactly once.
    """
    if not 0 <= warmup_seconds < seconds:
        raise ValueError(f"the warm-up ({warmup_seconds} s) must be shorter than the run "
                         f"({seconds} s)")
    count = round(rate * seconds)
    with tempfile.TemporaryDirectory() as out_dir:
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(parallelism)
        if buffer_timeout_ms is not None:
            env.set_buffer_timeout(buffer_timeout_ms)
        build_paced(env, rate, count, round(rate * warmup_seconds), out_dir)
        execution = execute(env, f"paced-{rate:.0f}-p{parallelism}")
        latencies, parts = _read_results(Path(out_dir))
    received = sum(part["received"] for part in parts)
    if received != count:
        raise RuntimeError(f"the paced job's sinks received {received} records of {count} "
                           f"(results of {len(parts)} sink subtasks of {parallelism})")
    ordered = sorted(latencies)
    span_s = (max(p["last_created"] for p in parts) - min(p["first_created"] for p in parts)) / 1e9
    cpu = execution.taskmanager_cpu_s
    return PacedRun(execution.job_id, parallelism, rate, count, buffer_timeout_ms,
                    (len(ordered) - 1) / span_s if span_s > 0 else math.nan,
                    percentile(ordered, 0.50) / 1e6, percentile(ordered, 0.99) / 1e6,
                    ordered[-1] / 1e6, None if cpu is None else cpu / count * 1e6)


def _read_results(out_dir: Path) -> tuple[array[int], list[dict[str, Any]]]:
    latencies = array("q")
    for path in out_dir.glob("latencies-*.bin"):
        latencies.frombytes(path.read_bytes())
    parts = [json.loads(path.read_text()) for path in out_dir.glob("received-*.json")]
    return latencies, parts


def describe(run: PacedRun) -> str:
    timeout = "default" if run.buffer_timeout_ms is None else f"{run.buffer_timeout_ms} ms"
    cpu = "-" if run.cpu_us_per_event is None else f"{run.cpu_us_per_event:.1f}"
    return (f"paced {run.rate:,.0f} events/s, p={run.parallelism}, {run.events:,} events, "
            f"buffer timeout {timeout}: achieved {run.achieved_rate:,.0f} events/s; latency "
            f"p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms, max {run.max_ms:.1f} ms; "
            f"TaskManager CPU {cpu} µs/event")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50_000)
    parser.add_argument("--parallelism", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup-seconds", type=float, default=1.0)
    parser.add_argument("--buffer-timeout", type=int, metavar="MS")
    args = parser.parse_args()
    with local_cluster():
        run = run_paced(args.rate, args.seconds, args.parallelism, args.warmup_seconds,
                        args.buffer_timeout)
    print(describe(run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
