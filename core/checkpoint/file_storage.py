"""``file://`` checkpoint storage: a local (or mounted shared) directory."""

from __future__ import annotations

import asyncio
import builtins
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from weir.checkpoint.storage import (
    CheckpointFileNotFoundError,
    CheckpointStorage,
    CheckpointStorageError,
    relative_path,
)

__all__ = ["FileCheckpointStorage"]

T = TypeVar("T")


class FileCheckpointStorage(CheckpointStorage):
    """A local (or mounted shared) directory. Blocking calls run in worker threads."""

    def __init__(self, root: str) -> None:
        self.root = Path(root)
        self.uri = f"file://{root}"

    def _file(self, path: str) -> Path:
        relative = relative_path(path)
        return self.root / relative if relative else self.root

    async def _put(self, path: str, data: bytes, atomic: bool) -> None:
        await _in_thread(_write_file, self._file(path), data, atomic)

    async def read(self, path: str) -> bytes:
        return await _in_thread(self._file(path).read_bytes)

    async def size(self, path: str) -> int:
        return (await _in_thread(self._file(path).stat)).st_size

    async def exists(self, path: str) -> bool:
        return await _in_thread(self._file(path).is_file)

    async def list(self, prefix: str = "") -> list[str]:
        return await _in_thread(_list_files, self.root, self._file(prefix))

    async def list_directories(self, prefix: str = "") -> builtins.list[str]:
        return await _in_thread(_list_directories, self._file(prefix))

    async def delete(self, path: str) -> None:
        await _in_thread(self._file(path).unlink, True)

    async def delete_tree(self, prefix: str) -> None:
        await _in_thread(_remove_tree, self._file(prefix))

    async def rename(self, source: str, target: str) -> None:
        def move() -> None:
            destination = self._file(target)
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._file(source), destination)
        await _in_thread(move)

    def child(self, prefix: str) -> FileCheckpointStorage:
        return FileCheckpointStorage(str(self._file(prefix)))


async def _in_thread(function: Callable[..., T], *args: object) -> T:
    """Run blocking file-system work in a thread, translating OSErrors."""
    try:
        return await asyncio.to_thread(function, *args)
    except FileNotFoundError as error:
        raise CheckpointFileNotFoundError(f"no such file: {error.filename}") \
            from None
    except CheckpointStorageError:
        raise
    except OSError as error:
        raise CheckpointStorageError(
            f"{error.strerror or error} ({error.filename}); check that the directory is "
            "writable and its disk is not full") from error


def _write_file(file: Path, data: bytes, atomic: bool) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    target = file.with_name(f".{file.name}.{uuid.uuid4().hex[:8]}.tmp") if atomic else file
    with open(target, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    if atomic:
        os.replace(target, file)
        directory = os.open(file.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a crash
        finally:
            os.close(directory)


def _list_files(root: Path, directory: Path) -> list[str]:
    if not directory.is_dir():
        return []
    found = []
    for parent, _, names in os.walk(directory):
        found += [(Path(parent) / name).relative_to(root).as_posix() for name in names]
    return sorted(found)


def _list_directories(directory: Path) -> list[str]:
    if not directory.is_dir():
        return []
    return sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())


def _remove_tree(directory: Path) -> None:
    if directory.is_dir():
        shutil.rmtree(directory)
    elif directory.exists():
        directory.unlink()
