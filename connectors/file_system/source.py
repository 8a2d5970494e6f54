"""``FileSource`` (``pyflink.datastream.connectors.file_system``): reads the files below
``file://`` or ``s3://`` paths, line by line, bounded or monitoring for new files.

``FileSource.for_record_stream_format(StreamFormat.text_line_format(), *paths).build()``
returns a frozen description; nothing is opened until a TaskManager runs its readers
(``weir.datastream.connectors.file_system._source_reader``).
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from typing import Any

from weir.checkpoint import CheckpointStorageError, parse_storage_uri
from weir.common.time import Duration
from weir.connector import Source, SourceReader

__all__ = [
    "FileEnumeratorProvider",
    "FileSource",
    "FileSourceBuilder",
    "FileSplitAssignerProvider",
    "StreamFormat",
]


class StreamFormat:
    """How a file's bytes become records. ``text_line_format`` is the one weir has: a
    record per line, without its line terminator (``\\n`` or ``\\r\\n``)."""

    def __init__(self, charset_name: str) -> None:
        self.charset_name = charset_name

    @staticmethod
    def text_line_format(charset_name: str = "UTF-8") -> StreamFormat:
        """Lines of text in ``charset_name`` (an ASCII-compatible charset, where a line ends
        with the byte 0x0A); undecodable bytes become U+FFFD, as Java's decoder does."""
        try:
            codecs.lookup(charset_name)
        except (LookupError, TypeError):
            raise ValueError(f"StreamFormat.text_line_format: unsupported charset "
                             f"{charset_name!r}") from None
        if "\n".encode(charset_name) != b"\n":
            raise ValueError(f"StreamFormat.text_line_format: charset {charset_name!r} is not "
                             "ASCII-compatible (a line must end with the byte 0x0A)")
        return StreamFormat(charset_name)


class FileEnumeratorProvider:
    """Which files the source reads: every file below its paths, recursively, except hidden
    ones (a name starting with '.' or '_'). Both of Flink's enumerators read each file as
    one split here (weir does not split files)."""

    @staticmethod
    def default_splittable_file_enumerator() -> FileEnumeratorProvider:
        return FileEnumeratorProvider()

    @staticmethod
    def default_non_splittable_file_enumerator() -> FileEnumeratorProvider:
        return FileEnumeratorProvider()


class FileSplitAssignerProvider:
    """Which reader reads which file: in weir always a pure function of the file's URI
    (``weir.datastream.connectors.file_system.enumerator.split_owner``)."""

    @staticmethod
    def locality_aware_split_assigner() -> FileSplitAssignerProvider:
        return FileSplitAssignerProvider()


class FileSource(Source[str]):
    """Reads files below ``paths``; bounded unless ``discovery_interval_ms`` is set.

    Each file is a split, read by the subtask the enumerator assigns it to, from a byte
    offset that is in the checkpoints (``FileSourcePosition``). Bounded: the files under the
    paths when a reader starts. Continuous: the paths are listed again every
    ``discovery_interval_ms`` and new files are read; the source never ends.
    """

    def __init__(self, stream_format: StreamFormat, paths: tuple[str, ...],
                 discovery_interval_ms: int | None) -> None:
        self.stream_format = stream_format
        self.paths = paths
        self.discovery_interval_ms = discovery_interval_ms
        self.configuration: dict[str, str] = {}

    @staticmethod
    def for_record_stream_format(stream_format: StreamFormat, *paths: str) -> FileSourceBuilder:
        """A builder of a source that reads ``paths`` (files or directories, ``file://``, a
        plain path, or ``s3://bucket/prefix``) with ``stream_format``."""
        return FileSourceBuilder(stream_format, paths)

    def is_bounded(self) -> bool:
        return self.discovery_interval_ms is None

    def configure(self, configuration: Mapping[str, str]) -> None:
        """Take the S3 settings (``s3.endpoint``, ``s3.access-key``, …) from the job's
        configuration."""
        self.configuration = dict(configuration)

    def create_reader(self, subtask_index: int, parallelism: int) -> SourceReader[Any]:
        from weir.datastream.connectors.file_system._source_reader import FileSourceReader

        return FileSourceReader(self, subtask_index, parallelism)


class FileSourceBuilder:
    """Configures a ``FileSource``; ``build()`` returns it. Bounded by default."""

    def __init__(self, stream_format: StreamFormat, paths: tuple[str, ...]) -> None:
        if not isinstance(stream_format, StreamFormat):
            raise TypeError("FileSource.for_record_stream_format() takes a StreamFormat "
                            "(e.g. StreamFormat.text_line_format()), got "
                            f"{type(stream_format).__name__}")
        if not paths:
            raise ValueError("FileSource.for_record_stream_format(): paths must not be empty")
        self._format = stream_format
        self._paths = tuple(_normalize_path(path) for path in paths)
        self._discovery_interval_ms: int | None = None

    def monitor_continuously(self, discovery_interval: Duration) -> FileSourceBuilder:
        """Make the source unbounded: list the paths every ``discovery_interval`` and read
        the files that appeared."""
        if not isinstance(discovery_interval, Duration):
            raise TypeError("monitor_continuously() takes a Duration, e.g. "
                            f"Duration.of_seconds(10), got {type(discovery_interval).__name__}")
        if discovery_interval.to_milliseconds() <= 0:
            raise ValueError(f"monitor_continuously(): discovery interval must be > 0, got "
                             f"{discovery_interval.to_milliseconds()} ms")
        self._discovery_interval_ms = discovery_interval.to_milliseconds()
        return self

    def process_static_file_set(self) -> FileSourceBuilder:
        """Make the source bounded (the default): read the files there are, then end."""
        self._discovery_interval_ms = None
        return self

    def set_file_enumerator(self, file_enumerator: FileEnumeratorProvider) -> FileSourceBuilder:
        if not isinstance(file_enumerator, FileEnumeratorProvider):
            raise TypeError("set_file_enumerator() takes a FileEnumeratorProvider, got "
                            f"{type(file_enumerator).__name__}")
        return self

    def set_split_assigner(self, split_assigner: FileSplitAssignerProvider) -> FileSourceBuilder:
        if not isinstance(split_assigner, FileSplitAssignerProvider):
            raise TypeError("set_split_assigner() takes a FileSplitAssignerProvider, got "
                            f"{type(split_assigner).__name__}")
        return self

    def build(self) -> FileSource:
        return FileSource(self._format, self._paths, self._discovery_interval_ms)


def _normalize_path(path: str) -> str:
    """``path`` as a ``file://`` (absolute, on the client) or ``s3://`` URI."""
    try:
        return str(parse_storage_uri(path))
    except CheckpointStorageError as error:
        raise ValueError(f"FileSource: invalid path: {error}") from None
