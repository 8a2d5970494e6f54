"""Listing a FileSource's paths and reading a file's lines from a byte offset, on
``file://`` and ``s3://`` (through the checkpoint storage layer's file systems), plain or
compressed (as Flink's stream formats, by the file name's suffix)."""

from __future__ import annotations

import asyncio
import bz2
import gzip
import io
import lzma
import os
from collections.abc import Mapping
from typing import BinaryIO

from weir.checkpoint import join_uri, parse_storage_uri, storage_for
from weir.datastream.connectors.file_system.enumerator import is_hidden

__all__ = ["LineReader", "list_files"]

_CHUNK_BYTES = 1 << 20
_Stream = BinaryIO | io.BufferedIOBase  # a file, or a decompressor reading one


def _missing(uri: str) -> FileNotFoundError:
    return FileNotFoundError(f"FileSource: File {uri} does not exist or the user running weir "
                             "has insufficient permissions to access it.")


async def list_files(path: str, configuration: Mapping[str, str], must_exist: bool) -> list[str]:
    """The URIs of the files ``path`` names: itself, when it is a file, else the files below
    it that are not hidden, sorted.

    Raises:
        FileNotFoundError: the path does not exist (on S3: neither an object nor a prefix of
            any, unless not ``must_exist``: an S3 "directory" is there once it has a file).
        CheckpointStorageError: the file system cannot be read, saying why.
    """
    parsed = parse_storage_uri(path)
    storage = storage_for(path, configuration)
    if parsed.scheme == "file":
        if await asyncio.to_thread(os.path.isfile, parsed.path):
            return [path]
        if not await asyncio.to_thread(os.path.isdir, parsed.path):
            raise _missing(path)
    files = await storage.list("")
    if not files and await storage.exists(""):  # an S3 object
        return [storage.uri]
    if not files and must_exist and parsed.scheme != "file":
        raise _missing(path)
    return [join_uri(storage.uri, file) for file in files if not is_hidden(file)]


class LineReader:
    """The lines of one file from a byte offset on; ``offset`` is where the next line
    starts (the position a checkpoint keeps), counted in the decompressed bytes of a file
    whose name ends in ``.gz``, ``.gzip``, ``.bz2`` or ``.xz`` (resuming one decompresses
    it up to there). S3 objects are fetched whole, once."""

    def __init__(self, uri: str, offset: int, charset: str,
                 configuration: Mapping[str, str]) -> None:
        self.uri = uri
        self.offset = offset
        self._charset = charset
        self._configuration = configuration
        self._raw: BinaryIO | None = None  # the file's bytes
        self._stream: _Stream | None = None  # decompressed, after the buffer and the carry
        self._lines: list[bytes] = []  # buffered lines after ``offset``, without b"\n"
        self._index = 0
        self._carry = b""  # the start of a line whose end is not read yet
        self._last_unterminated = False  # the last buffered line ends the file without b"\n"
        self._at_end = False  # the stream is exhausted

    async def read_lines(self, max_lines: int) -> list[str] | None:
        """Up to ``max_lines`` lines (at least one), or None at the end of the file."""
        if self._index >= len(self._lines) and not await self._fill():
            return None
        lines = self._lines[self._index:self._index + max_lines]
        self._index += len(lines)
        consumed = sum(map(len, lines)) + len(lines)
        if self._last_unterminated and self._index == len(self._lines):
            consumed -= 1
        self.offset += consumed
        charset = self._charset
        return [line.decode(charset, "replace").removesuffix("\r") for line in lines]

    def close(self) -> None:
        for stream in (self._stream, self._raw):
            if stream is not None:
                stream.close()
        self._stream = self._raw = None

    async def _fill(self) -> bool:
        """Buffer the next complete lines; False at the end of the file."""
        if self._stream is None:
            self._stream = await self._open()
        size = _CHUNK_BYTES
        while not self._at_end:
            data = self._carry + await asyncio.to_thread(self._stream.read, size)
            self._at_end = len(data) - len(self._carry) < size
            lines = data.split(b"\n")
            self._carry = lines.pop()
            if self._at_end and self._carry:
                lines.append(self._carry)
                self._last_unterminated = True
            if lines:
                self._lines = lines
                self._index = 0
                return True
            size *= 2  # one line longer than the chunk: read more at once
        return False

    async def _open(self) -> _Stream:
        parsed = parse_storage_uri(self.uri)
        if parsed.scheme == "file":
            self._raw = await asyncio.to_thread(_open_local, parsed.path)
        else:
            self._raw = io.BytesIO(await storage_for(self.uri, self._configuration).read(""))
        stream = _decompressed(self._raw, parsed.path)
        await asyncio.to_thread(stream.seek, self.offset)
        return stream


def _open_local(path: str) -> BinaryIO:
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise _missing(f"file://{path}") from None


def _decompressed(raw: BinaryIO, name: str) -> _Stream:
    """``raw``, decompressed as its name's suffix says (closing it leaves ``raw`` open)."""
    suffix = name.rsplit(".", 1)[-1].lower()
    if suffix in ("gz", "gzip"):
        return gzip.GzipFile(fileobj=raw)
    if suffix == "bz2":
        return bz2.BZ2File(raw)
    if suffix == "xz":
        return lzma.LZMAFile(raw)
    return raw
