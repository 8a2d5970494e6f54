"""Upload and download of one subtask's state file in checkpoint storage."""

from __future__ import annotations

from collections.abc import Mapping

from weir.checkpoint import CheckpointStorage, StateHandle, storage_for
from weir.graph.deployment import StateFile

__all__ = ["StateFiles"]


class StateFiles:
    """Reaches checkpoint directories with one storage client per directory URI."""

    def __init__(self, configuration: Mapping[str, str]) -> None:
        self._configuration = dict(configuration)
        self._storages: dict[str, CheckpointStorage] = {}

    def _storage(self, directory: str) -> CheckpointStorage:
        storage = self._storages.get(directory)
        if storage is None:
            storage = self._storages[directory] = storage_for(directory, self._configuration)
        return storage

    async def write(self, directory: str, name: str, data: bytes) -> StateHandle:
        return await self._storage(directory).write(name, data)

    async def read(self, file: StateFile) -> bytes:
        return await self._storage(file.directory).read_verified(
            StateHandle(file.path, file.size, file.sha256))

    async def close(self) -> None:
        for storage in self._storages.values():
            await storage.close()
        self._storages.clear()
