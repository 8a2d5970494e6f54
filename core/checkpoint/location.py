"""Flink's checkpoint layout on a ``CheckpointStorage``.

::

    <state.checkpoints.dir>/<job-id>/chk-<n>/<vertex-id>-<subtask>   state of one subtask
    <state.checkpoints.dir>/<job-id>/chk-<n>/_metadata               written last, atomically
    <state.checkpoints.dir>/<job-id>/shared/<file>                   referenced by checkpoints
    <state.savepoints.dir>/savepoint-<job-id[:6]>-<random>/...       the same, self-contained

Files under ``shared/`` (incremental RocksDB SST files) are referenced by the ``_metadata``
of one or more checkpoints and deleted by the JobManager once none it retains does. A
checkpoint directory is complete when its ``_metadata`` exists. Recovery takes the newest
complete checkpoint whose metadata and state files are intact and skips (logging why) any
that is not. A directory is read through handles relative to itself, so a savepoint copied
elsewhere loads from its new place.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Collection, Mapping

from weir.checkpoint.backends import storage_for
from weir.checkpoint.metadata import METADATA_FILE, CheckpointMetadata
from weir.checkpoint.storage import (
    CheckpointFileNotFoundError,
    CheckpointStorage,
    CorruptCheckpointError,
    StateHandle,
    join_uri,
)

__all__ = [
    "CheckpointDirectory",
    "CheckpointLocation",
    "checkpoint_dir_name",
    "load_savepoint",
    "savepoint_dir_name",
    "savepoint_directory",
    "shared_dir_uri",
    "state_file_name",
]

log = logging.getLogger(__name__)

_CHK = re.compile(r"chk-(\d+)")
SHARED_DIR = "shared"


def checkpoint_dir_name(checkpoint_id: int) -> str:
    return f"chk-{checkpoint_id}"


def savepoint_dir_name(job_id: str) -> str:
    """A new savepoint's directory name, ``savepoint-<job_id[:6]>-<random>``."""
    return f"savepoint-{job_id[:6]}-{uuid.uuid4().hex[:12]}"


def state_file_name(vertex_id: str, subtask: int) -> str:
    return f"{vertex_id}-{subtask}"


def shared_dir_uri(checkpoint_uri: str) -> str:
    """The shared directory beside checkpoint directory ``checkpoint_uri``."""
    return join_uri(checkpoint_uri.rstrip("/").rsplit("/", 1)[0], SHARED_DIR)


class CheckpointDirectory:
    """One checkpoint's or savepoint's directory: state files, then ``_metadata``.

    Steps of writing one, in order: ``save_task_state`` for every subtask (concurrently);
    ``complete(metadata)`` with their handles, which writes ``_metadata`` atomically.
    """

    def __init__(self, storage: CheckpointStorage, shared: CheckpointStorage) -> None:
        self.storage = storage
        self.shared = shared  # the job's shared directory, beside this one
        self.uri = storage.uri

    @staticmethod
    def open(uri: str, configuration: Mapping[str, str] | None = None) -> CheckpointDirectory:
        return CheckpointDirectory(storage_for(uri, configuration),
                                   storage_for(shared_dir_uri(uri), configuration))

    async def save_task_state(self, vertex_id: str, subtask: int, data: bytes) -> StateHandle:
        """Write one subtask's state; the handle's path is relative to this directory."""
        return await self.storage.write(state_file_name(vertex_id, subtask), data)

    async def complete(self, metadata: CheckpointMetadata) -> None:
        """Write ``_metadata``: from now on the checkpoint counts as complete."""
        await self.storage.write_atomic(METADATA_FILE, metadata.to_json())

    async def is_complete(self) -> bool:
        return await self.storage.exists(METADATA_FILE)

    async def read_metadata(self) -> CheckpointMetadata:
        """Raises CheckpointFileNotFoundError (incomplete) or CorruptCheckpointError."""
        data = await self.storage.read(METADATA_FILE)
        return CheckpointMetadata.from_json(data, join_uri(self.uri, METADATA_FILE))

    async def verify(self, metadata: CheckpointMetadata, verify_checksums: bool = True) -> None:
        """Check that every state file and shared file exists with its recorded size and,
        if ``verify_checksums`` (which reads every file), its SHA-256.

        Raises:
            CorruptCheckpointError: naming the first file that is missing or differs.
        """
        await asyncio.gather(
            *(_verify_one(self.storage, h, verify_checksums) for h in metadata.handles()),
            *(_verify_one(self.shared, h, verify_checksums)
              for h in metadata.shared_handles()))

    async def load(self, verify_checksums: bool = True) -> CheckpointMetadata:
        """The metadata, after checking the state files (see ``verify``)."""
        metadata = await self.read_metadata()
        await self.verify(metadata, verify_checksums)
        return metadata

    async def read_task_state(self, handle: StateHandle) -> bytes:
        """One subtask's state, checked against its size and SHA-256 (CorruptCheckpointError)."""
        return await self.storage.read_verified(handle)

    async def discard(self) -> None:
        await self.storage.delete_tree("")

    async def close(self) -> None:
        await self.storage.close()
        await self.shared.close()


async def _verify_one(storage: CheckpointStorage, handle: StateHandle,
                      verify_checksum: bool) -> None:
    try:
        if verify_checksum:
            await storage.read_verified(handle)
            return
        size = await storage.size(handle.path)
    except CheckpointFileNotFoundError:
        raise CorruptCheckpointError(
            f"state file {join_uri(storage.uri, handle.path)} is missing") from None
    if size != handle.size:
        raise CorruptCheckpointError(
            f"{join_uri(storage.uri, handle.path)} has {size} bytes, the checkpoint recorded "
            f"{handle.size}")


class CheckpointLocation:
    """The checkpoints of one job: ``<checkpoints_dir>/<job_id>/chk-<n>/``."""

    def __init__(self, checkpoints_dir: str, job_id: str,
                 configuration: Mapping[str, str] | None = None) -> None:
        self.job_id = job_id
        self.uri = join_uri(checkpoints_dir, job_id)
        self._storage = storage_for(self.uri, configuration)
        self._configuration = dict(configuration or {})

    def checkpoint_uri(self, checkpoint_id: int) -> str:
        return join_uri(self.uri, checkpoint_dir_name(checkpoint_id))

    @property
    def shared_uri(self) -> str:
        """The job's directory of files shared by checkpoints."""
        return join_uri(self.uri, SHARED_DIR)

    def directory(self, checkpoint_id: int) -> CheckpointDirectory:
        """Checkpoint ``checkpoint_id``'s directory (sharing this location's client)."""
        return CheckpointDirectory(self._storage.child(checkpoint_dir_name(checkpoint_id)),
                                   self._storage.child(SHARED_DIR))

    async def list_shared(self) -> list[str]:
        """Every file in the shared directory, relative to it."""
        return [path[len(SHARED_DIR) + 1:] for path in await self._storage.list(SHARED_DIR)]

    async def delete_shared(self, paths: Collection[str]) -> None:
        """Delete these files of the shared directory (missing ones are no error)."""
        shared = self._storage.child(SHARED_DIR)
        await asyncio.gather(*(shared.delete(path) for path in paths))

    async def save_task_state(self, checkpoint_id: int, vertex_id: str, subtask: int,
                              data: bytes) -> StateHandle:
        return await self.directory(checkpoint_id).save_task_state(vertex_id, subtask, data)

    async def complete(self, metadata: CheckpointMetadata) -> str:
        """Write ``metadata.checkpoint_id``'s ``_metadata`` (last); returns the checkpoint URI."""
        await self.directory(metadata.checkpoint_id).complete(metadata)
        return self.checkpoint_uri(metadata.checkpoint_id)

    async def read_task_state(self, checkpoint_dir: str, handle: StateHandle) -> bytes:
        """One subtask's state from ``checkpoint_dir`` (a URI: one of this job's checkpoints,
        or a savepoint anywhere), checked against its size and SHA-256."""
        prefix = self.uri.rstrip("/") + "/"
        if checkpoint_dir.startswith(prefix):
            directory = CheckpointDirectory(self._storage.child(checkpoint_dir[len(prefix):]),
                                            self._storage.child(SHARED_DIR))
            return await directory.read_task_state(handle)
        directory = CheckpointDirectory.open(checkpoint_dir, self._configuration)
        try:
            return await directory.read_task_state(handle)
        finally:
            await directory.close()

    async def checkpoint_ids(self) -> list[int]:
        """Ids of every ``chk-<n>`` directory, complete or not, ascending."""
        names = await self._storage.list_directories("")
        return sorted(int(m.group(1)) for m in map(_CHK.fullmatch, names) if m)

    async def latest_completed(self, verify_checksums: bool = True,
                               skip: Collection[int] = ()) -> CheckpointMetadata | None:
        """The newest checkpoint that is complete and intact, or None.

        Walks ``chk-<n>`` from the highest id down and skips, logging why at WARNING, any
        without ``_metadata``, with damaged metadata, or with a state file that is missing,
        of the wrong size or (``verify_checksums``, which reads every file) fails its
        checksum; ids in ``skip`` (say, found corrupt by a task) are passed over. Storage
        errors other than these (an unreachable store) propagate: a checkpoint is not given
        up because the store is down.
        """
        for checkpoint_id in reversed(await self.checkpoint_ids()):
            if checkpoint_id in skip:
                continue
            directory = self.directory(checkpoint_id)
            try:
                return await directory.load(verify_checksums)
            except CheckpointFileNotFoundError:
                log.warning("job %s: skipping checkpoint %d: %s has no %s (incomplete)",
                            self.job_id, checkpoint_id, directory.uri, METADATA_FILE)
            except CorruptCheckpointError as error:
                log.warning("job %s: skipping checkpoint %d: %s", self.job_id, checkpoint_id,
                            error)
        return None

    async def list_completed(self) -> list[CheckpointMetadata]:
        """Every checkpoint with readable ``_metadata``, ascending by id (state files are not
        checked: this is a listing)."""
        completed = []
        for checkpoint_id in await self.checkpoint_ids():
            try:
                completed.append(await self.directory(checkpoint_id).read_metadata())
            except (CheckpointFileNotFoundError, CorruptCheckpointError):
                continue
        return completed

    async def discard(self, checkpoint_id: int) -> None:
        """Delete checkpoint ``checkpoint_id``'s directory and everything in it."""
        await self.directory(checkpoint_id).discard()

    async def retain(self, num_retained: int) -> list[int]:
        """Delete all but the newest ``num_retained`` complete checkpoints, and every
        incomplete one older than the newest complete one (as in Flink, a completed
        checkpoint subsumes older pending ones). Returns the ids deleted.
        """
        if num_retained < 1:
            raise ValueError(f"num_retained must be at least 1, got {num_retained}")
        ids = await self.checkpoint_ids()
        complete = await asyncio.gather(*(self.directory(i).is_complete() for i in ids))
        completed = [i for i, done in zip(ids, complete, strict=True) if done]
        if not completed:
            return []
        kept = set(completed[-num_retained:])
        doomed = [i for i in ids if i not in kept and i < completed[-1]]
        for checkpoint_id in doomed:
            await self.discard(checkpoint_id)
        return doomed

    async def close(self) -> None:
        await self._storage.close()


def savepoint_directory(target_dir: str, job_id: str,
                        configuration: Mapping[str, str] | None = None) -> CheckpointDirectory:
    """A new savepoint directory ``<target_dir>/savepoint-<job_id[:6]>-<random>``."""
    return CheckpointDirectory.open(join_uri(target_dir, savepoint_dir_name(job_id)),
                                    configuration)


async def load_savepoint(uri: str, configuration: Mapping[str, str] | None = None,
                         verify_checksums: bool = True) -> CheckpointMetadata:
    """The metadata of the savepoint or checkpoint directory at ``uri`` (its full path),
    after checking its state files.

    Raises:
        CheckpointFileNotFoundError: ``uri`` holds no ``_metadata``.
        CorruptCheckpointError: the metadata or a state file is damaged or missing.
        CheckpointStorageError: the storage cannot be reached.
    """
    directory = CheckpointDirectory.open(uri, configuration)
    try:
        return await directory.load(verify_checksums)
    except CheckpointFileNotFoundError:
        raise CheckpointFileNotFoundError(
            f"{uri} holds no savepoint or completed checkpoint (it has no {METADATA_FILE})"
        ) from None
    finally:
        await directory.close()
