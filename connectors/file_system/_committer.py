"""The FileSink's committer: publishes pending parts under their visible names."""

from __future__ import annotations

import asyncio
import logging
from enum import Enum

from weir.checkpoint import CheckpointStorage
from weir.connector import Committer
from weir.datastream.connectors.file_system._parts import FileCommittable

__all__ = ["CommitAction", "FileCommitter", "commit_action"]

log = logging.getLogger(__name__)

_CONCURRENT_COMMITS = 16


class CommitAction(Enum):
    """What committing one pending part takes, given what the file system holds."""

    PUBLISH = "publish"  # every segment is there: (re)publish the part
    CLEAN_UP = "clean-up"  # already published by an earlier attempt: delete leftover segments
    LOST = "lost"  # neither the segments nor the published part: removed since, or lost


def commit_action(segments_present: list[bool], final_present: bool) -> CommitAction:
    """Decide how to commit a part. Publishing deletes the segments only after the final
    file exists, so a missing segment means an earlier attempt got that far."""
    if all(segments_present):
        return CommitAction.PUBLISH
    return CommitAction.CLEAN_UP if final_present else CommitAction.LOST


class FileCommitter(Committer):
    """Publishes pending parts; ``storage`` is rooted at the sink's base path and owned here.

    Committing a part, in order:

    1. a single segment is renamed to the final name (atomic on a local file
       system; copy-then-delete on S3); several segments are concatenated into
       the final name, written atomically, then deleted;
    2. a part whose segments are partly or wholly gone but whose final file
       exists was committed before (idempotence after a failure): the leftover
       segments are deleted;
    3. a part with neither was committed before and its file removed since
       (say, by the job reading the output), or was lost: as Flink's committers
       do, this is logged and skipped rather than failing every restore.

    A final file that already exists while all segments are present is replaced,
    as Flink's committers do.
    """

    def __init__(self, storage: CheckpointStorage) -> None:
        self._storage = storage

    async def commit(self, committables: list[FileCommittable]) -> None:
        limit = asyncio.Semaphore(_CONCURRENT_COMMITS)

        async def commit_one(committable: FileCommittable) -> None:
            async with limit:
                await self._commit(committable)

        await asyncio.gather(*(commit_one(c) for c in committables))

    async def _commit(self, committable: FileCommittable) -> None:
        storage = self._storage
        present = [await storage.exists(path) for path in committable.segments]
        action = commit_action(present, await storage.exists(committable.final_path))
        if action is CommitAction.LOST:
            log.warning("FileSink: skipping the commit of part %s: neither its pending data "
                        "(%s) nor the finished file exists (removed after an earlier commit?)",
                        committable.final_path, ", ".join(committable.segments))
            return
        if action is CommitAction.PUBLISH:
            if len(committable.segments) == 1:
                await storage.rename(committable.segments[0], committable.final_path)
                return
            data = [await storage.read(path) for path in committable.segments]
            await storage.write_atomic(committable.final_path, b"".join(data))
        for path, exists in zip(committable.segments, present):
            if exists:
                await storage.delete(path)

    async def close(self) -> None:
        await self._storage.close()
