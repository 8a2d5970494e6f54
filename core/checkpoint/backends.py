"""Which storage serves a URI."""

from __future__ import annotations

from collections.abc import Mapping

from weir.checkpoint.file_storage import FileCheckpointStorage
from weir.checkpoint.storage import CheckpointStorage, parse_storage_uri

__all__ = ["storage_for"]


def storage_for(uri: str, configuration: Mapping[str, str] | None = None) -> CheckpointStorage:
    """The storage rooted at ``uri`` (``file://…``, a plain absolute path, or
    ``s3://bucket/prefix``); S3 reads ``s3.endpoint``, ``s3.access-key``, ``s3.secret-key``,
    ``s3.path.style.access`` and ``s3.region`` from ``configuration``. Creating a storage does
    no I/O.

    Raises:
        CheckpointStorageError: unsupported scheme or malformed URI or S3 options.
    """
    parsed = parse_storage_uri(uri)
    if parsed.scheme == "s3":
        # Imported here: the S3 client (obstore) loads only for jobs that use S3.
        from weir.checkpoint.s3_storage import S3CheckpointStorage

        return S3CheckpointStorage.create(parsed, configuration or {})
    return FileCheckpointStorage(parsed.path)
