"""Incremental checkpoints of the RocksDB backend (Flink's RocksIncrementalSnapshotStrategy).

Checkpoint n of one subtask's backend, in order:

1. synchronous (``RocksDBKeyedStateBackend.snapshot``): the write buffer is flushed and a
   native RocksDB checkpoint (hard links to the live SST files, plus copies of MANIFEST,
   CURRENT and OPTIONS) is made in a fresh local directory; the timers are copied. That is
   a ``PendingRocksDBSnapshot``;
2. asynchronous (``materialize``, after the barrier went out): SST files never change and
   their names are unique within one database, so the files that the newest completed
   checkpoint (the barrier names it) already has in the shared directory are referenced
   again and only the others are uploaded, each under a new unique name
   (``plan_upload``); the small files travel inside the subtask's own state file, in a
   ``RocksDBIncrementalSnapshot``; the local checkpoint is deleted.

A savepoint (no shared directory) is materialized from the same local checkpoint as a
canonical ``KeyedStateSnapshot``: self-contained, and restorable on either backend.

Restore downloads the referenced files into a fresh directory under the local directory;
when the key-group range is the one snapshotted the backend opens it as its database (the
restored SST files then count as uploaded), otherwise (rescaling) it copies the entries of
its own key groups out of it (database keys start with the key group, 2 bytes big-endian).
"""

from __future__ import annotations

import asyncio
import io
import os
import pickle
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from rocksdict import AccessType, Options, Rdict, WriteBatch

from weir.checkpoint import CheckpointStorage, StateHandle, storage_for
from weir.keygroups import KeyGroupRange
from weir.taskmanager.state.backend import Entry, KeyedStateSnapshot
from weir.taskmanager.state.pending_snapshot import (
    MaterializedSnapshot,
    PendingSnapshot,
    SnapshotTarget,
)

__all__ = ["PendingRocksDBSnapshot", "RocksDBIncrementalSnapshot", "UploadedFiles",
           "copy_key_groups", "decode_entries", "download", "items", "namespaces_in",
           "open_read_only", "plan_upload", "restorable_in_place", "successor"]

SST_SUFFIX = ".sst"
# Files moved at once per subtask; each is read whole (SST files are tens of MB).
_TRANSFER_CONCURRENCY = 4
_COPY_BATCH = 10_000


@dataclass
class RocksDBIncrementalSnapshot:
    """What a subtask's state file holds for one keyed backend of an incremental checkpoint.

    ``sst_files`` maps each SST file of the database to its handle in ``shared_uri``;
    ``private_files`` holds the other files of the native checkpoint; ``skeleton`` holds the
    timers, the namespaced flags and the max parallelism (no entries); ``state_ids`` maps the
    2-byte state id of the database keys to the state name.
    """

    checkpoint_id: int
    key_groups: KeyGroupRange
    skeleton: KeyedStateSnapshot
    state_ids: dict[bytes, str]
    shared_uri: str
    sst_files: dict[str, StateHandle]
    private_files: dict[str, bytes]


def items(db: Rdict, from_key: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
    """The database's (key, value) pairs from ``from_key`` on (raw mode: both bytes)."""
    return cast(Iterator[tuple[bytes, bytes]], iter(db.items(from_key=from_key)))


def decode_entries(pairs: Iterable[tuple[bytes, bytes]],
                   state_ids: Mapping[bytes, str]) -> Iterator[tuple[int, Entry]]:
    """Database pairs as snapshot entries with their key group."""
    loads = pickle.loads
    for db_key, raw in pairs:
        stream = io.BytesIO(db_key)
        stream.seek(4)
        unpickler = pickle.Unpickler(stream)
        namespace = unpickler.load()
        key = unpickler.load()
        yield (int.from_bytes(db_key[:2], "big"),
               (state_ids[db_key[2:4]], namespace, key, loads(raw)))


def namespaces_in(db: Rdict, prefix: bytes) -> Iterator[Any]:
    """The namespaces of the keys starting with ``prefix`` (key group | state id): one seek
    per namespace, past all its keys."""
    from_key = prefix
    while (db_key := next(_keys(db, from_key), None)) is not None \
            and db_key.startswith(prefix):
        stream = io.BytesIO(db_key)
        stream.seek(len(prefix))
        yield pickle.Unpickler(stream).load()
        from_key = successor(db_key[:stream.tell()])


def _keys(db: Rdict, from_key: bytes) -> Iterator[bytes]:
    return cast(Iterator[bytes], iter(db.keys(from_key=from_key)))


def successor(prefix: bytes) -> bytes:
    """The smallest byte string greater than every string starting with ``prefix``."""
    stripped = prefix.rstrip(b"\xff")
    return stripped[:-1] + bytes([stripped[-1] + 1])


def copy_key_groups(source: Rdict, target: Rdict, key_groups: KeyGroupRange,
                    state_ids: Mapping[bytes, bytes]) -> None:
    """Copy the entries of ``key_groups`` from ``source`` into ``target``, each state id
    replaced as ``state_ids`` maps it (old → new)."""
    start = key_groups.start.to_bytes(2, "big")
    end = successor(key_groups.end.to_bytes(2, "big"))
    batch = WriteBatch(raw_mode=True)
    for count, (db_key, raw) in enumerate(items(source, start), 1):
        if db_key >= end:
            break
        batch.put(db_key[:2] + state_ids[db_key[2:4]] + db_key[4:], raw)
        if count % _COPY_BATCH == 0:
            target.write(batch)
            batch = WriteBatch(raw_mode=True)
    target.write(batch)


def open_read_only(directory: str) -> Rdict:
    return Rdict(directory, Options(raw_mode=True), access_type=AccessType.read_only())


def plan_upload(live: Iterable[str], base: Mapping[str, StateHandle]
                ) -> tuple[dict[str, StateHandle], list[str]]:
    """Which of the ``live`` SST files are referenced again (those in ``base``, the newest
    completed checkpoint's: local name → shared handle) and which must be uploaded."""
    reused: dict[str, StateHandle] = {}
    new: list[str] = []
    for name in sorted(live):
        handle = base.get(name)
        if handle is None:
            new.append(name)
        else:
            reused[name] = handle
    return reused, new


def restorable_in_place(snapshots: Sequence[Any], key_groups: KeyGroupRange,
                        state_ids: Mapping[bytes, str]) -> bool:
    """Whether ``snapshots`` is one incremental snapshot of exactly ``key_groups`` whose
    state ids agree with the ids already in use (``state_ids``), so that its database can
    be opened as it is."""
    if len(snapshots) != 1 or not isinstance(snapshots[0], RocksDBIncrementalSnapshot):
        return False
    snapshot = snapshots[0]
    if snapshot.key_groups != key_groups:
        return False
    id_of = {name: state_id for state_id, name in snapshot.state_ids.items()}
    return all(snapshot.state_ids.get(state_id, name) == name
               and id_of.get(name, state_id) == state_id
               for state_id, name in state_ids.items())


class UploadedFiles:
    """The SST files of one backend's database in the shared directory, by checkpoint id.

    A checkpoint references only the files of the checkpoint the JobManager names as the
    newest completed one (its base): the files of a checkpoint that was aborted may be
    deleted already. Touched by the task's event loop only.
    """

    def __init__(self) -> None:
        self._by_checkpoint: dict[int, dict[str, StateHandle]] = {}

    def base(self, checkpoint_id: int) -> dict[str, StateHandle]:
        """The files of checkpoint ``checkpoint_id`` (none when this backend did not take
        or restore it); forgets older checkpoints, which no later one is based on."""
        for older in [c for c in self._by_checkpoint if c < checkpoint_id]:
            del self._by_checkpoint[older]
        return dict(self._by_checkpoint.get(checkpoint_id, {}))

    def record(self, checkpoint_id: int, files: Mapping[str, StateHandle]) -> None:
        self._by_checkpoint[checkpoint_id] = dict(files)


class PendingRocksDBSnapshot(PendingSnapshot):
    """A native checkpoint in ``root/db``, to be uploaded (see the module docstring).

    ``fill`` adds decoded entries to a snapshot without expired ones (for savepoints).
    """

    def __init__(self, root: str, key_groups: KeyGroupRange, skeleton: KeyedStateSnapshot,
                 state_ids: dict[bytes, str], uploaded: UploadedFiles,
                 fill: Callable[[KeyedStateSnapshot, Iterable[tuple[int, Entry]]], None]
                 ) -> None:
        self.root = root
        self.directory = os.path.join(root, "db")
        self._key_groups = key_groups
        self._skeleton = skeleton
        self._state_ids = state_ids
        self._uploaded = uploaded
        self._fill = fill

    async def materialize(self, target: SnapshotTarget) -> MaterializedSnapshot:
        if not target.shared_uri:
            return MaterializedSnapshot(await asyncio.to_thread(self._canonical))
        return await self._incremental(target)

    def _canonical(self) -> KeyedStateSnapshot:
        db = open_read_only(self.directory)
        try:
            self._fill(self._skeleton, decode_entries(items(db), self._state_ids))
        finally:
            db.close()
        return self._skeleton

    async def _incremental(self, target: SnapshotTarget) -> MaterializedSnapshot:
        names = sorted(os.listdir(self.directory))
        reused, new = plan_upload([n for n in names if n.endswith(SST_SUFFIX)],
                                  self._uploaded.base(target.base_checkpoint_id))
        storage = storage_for(target.shared_uri, target.configuration)
        uploaded = await _upload_files(storage, Path(self.directory), new)
        private = {name: await asyncio.to_thread(Path(self.directory, name).read_bytes)
                   for name in names if not name.endswith(SST_SUFFIX)}
        files = {**reused, **uploaded}
        self._uploaded.record(target.checkpoint_id, files)
        snapshot = RocksDBIncrementalSnapshot(
            target.checkpoint_id, self._key_groups, self._skeleton, self._state_ids,
            target.shared_uri, files, private)
        return MaterializedSnapshot(snapshot, tuple(files.values()), tuple(uploaded.values()))

    def discard(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


async def _upload_files(storage: CheckpointStorage, directory: Path,
                        names: list[str]) -> dict[str, StateHandle]:
    """Upload ``names`` from ``directory`` under new unique names; on failure delete what
    was uploaded (no checkpoint references it) and raise."""
    slots = asyncio.Semaphore(_TRANSFER_CONCURRENCY)
    uploaded: dict[str, StateHandle] = {}

    async def one(name: str) -> None:
        async with slots:
            data = await asyncio.to_thread((directory / name).read_bytes)
            uploaded[name] = await storage.write(f"{uuid.uuid4().hex}-{name}", data)

    try:
        await asyncio.gather(*(one(name) for name in names))
    except BaseException:
        await asyncio.gather(*(storage.delete(h.path) for h in uploaded.values()),
                             return_exceptions=True)
        raise
    return uploaded


def download(snapshot: RocksDBIncrementalSnapshot, directory: str,
             configuration: Mapping[str, str]) -> None:
    """Write the snapshot's database files into ``directory``, each SST file checked
    against its size and SHA-256. Blocking: a backend restores inside the synchronous
    ``open`` of its operator, so the transfer runs on an event loop of its own thread."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _download(snapshot, Path(directory), configuration)).result()


async def _download(snapshot: RocksDBIncrementalSnapshot, directory: Path,
                    configuration: Mapping[str, str]) -> None:
    storage = storage_for(snapshot.shared_uri, configuration)
    slots = asyncio.Semaphore(_TRANSFER_CONCURRENCY)

    async def one(name: str, handle: StateHandle) -> None:
        async with slots:
            data = await storage.read_verified(handle)
            await asyncio.to_thread((directory / name).write_bytes, data)

    await asyncio.gather(*(one(name, h) for name, h in snapshot.sst_files.items()))
    for name, data in snapshot.private_files.items():
        (directory / name).write_bytes(data)
