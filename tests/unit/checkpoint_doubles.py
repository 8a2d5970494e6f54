"""An in-memory completed-checkpoint store for JobManager unit tests: it writes nothing and
has no checkpoint to restore from."""

from __future__ import annotations

from weir.checkpoint import CheckpointMetadata

__all__ = ["MemoryCheckpointStore"]


class MemoryCheckpointStore:
    async def latest_completed(self) -> tuple[CheckpointMetadata, str] | None:
        return None

    def checkpoint_uri(self, checkpoint_id: int) -> str:
        return f"memory:///chk-{checkpoint_id}"

    async def write_metadata(self, target_uri: str, metadata: CheckpointMetadata) -> None:
        pass

    async def retain(self, num_retained: int) -> None:
        pass

    async def discard(self, target_uri: str) -> None:
        pass
