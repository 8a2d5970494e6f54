"""One job's checkpoints as the JobManager uses them: write ``_metadata``, retain, recover."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

from weir.checkpoint import (
    CheckpointDirectory,
    CheckpointLocation,
    CheckpointMetadata,
    CheckpointSettings,
)

__all__ = ["JobCheckpointStore", "default_checkpoints_dir"]


def default_checkpoints_dir() -> str:
    """Where checkpoints go when ``state.checkpoints.dir`` is not set: a local directory,
    which serves one machine (set ``state.checkpoints.dir`` to s3://… for a cluster)."""
    return (Path(tempfile.gettempdir()) / "weir-checkpoints").as_uri()


class JobCheckpointStore:
    """``<state.checkpoints.dir>/<job-id>/chk-<n>/``; savepoints live wherever they were put."""

    def __init__(self, settings: CheckpointSettings, job_id: str,
                 configuration: Mapping[str, str]) -> None:
        self._configuration = dict(configuration)
        self.location = CheckpointLocation(settings.dir or default_checkpoints_dir(), job_id,
                                           configuration)

    def checkpoint_uri(self, checkpoint_id: int) -> str:
        return self.location.checkpoint_uri(checkpoint_id)

    async def write_metadata(self, target_uri: str, metadata: CheckpointMetadata) -> None:
        """``_metadata`` of a checkpoint of this job or of a savepoint anywhere."""
        await CheckpointDirectory.open(target_uri, self._configuration).complete(metadata)

    async def retain(self, num_retained: int) -> None:
        await self.location.retain(num_retained)

    async def discard(self, target_uri: str) -> None:
        await CheckpointDirectory.open(target_uri, self._configuration).discard()

    async def latest_completed(self) -> tuple[CheckpointMetadata, str] | None:
        """The newest complete checkpoint whose files are all intact (checksums read)."""
        metadata = await self.location.latest_completed(verify_checksums=True)
        if metadata is None:
            return None
        return metadata, self.location.checkpoint_uri(metadata.checkpoint_id)
