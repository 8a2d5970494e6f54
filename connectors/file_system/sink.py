"""``FileSink``: exactly-once part files in buckets on ``file://`` and ``s3://``."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from weir.checkpoint import CheckpointStorageError, parse_storage_uri, storage_for
from weir.checkpoint.redistribution import RedistributedState
from weir.common.serialization import Encoder
from weir.connector import TwoPhaseCommittingSink
from weir.datastream.connectors.file_system._committer import FileCommitter
from weir.datastream.connectors.file_system._parts import FileWriterState
from weir.datastream.connectors.file_system._writer import FileSinkWriter
from weir.datastream.connectors.file_system.buckets import BucketAssigner, DateTimeBucketAssigner
from weir.datastream.connectors.file_system.rolling import RollingPolicy

__all__ = ["FileSink", "OutputFileConfig", "normalize_base_path"]


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def normalize_base_path(base_path: str) -> str:
    """The sink's base path as a ``file://`` or ``s3://bucket[/prefix]`` URI; a plain local
    path becomes an absolute ``file://`` URI.

    Raises:
        ValueError: the path is empty, has another scheme, names no S3 bucket, or is an
            existing local file.
    """
    try:
        parsed = parse_storage_uri(base_path)
    except CheckpointStorageError as error:
        raise ValueError(f"FileSink: invalid base path: {error}") from None
    if parsed.scheme == "file" and os.path.exists(parsed.path) and not os.path.isdir(parsed.path):
        raise ValueError(f"FileSink: base path {base_path!r} exists and is not a directory")
    return str(parsed)


class OutputFileConfig:
    """Part file names: ``<prefix>-<uid>-<n><suffix>`` (default prefix ``part``, no suffix)."""

    def __init__(self, part_prefix: str = "part", part_suffix: str = "") -> None:
        for name, value in (("prefix", part_prefix), ("suffix", part_suffix)):
            if not isinstance(value, str) or "/" in value:
                raise ValueError(f"OutputFileConfig: the part {name} must be a string without "
                                 f"'/', got {value!r}")
        self._part_prefix = part_prefix
        self._part_suffix = part_suffix

    def get_part_prefix(self) -> str:
        return self._part_prefix

    def get_part_suffix(self) -> str:
        return self._part_suffix

    @staticmethod
    def builder() -> OutputFileConfig.OutputFileConfigBuilder:
        return OutputFileConfig.OutputFileConfigBuilder()

    class OutputFileConfigBuilder:
        def __init__(self) -> None:
            self.part_prefix = "part"
            self.part_suffix = ""

        def with_part_prefix(self, prefix: str) -> OutputFileConfig.OutputFileConfigBuilder:
            self.part_prefix = prefix
            return self

        def with_part_suffix(self, suffix: str) -> OutputFileConfig.OutputFileConfigBuilder:
            self.part_suffix = suffix
            return self

        def build(self) -> OutputFileConfig:
            return OutputFileConfig(self.part_prefix, self.part_suffix)


class FileSink(TwoPhaseCommittingSink[Any]):
    """Writes records into part files in buckets below a base path, exactly once.

    Each record goes to the bucket (sub-directory) its ``BucketAssigner`` names
    (default: one per hour of processing time, UTC). Each subtask writes its own
    part files, named ``<prefix>-<uid>-<n><suffix>`` where ``uid`` is the
    subtask's id (kept across restarts) and ``n`` counts its parts. Part files
    are in progress, then pending, then finished; only finished ones are
    visible: the others' names start with ``.``. Parts roll per the
    ``RollingPolicy`` and become finished when the next checkpoint completes
    (at the end of input when the job does not checkpoint).

    Build it with ``FileSink.for_row_format(base_path, encoder)…build()``.
    ``clock_ms`` (milliseconds since the epoch) is for tests.
    """

    def __init__(self, base_path: str, encoder: Encoder, *,
                 bucket_assigner: BucketAssigner | None = None,
                 rolling_policy: RollingPolicy | None = None,
                 output_file_config: OutputFileConfig | None = None,
                 bucket_check_interval: int = 60 * 1000,
                 clock_ms: Callable[[], int] = _wall_clock_ms) -> None:
        if not isinstance(encoder, Encoder):
            raise TypeError(f"FileSink: encoder must be an Encoder (e.g. "
                            f"Encoder.simple_string_encoder()), got {type(encoder).__name__}")
        for name, value, kind in (("bucket_assigner", bucket_assigner, BucketAssigner),
                                  ("rolling_policy", rolling_policy, RollingPolicy),
                                  ("output_file_config", output_file_config, OutputFileConfig)):
            if value is not None and not isinstance(value, kind):
                raise TypeError(f"FileSink: {name} must be a {kind.__name__}, "
                                f"got {type(value).__name__}")
        if not isinstance(bucket_check_interval, int) or bucket_check_interval <= 0:
            raise ValueError(f"FileSink: bucket_check_interval must be a positive number of "
                             f"milliseconds, got {bucket_check_interval!r}")
        self.base_path = normalize_base_path(base_path)
        self.encoder = encoder
        self.bucket_assigner = bucket_assigner or DateTimeBucketAssigner()
        self.rolling_policy = rolling_policy or RollingPolicy.default_rolling_policy()
        self.output_file_config = output_file_config or OutputFileConfig()
        self.bucket_check_interval = bucket_check_interval
        self.clock_ms = clock_ms
        self._configuration: dict[str, str] = {}

    @staticmethod
    def for_row_format(base_path: str, encoder: Encoder) -> FileSink.RowFormatBuilder:
        return FileSink.RowFormatBuilder(base_path, encoder)

    def configure(self, configuration: Mapping[str, str]) -> None:
        """Take the S3 settings (``s3.endpoint``, ``s3.access-key``, …) from the job's configuration."""
        self._configuration = dict(configuration)

    def create_writer(self, subtask_index: int, parallelism: int,
                      restored_state: Any = None) -> FileSinkWriter:
        states = (restored_state if isinstance(restored_state, RedistributedState)
                  else [] if restored_state is None else [restored_state])
        for state in states:
            if not isinstance(state, FileWriterState):
                raise TypeError(f"FileSink: cannot restore writer state of type "
                                f"{type(state).__name__}")
        config = self.output_file_config
        return FileSinkWriter(
            storage_for(self.base_path, self._configuration), self.encoder,
            self.bucket_assigner, self.rolling_policy, config.get_part_prefix(),
            config.get_part_suffix(), self.bucket_check_interval, self.clock_ms, restored_state)

    def create_committer(self) -> FileCommitter:
        return FileCommitter(storage_for(self.base_path, self._configuration))

    class RowFormatBuilder:
        """Configures a row-format ``FileSink``; ``build()`` makes it."""

        def __init__(self, base_path: str, encoder: Encoder) -> None:
            self._base_path = base_path
            self._encoder = encoder
            self._settings: dict[str, Any] = {}

        def with_bucket_check_interval(self, interval: int) -> FileSink.RowFormatBuilder:
            """How often (ms) parts are checked for rolling by time (default 60000)."""
            self._settings["bucket_check_interval"] = interval
            return self

        def with_bucket_assigner(self, bucket_assigner: BucketAssigner,
                                 ) -> FileSink.RowFormatBuilder:
            self._settings["bucket_assigner"] = bucket_assigner
            return self

        def with_rolling_policy(self, rolling_policy: RollingPolicy) -> FileSink.RowFormatBuilder:
            self._settings["rolling_policy"] = rolling_policy
            return self

        def with_output_file_config(self, output_file_config: OutputFileConfig,
                                    ) -> FileSink.RowFormatBuilder:
            self._settings["output_file_config"] = output_file_config
            return self

        def build(self) -> FileSink:
            return FileSink(self._base_path, self._encoder, **self._settings)
