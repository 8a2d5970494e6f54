"""Checkpoint storage: where checkpoint state, ``_metadata`` and sink files are written.

One async interface, ``CheckpointStorage``, with a ``file://`` and an ``s3://`` implementation
(``weir.checkpoint.file_storage``, ``weir.checkpoint.s3_storage``), chosen by the URI's
scheme (``weir.checkpoint.backends.storage_for``). A storage is rooted at a directory URI; every
path it takes is relative to that root and '/'-separated. Paths never leave the root (no
absolute paths, no '..').
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import os
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = [
    "CheckpointFileNotFoundError",
    "CheckpointStorage",
    "CheckpointStorageError",
    "CorruptCheckpointError",
    "StateHandle",
    "StorageUri",
    "join_uri",
    "parse_storage_uri",
    "relative_path",
    "sha256_hex",
]

SUPPORTED = "file:// (or a plain absolute path) and s3://bucket/prefix"
# Hashing a large buffer on the event loop would stall the task's mailbox for milliseconds.
_HASH_IN_THREAD_BYTES = 1 << 20


class CheckpointStorageError(OSError):
    """Checkpoint storage cannot be used; the message says what to fix."""


class CheckpointFileNotFoundError(CheckpointStorageError, FileNotFoundError):
    """The file (object) does not exist."""


class CorruptCheckpointError(CheckpointStorageError):
    """A checkpoint file or ``_metadata`` does not match what was recorded when it was
    written (size, checksum, or an undecodable ``_metadata``)."""


@dataclass(frozen=True)
class StateHandle:
    """A written file: its path relative to the storage root, size and SHA-256 (hex)."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class StorageUri:
    """A parsed storage URI: ``scheme`` is "file" (``path`` absolute) or "s3" (``bucket``,
    ``path`` = key prefix without slashes at either end)."""

    scheme: str
    path: str
    bucket: str = ""

    def __str__(self) -> str:
        if self.scheme == "s3":
            return f"s3://{self.bucket}/{self.path}".rstrip("/")
        return f"file://{self.path}"


def parse_storage_uri(uri: str) -> StorageUri:
    """Parse a checkpoint, savepoint or sink directory URI.

    Raises:
        CheckpointStorageError: the URI is empty, names no S3 bucket, a ``file://`` host, or
            a scheme other than file and s3.
    """
    if not isinstance(uri, str) or not uri.strip():
        raise CheckpointStorageError(f"a storage URI must be a non-empty string, got {uri!r}; "
                                     f"supported: {SUPPORTED}")
    parts = urlsplit(uri.strip())
    scheme = parts.scheme.lower()
    if scheme == "s3":
        if not parts.netloc:
            raise CheckpointStorageError(f"{uri!r} names no bucket; use s3://bucket/prefix")
        return StorageUri("s3", parts.path.strip("/"), parts.netloc)
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise CheckpointStorageError(
                f"{uri!r} names host {parts.netloc!r}; a file:// URI must be absolute: "
                "file:///dir")
        path = parts.path
    elif scheme:
        raise CheckpointStorageError(f"unsupported scheme {scheme!r} in {uri!r}; weir supports "
                                     f"{SUPPORTED}")
    else:
        path = uri.strip()
    return StorageUri("file", os.path.normpath(os.path.abspath(os.path.expanduser(path))))


def join_uri(uri: str, *parts: str) -> str:
    """``uri`` with '/'-separated ``parts`` appended (e.g. a job or chk-n directory)."""
    tail = "/".join(p.strip("/") for p in parts if p.strip("/"))
    return f"{uri.rstrip('/')}/{tail}" if tail else uri


def relative_path(path: str) -> str:
    """Validate a path relative to a storage root and normalize its slashes.

    Raises:
        CheckpointStorageError: the path is absolute or contains '.' or '..' segments.
    """
    segments = [s for s in str(path).split("/") if s]
    if str(path).startswith("/") or any(s in (".", "..") for s in segments):
        raise CheckpointStorageError(f"invalid storage path {path!r}: paths are relative to the "
                                     "storage root, '/'-separated, without '.' or '..'")
    return "/".join(segments)


async def sha256_hex(data: bytes) -> str:
    if len(data) >= _HASH_IN_THREAD_BYTES:
        return await asyncio.to_thread(lambda: hashlib.sha256(data).hexdigest())
    return hashlib.sha256(data).hexdigest()


class CheckpointStorage(ABC):
    """Files under one root directory URI (``uri``). Methods may run concurrently; a
    storage is used from one event loop. Missing files raise CheckpointFileNotFoundError;
    any other failure raises CheckpointStorageError saying what to fix."""

    uri: str

    async def write(self, path: str, data: bytes) -> StateHandle:
        """Write ``data`` to ``path`` (replacing it) and return its handle.

        A reader may see a partly written file (file://); use ``write_atomic`` for files
        whose presence means something, such as ``_metadata``.
        """
        return await self._write(relative_path(path), data, atomic=False)

    async def write_atomic(self, path: str, data: bytes) -> StateHandle:
        """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
        return await self._write(relative_path(path), data, atomic=True)

    async def _write(self, path: str, data: bytes, atomic: bool) -> StateHandle:
        # The checksum (in a thread for large data) overlaps the upload.
        _, digest = await asyncio.gather(self._put(path, data, atomic), sha256_hex(data))
        return StateHandle(path, len(data), digest)

    async def read_verified(self, handle: StateHandle) -> bytes:
        """Read ``handle.path`` and check its size and SHA-256.

        Raises:
            CorruptCheckpointError: the size or checksum differs from the handle's.
        """
        data = await self.read(handle.path)
        if len(data) != handle.size:
            raise CorruptCheckpointError(
                f"{join_uri(self.uri, handle.path)} has {len(data)} bytes, the checkpoint "
                f"recorded {handle.size}")
        digest = await sha256_hex(data)
        if digest != handle.sha256:
            raise CorruptCheckpointError(
                f"{join_uri(self.uri, handle.path)} fails its checksum (sha256 {digest}, "
                f"the checkpoint recorded {handle.sha256})")
        return data

    async def check_writable(self) -> None:
        """Write and delete a small probe file at the root (a directory is created), so
        that a target that cannot take files fails before any work is done.

        Raises:
            CheckpointStorageError: the root cannot be written, saying why.
        """
        probe = f".weir-write-probe-{uuid.uuid4().hex[:12]}"
        await self.write(probe, b"")
        await self.delete(probe)

    @abstractmethod
    async def _put(self, path: str, data: bytes, atomic: bool) -> None: ...

    @abstractmethod
    async def read(self, path: str) -> bytes: ...

    @abstractmethod
    async def size(self, path: str) -> int:
        """The size in bytes of the file at ``path``."""

    @abstractmethod
    async def exists(self, path: str) -> bool: ...

    @abstractmethod
    async def list(self, prefix: str = "") -> list[str]:
        """Every file below directory ``prefix`` (recursively), as sorted paths relative to
        the root. ``prefix`` matches whole segments: "chk-1" lists "chk-1/x", not "chk-10/x".
        A missing directory lists as empty."""

    @abstractmethod
    async def list_directories(self, prefix: str = "") -> builtins.list[str]:
        """Sorted names of the directories directly below directory ``prefix``."""

    @abstractmethod
    async def delete(self, path: str) -> None:
        """Delete one file; a missing file is not an error."""

    @abstractmethod
    async def delete_tree(self, prefix: str) -> None:
        """Delete every file below directory ``prefix``; "" empties the whole root."""

    @abstractmethod
    async def rename(self, source: str, target: str) -> None:
        """Move a file, replacing ``target`` (atomic on file://; copy then delete on S3)."""

    @abstractmethod
    def child(self, prefix: str) -> CheckpointStorage:
        """A storage rooted at ``prefix`` below this root, sharing this one's client."""

    async def close(self) -> None:
        """Release what this storage holds of its own; the storage must not be used
        afterwards. The built-in storages hold nothing: S3 clients are shared per process
        (by bucket and options) and live as long as it."""
