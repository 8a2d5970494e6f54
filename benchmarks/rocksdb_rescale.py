"""Rescaling a RocksDB subtask's state: iterate + insert (what weir does) against writing an
SST file of the key-group range and ingesting it (Flink's range cut + ingest), measured on
the same database in one process.

A source database holds ``--keys`` entries spread over 128 key groups (2-byte key-group
prefix, as the RocksDB backend lays keys out); a new subtask takes half of the key groups
(a 1 → 2 rescale). Both ways read the same range from the source; the target must answer
every key of the range afterwards. Prints the median seconds of ``--runs`` runs each,
interleaved.

Usage: python benchmarks/rocksdb_rescale.py [--keys N] [--runs R]
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import statistics
import sys
import tempfile
import time

from rocksdict import Options, Rdict, SstFileWriter, WriteBatch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from weir.keygroups import KeyGroupRange
from weir.taskmanager.state.rocksdb_incremental import copy_key_groups, items, successor

BATCH = 10_000


def fill(directory: str, keys: int) -> Rdict:
    db = Rdict(directory, Options(raw_mode=True))
    batch = WriteBatch(raw_mode=True)
    for i in range(keys):
        key = (i % 128).to_bytes(2, "big") + b"\x00\x00" + pickle.dumps(None) + pickle.dumps(i)
        batch.put(key, pickle.dumps((i, i * 0.5, f"user-{i}")))
        if i % BATCH == BATCH - 1:
            db.write(batch)
            batch = WriteBatch(raw_mode=True)
    db.write(batch)
    db.flush()
    return db


def iterate_and_insert(source: Rdict, target_dir: str, groups: KeyGroupRange) -> Rdict:
    target = Rdict(target_dir, Options(raw_mode=True))
    copy_key_groups(source, target, groups, {b"\x00\x00": b"\x00\x00"})
    return target


def write_sst_and_ingest(source: Rdict, target_dir: str, groups: KeyGroupRange) -> Rdict:
    sst = os.path.join(target_dir + "-sst", "range.sst")
    os.makedirs(os.path.dirname(sst))
    writer = SstFileWriter(Options(raw_mode=True))
    writer.open(sst)
    end = successor(groups.end.to_bytes(2, "big"))
    state_ids = {b"\x00\x00": b"\x00\x00"}  # remapped per key, as a restore must
    for db_key, raw in items(source, groups.start.to_bytes(2, "big")):
        if db_key >= end:
            break
        writer[db_key[:2] + state_ids[db_key[2:4]] + db_key[4:]] = raw
    writer.finish()
    target = Rdict(target_dir, Options(raw_mode=True))
    target.ingest_external_file([sst])
    shutil.rmtree(os.path.dirname(sst))
    return target


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="weir-rescale-bench-")
    try:
        source = fill(os.path.join(root, "source"), args.keys)
        groups = KeyGroupRange(0, 63)
        expected = sum(1 for i in range(args.keys) if i % 128 <= 63)
        ways = {"iterate + insert": iterate_and_insert, "SST + ingest": write_sst_and_ingest}
        times: dict[str, list[float]] = {name: [] for name in ways}
        for run in range(args.runs):
            for name, way in (ways.items() if run % 2 == 0 else reversed(ways.items())):
                target_dir = os.path.join(root, f"target-{run}-{len(times[name])}-{name[0]}")
                started = time.perf_counter()
                target = way(source, target_dir, groups)
                times[name].append(time.perf_counter() - started)
                found = sum(1 for _ in items(target, None))
                target.close()
                assert found == expected, (name, found, expected)
        print(f"{args.keys:,} keys, restoring half of the key groups ({expected:,} entries)")
        for name, runs in times.items():
            print(f"  {name:18} {statistics.median(runs):6.2f} s  "
                  f"runs: {', '.join(f'{t:.2f}' for t in runs)}")
        source.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
