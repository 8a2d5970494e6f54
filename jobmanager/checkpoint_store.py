"""One job's checkpoints as the JobManager uses them: write ``_metadata``, retain, recover,
and the shared files of incremental checkpoints."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path

from weir.checkpoint import (
    CheckpointDirectory,
    CheckpointLocation,
    CheckpointMetadata,
    CheckpointSettings,
)
from weir.jobmanager.shared_state_registry import SharedStateRegistry

__all__ = ["JobCheckpointStore", "default_checkpoints_dir"]

log = logging.getLogger(__name__)


def default_checkpoints_dir() -> str:
    """Where checkpoints go when ``state.checkpoints.dir`` is not set: a local directory,
    which serves one machine (set ``state.checkpoints.dir`` to s3://… for a cluster)."""
    return (Path(tempfile.gettempdir()) / "weir-checkpoints").as_uri()


class JobCheckpointStore:
    """``<state.checkpoints.dir>/<job-id>/chk-<n>/`` and ``<job-id>/shared/``; savepoints
    live wherever they were put.

    ``shared_state`` knows which shared files the retained checkpoints reference; the first
    ``latest_completed`` (a job's first attempt, or a recovering JobManager's) rebuilds it
    from their ``_metadata`` and deletes shared files none of them references (left by
    checkpoints that were pending when an earlier JobManager stopped).
    """

    def __init__(self, settings: CheckpointSettings, job_id: str,
                 configuration: Mapping[str, str]) -> None:
        self._configuration = dict(configuration)
        self.location = CheckpointLocation(settings.dir or default_checkpoints_dir(), job_id,
                                           configuration)
        self.shared_uri = self.location.shared_uri
        self.shared_state = SharedStateRegistry()
        self._recovered = False

    def checkpoint_uri(self, checkpoint_id: int) -> str:
        return self.location.checkpoint_uri(checkpoint_id)

    async def write_metadata(self, target_uri: str, metadata: CheckpointMetadata) -> None:
        """``_metadata`` of a checkpoint of this job or of a savepoint anywhere."""
        await CheckpointDirectory.open(target_uri, self._configuration).complete(metadata)

    async def retain(self, num_retained: int) -> list[int]:
        return await self.location.retain(num_retained)

    async def discard(self, target_uri: str) -> None:
        await CheckpointDirectory.open(target_uri, self._configuration).discard()

    async def delete_shared(self, paths: list[str]) -> None:
        """Delete these shared files; a failure is logged (the files stay behind)."""
        try:
            await self.location.delete_shared(paths)
        except Exception:
            log.warning("job %s: deleting %d shared files no checkpoint needs failed",
                        self.location.job_id, len(paths), exc_info=True)

    async def latest_completed(self) -> tuple[CheckpointMetadata, str] | None:
        """The newest complete checkpoint whose files are all intact (checksums read)."""
        if not self._recovered:
            await self._recover_shared_state()
        metadata = await self.location.latest_completed(verify_checksums=True)
        if metadata is None:
            return None
        return metadata, self.location.checkpoint_uri(metadata.checkpoint_id)

    async def _recover_shared_state(self) -> None:
        for metadata in await self.location.list_completed():
            self.shared_state.complete(metadata.checkpoint_id,
                                       [h.path for h in metadata.shared_handles()])
        orphans = [path for path in await self.location.list_shared()
                   if not self.shared_state.holds(path)]
        await self.location.delete_shared(orphans)
        self._recovered = True
