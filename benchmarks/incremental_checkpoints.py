"""Incremental vs full RocksDB checkpoints: duration and uploaded bytes on a large state.

One RocksDB keyed backend holds ``--keys`` keys (default 5 million); then, ``--checkpoints``
times, ``--changed`` random keys are updated and a checkpoint is taken the way a subtask
takes it (synchronous part, then the asynchronous part: pending snapshots materialized, the
state file pickled and written), each based on the previous one as if it completed.
Printed per checkpoint and mode (full = ``state.backend.incremental: false``): the
synchronous and total durations, the bytes uploaded (state file plus new shared files)
and the bytes the checkpoint references in all. Storage: ``file://`` in a temporary
directory, or ``--s3`` a local moto_server process.

The backend is driven directly, without a job, so that loading millions of keys takes
seconds and the numbers are the checkpoint's alone.

Usage: python benchmarks/incremental_checkpoints.py [--keys N] [--changed K]
                                                    [--checkpoints C] [--modes full,incremental]
                                                    [--s3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pickle
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.fixtures.s3 import MotoServer
from weir.checkpoint import CheckpointLocation
from weir.taskmanager.state.backend import KeyedStateBackend
from weir.taskmanager.state.factory import create_keyed_state_backend
from weir.taskmanager.state.pending_snapshot import PendingSnapshot, SnapshotTarget

JOB = "benchmark-job"
LOAD_BATCH = 100_000


@dataclass(frozen=True)
class Measured:
    checkpoint_id: int
    sync_ms: float
    total_ms: float
    uploaded_bytes: int
    referenced_bytes: int


def load(backend: KeyedStateBackend, keys: int) -> float:
    """Put ``keys`` keys into the backend's "counts" state; seconds taken."""
    started = time.perf_counter()
    table = backend.keyed_table("counts")
    for start in range(0, keys, LOAD_BATCH):
        for key in range(start, min(start + LOAD_BATCH, keys)):
            table[key] = (key, 0)
    return time.perf_counter() - started


def change(backend: KeyedStateBackend, keys: int, changed: int, rng: random.Random) -> None:
    table = backend.keyed_table("counts")
    for key in rng.sample(range(keys), changed):
        table[key] = (key, table[key][1] + 1)


async def checkpoint(backend: KeyedStateBackend, location: CheckpointLocation,
                     configuration: dict[str, str], checkpoint_id: int) -> Measured:
    """Checkpoint ``checkpoint_id`` as ``SubtaskCheckpointer.take`` and ``_upload`` do."""
    started = time.perf_counter()
    state = backend.snapshot()
    data = None if isinstance(state, PendingSnapshot) else pickle.dumps(
        state, protocol=pickle.HIGHEST_PROTOCOL)
    sync_ms = (time.perf_counter() - started) * 1000
    uploaded = referenced = 0
    if isinstance(state, PendingSnapshot):
        try:
            done = await state.materialize(SnapshotTarget(
                checkpoint_id, location.shared_uri, checkpoint_id - 1, configuration))
        finally:
            state.discard()
        data = pickle.dumps(done.state, protocol=pickle.HIGHEST_PROTOCOL)
        uploaded = sum(h.size for h in done.uploaded)
        referenced = sum(h.size for h in done.shared)
    assert data is not None
    handle = await location.save_task_state(checkpoint_id, "keyed", 0, data)
    total_ms = (time.perf_counter() - started) * 1000
    return Measured(checkpoint_id, sync_ms, total_ms, uploaded + handle.size,
                    referenced + handle.size)


def run_mode(mode: str, args: argparse.Namespace, root: str,
             configuration: dict[str, str], workdir: Path) -> list[Measured]:
    backend = create_keyed_state_backend(
        {"state.backend": "rocksdb", "state.backend.incremental": str(mode == "incremental"),
         "state.backend.rocksdb.localdir": str(workdir / mode)},
        "benchmark", lambda: 0, 0, 1, 128)
    try:
        print(f"{mode}: loaded {args.keys:,} keys in {load(backend, args.keys):.1f} s",
              flush=True)
        location = CheckpointLocation(root, f"{JOB}-{mode}", configuration)
        rng = random.Random(7)
        measured = []
        for checkpoint_id in range(1, args.checkpoints + 1):
            if checkpoint_id > 1:
                change(backend, args.keys, args.changed, rng)
            measured.append(asyncio.run(checkpoint(backend, location, configuration,
                                                   checkpoint_id)))
            m = measured[-1]
            print(f"  checkpoint {m.checkpoint_id}: sync {m.sync_ms:8.1f} ms, total "
                  f"{m.total_ms:8.1f} ms, uploaded {m.uploaded_bytes / 2**20:8.2f} MiB of "
                  f"{m.referenced_bytes / 2**20:8.2f} MiB", flush=True)
        return measured
    finally:
        backend.dispose()


@contextmanager
def storage_root(use_s3: bool, workdir: Path) -> Iterator[tuple[str, dict[str, str]]]:
    if not use_s3:
        yield (workdir / "checkpoints").as_uri(), {}
        return
    server = MotoServer(workdir / "moto_server.log").start()
    try:
        bucket = server.create_bucket()
        yield f"s3://{bucket}/checkpoints", dict(server.configuration)
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=5_000_000)
    parser.add_argument("--changed", type=int, default=10_000)
    parser.add_argument("--checkpoints", type=int, default=4)
    parser.add_argument("--modes", default="full,incremental")
    parser.add_argument("--s3", action="store_true")
    args = parser.parse_args()
    print(f"{args.keys:,} keys, {args.changed:,} changed before each checkpoint after the "
          f"first, {'s3 (moto_server)' if args.s3 else 'file://'}", flush=True)
    with tempfile.TemporaryDirectory(prefix="weir-incremental-bench-") as scratch, \
            storage_root(args.s3, Path(scratch)) as (root, configuration):
        results = {mode: run_mode(mode, args, root, configuration, Path(scratch))
                   for mode in args.modes.split(",")}
    if {"full", "incremental"} <= results.keys() and args.checkpoints > 1:
        full, incremental = results["full"][1:], results["incremental"][1:]
        print(f"after the first checkpoint, medians: full {_median_ms(full):.0f} ms and "
              f"{_median_mib(full):.1f} MiB uploaded; incremental {_median_ms(incremental):.0f}"
              f" ms and {_median_mib(incremental):.2f} MiB uploaded")
    return 0


def _median_ms(measured: list[Measured]) -> float:
    return sorted(m.total_ms for m in measured)[len(measured) // 2]


def _median_mib(measured: list[Measured]) -> float:
    return sorted(m.uploaded_bytes for m in measured)[len(measured) // 2] / 2**20


if __name__ == "__main__":
    sys.exit(main())
