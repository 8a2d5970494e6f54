"""Incremental checkpoints of the RocksDB backend, on real RocksDB databases and a real
file:// shared directory: what is uploaded, what a restore (in place, rescaled, from a
savepoint) gives back, and which files count as uploaded afterwards."""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from weir.checkpoint import StateHandle
from weir.keygroups import KeyGroupRange
from weir.taskmanager.state.backend import KeyedStateBackend, KeyedStateSnapshot
from weir.taskmanager.state.factory import create_keyed_state_backend
from weir.taskmanager.state.pending_snapshot import (
    MaterializedSnapshot,
    PendingSnapshot,
    SnapshotTarget,
)
from weir.taskmanager.state.rocksdb_incremental import (
    RocksDBIncrementalSnapshot,
    plan_upload,
    restorable_in_place,
)

Make = Callable[..., KeyedStateBackend]


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Make]:
    made: list[KeyedStateBackend] = []

    def backend(kind: str = "rocksdb", incremental: bool = True, subtask: int = 0,
                parallelism: int = 1) -> KeyedStateBackend:
        configuration = {"state.backend": kind,
                         "state.backend.incremental": str(incremental).lower(),
                         "state.backend.rocksdb.localdir": str(tmp_path / "local")}
        made.append(create_keyed_state_backend(configuration, "op", lambda: 0, subtask,
                                               parallelism, 128))
        return made[-1]

    yield backend
    for backend in made:
        backend.dispose()


def checkpoint(backend: KeyedStateBackend, shared: Path | None, checkpoint_id: int,
               base: int = 0) -> MaterializedSnapshot:
    """Checkpoint ``checkpoint_id`` of ``backend`` into the shared directory ``shared`` (None:
    a savepoint), as the subtask checkpointer takes it (pickled and read back, as a
    restore reads it)."""
    pending = backend.snapshot()
    assert isinstance(pending, PendingSnapshot)
    target = SnapshotTarget(checkpoint_id, shared.as_uri() if shared else "", base)
    try:
        done = asyncio.run(pending.materialize(target))
    finally:
        pending.discard()
    return MaterializedSnapshot(pickle.loads(pickle.dumps(done.state)), done.shared,
                                done.uploaded)


def fill(backend: KeyedStateBackend, keys: range, value: Any = "v") -> None:
    table = backend.keyed_table("counts")
    for key in keys:
        backend.current_key = key
        table[key] = (value, key)


def contents(backend: KeyedStateBackend) -> dict[Any, Any]:
    return dict(backend.keyed_table("counts").items())


def size(handles: tuple[StateHandle, ...]) -> int:
    return sum(h.size for h in handles)


def test_a_checkpoint_after_few_changes_uploads_a_small_fraction(make: Make,
                                                                 tmp_path: Path) -> None:
    backend = make()
    fill(backend, range(200_000))
    first = checkpoint(backend, tmp_path / "shared", 1)
    assert first.uploaded == first.shared  # nothing to build on: everything is new
    fill(backend, range(0, 200_000, 2_000), value="changed")  # 100 keys
    second = checkpoint(backend, tmp_path / "shared", 2, base=1)
    assert size(second.shared) > size(first.shared)
    assert 0 < size(second.uploaded) < size(second.shared) / 50
    assert set(second.shared) - set(second.uploaded) <= set(first.shared)
    files = {p.name for p in (tmp_path / "shared").iterdir()}
    assert files == {h.path for h in first.shared + second.uploaded}


def test_only_the_base_checkpoints_files_are_referenced_again(make: Make,
                                                              tmp_path: Path) -> None:
    """Checkpoint 2 was aborted (its files may be gone): checkpoint 3, based on 1, uploads
    what only 2 had uploaded again."""
    backend = make()
    fill(backend, range(10_000))
    first = checkpoint(backend, tmp_path / "shared", 1)
    fill(backend, range(10_000, 20_000))
    second = checkpoint(backend, tmp_path / "shared", 2, base=1)
    third = checkpoint(backend, tmp_path / "shared", 3, base=1)
    assert not set(third.shared) & set(second.uploaded)
    assert set(third.shared) - set(third.uploaded) == set(first.shared)


def test_a_restore_opens_the_checkpointed_database_and_counts_its_files_as_uploaded(
        make: Make, tmp_path: Path) -> None:
    backend = make()
    fill(backend, range(5_000))
    timers = backend.timer_queue("event")
    backend.current_key = 7
    timers.register(7, 1_000)
    snapshot = checkpoint(backend, tmp_path / "shared", 4)
    expected = contents(backend)

    restored = make()
    restored.keyed_table("counts")  # operators fetch their tables before they restore
    restored_timers = restored.timer_queue("event")
    restored.restore([snapshot.state])
    assert contents(restored) == expected
    assert restored_timers.pop_due(1_000) == (1_000, 7)
    fill(restored, range(5_000, 5_010))
    after = checkpoint(restored, tmp_path / "shared", 5, base=4)
    assert set(snapshot.shared) < set(after.shared)
    assert not set(after.uploaded) & set(snapshot.shared)


def test_a_rescaled_restore_copies_each_backends_key_groups(make: Make,
                                                            tmp_path: Path) -> None:
    backend = make()
    fill(backend, range(3_000))
    snapshot = checkpoint(backend, tmp_path / "shared", 1)
    halves = [make(subtask=i, parallelism=2) for i in range(2)]
    for half in halves:
        half.restore([snapshot.state])
    first, second = contents(halves[0]), contents(halves[1])
    assert first and second and not first.keys() & second.keys()
    assert {**first, **second} == contents(backend)
    assert all(halves[0].key_group_of(key) in halves[0].key_groups for key in first)


def test_two_old_subtasks_restore_into_one(make: Make, tmp_path: Path) -> None:
    halves = [make(subtask=i, parallelism=2) for i in range(2)]
    for half in halves:
        fill(half, [k for k in range(2_000) if half.key_group_of(k) in half.key_groups])
    snapshots = [checkpoint(half, tmp_path / "shared", 1).state for half in halves]
    whole = make()
    whole.restore(snapshots)
    assert contents(whole) == {k: ("v", k) for k in range(2_000)}


def test_namespaced_state_is_indexed_again_after_a_restore(make: Make,
                                                           tmp_path: Path) -> None:
    backend = make()
    windows = backend.namespaced_table("window-contents")
    for key in range(100):
        backend.current_key = key
        windows.setdefault(key % 3, {})[key] = key
    snapshot = checkpoint(backend, tmp_path / "shared", 1)
    restored = make()
    restored.restore([snapshot.state])
    table = restored.namespaced_table("window-contents")
    assert sorted(table) == [0, 1, 2]
    assert dict(table[1].items()) == {k: k for k in range(1, 100, 3)}


def test_a_savepoint_is_canonical_and_restores_on_the_heap(make: Make,
                                                           tmp_path: Path) -> None:
    backend = make()
    fill(backend, range(1_000))
    savepoint = checkpoint(backend, None, 1)
    assert isinstance(savepoint.state, KeyedStateSnapshot)
    assert savepoint.shared == ()
    heap = make(kind="hashmap")
    heap.restore([savepoint.state])
    assert contents(heap) == contents(backend)


def test_full_checkpoints_when_incremental_is_off(make: Make) -> None:
    backend = make(incremental=False)
    fill(backend, range(10))
    assert isinstance(backend.snapshot(), KeyedStateSnapshot)


def test_a_canonical_snapshot_restores_into_an_incremental_backend(make: Make) -> None:
    heap = make(kind="hashmap")
    fill(heap, range(100))
    restored = make()
    restored.restore([heap.snapshot()])
    assert contents(restored) == contents(heap)


def test_plan_upload_references_the_base_files_and_uploads_the_rest() -> None:
    base = {"000009.sst": StateHandle("a-000009.sst", 10, "x"),
            "000004.sst": StateHandle("b-000004.sst", 5, "y")}
    reused, new = plan_upload(["000011.sst", "000009.sst"], base)
    assert reused == {"000009.sst": base["000009.sst"]}
    assert new == ["000011.sst"]


def test_only_a_snapshot_of_the_same_range_with_agreeing_state_ids_opens_in_place() -> None:
    def snapshot(key_groups: KeyGroupRange, ids: dict[bytes, str]
                 ) -> RocksDBIncrementalSnapshot:
        return RocksDBIncrementalSnapshot(1, key_groups, KeyedStateSnapshot(128), ids, "",
                                          {}, {})
    whole, half = KeyGroupRange(0, 127), KeyGroupRange(0, 63)
    ids = {b"\x00\x00": "counts"}
    assert restorable_in_place([snapshot(whole, ids)], whole, ids)
    assert restorable_in_place([snapshot(whole, ids)], whole, {})
    assert not restorable_in_place([snapshot(whole, ids)], half, ids)
    assert not restorable_in_place([snapshot(whole, ids)] * 2, whole, ids)
    assert not restorable_in_place([snapshot(whole, ids)], whole, {b"\x00\x00": "other"})
    assert not restorable_in_place([snapshot(whole, ids)], whole, {b"\x00\x01": "counts"})


def test_a_bad_incremental_setting_names_the_key(make: Make, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'state.backend.incremental'"):
        create_keyed_state_backend({"state.backend": "rocksdb",
                                    "state.backend.incremental": "sometimes",
                                    "state.backend.rocksdb.localdir": str(tmp_path)},
                                   "op", lambda: 0, 0, 1, 128)


def test_an_incremental_checkpoint_does_not_restore_on_the_heap(make: Make,
                                                                tmp_path: Path) -> None:
    backend = make()
    fill(backend, range(10))
    snapshot = checkpoint(backend, tmp_path / "shared", 1)
    with pytest.raises(TypeError, match="restores on RocksDB only"):
        make(kind="hashmap").restore([snapshot.state])
