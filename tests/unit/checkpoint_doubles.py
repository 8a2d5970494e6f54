"""An in-memory completed-checkpoint store for JobManager unit tests: it writes nothing and
has no checkpoint to restore from."""

from __future__ import annotations

from weir.checkpoint import CheckpointMetadata
from weir.jobmanager.shared_state_registry import SharedStateRegistry

__all__ = ["MemoryCheckpointStore"]


class MemoryCheckpointStore:
    shared_uri = "memory:///shared"

    def __init__(self) -> None:
        self.shared_state = SharedStateRegistry()

    async def latest_completed(self) -> tuple[CheckpointMetadata, str] | None:
        return None

    def checkpoint_uri(self, checkpoint_id: int) -> str:
        return f"memory:///chk-{checkpoint_id}"

    async def write_metadata(self, target_uri: str, metadata: CheckpointMetadata) -> None:
        pass

    async def retain(self, num_retained: int) -> list[int]:
        return []

    async def discard(self, target_uri: str) -> None:
        pass

    async def delete_shared(self, paths: list[str]) -> None:
        pass
