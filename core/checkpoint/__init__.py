"""Checkpoint storage, layout and settings: the contract between the client, the JobManager
and the TaskManagers (``file://`` and ``s3://`` storage, ``_metadata``, ``chk-<n>``)."""

from weir.checkpoint.backends import storage_for
from weir.checkpoint.location import (
    SHARED_DIR,
    CheckpointDirectory,
    CheckpointLocation,
    checkpoint_dir_name,
    load_savepoint,
    savepoint_dir_name,
    savepoint_directory,
    shared_dir_uri,
    state_file_name,
)
from weir.checkpoint.metadata import METADATA_FILE, CheckpointMetadata
from weir.checkpoint.settings import (
    CheckpointingMode,
    CheckpointSettings,
    checkpoint_settings,
)
from weir.checkpoint.storage import (
    CheckpointFileNotFoundError,
    CheckpointStorage,
    CheckpointStorageError,
    CorruptCheckpointError,
    StateHandle,
    join_uri,
    parse_storage_uri,
)

__all__ = [
    "METADATA_FILE",
    "SHARED_DIR",
    "CheckpointDirectory",
    "CheckpointFileNotFoundError",
    "CheckpointLocation",
    "CheckpointMetadata",
    "CheckpointSettings",
    "CheckpointStorage",
    "CheckpointStorageError",
    "CheckpointingMode",
    "CorruptCheckpointError",
    "StateHandle",
    "checkpoint_dir_name",
    "checkpoint_settings",
    "join_uri",
    "load_savepoint",
    "parse_storage_uri",
    "savepoint_dir_name",
    "savepoint_directory",
    "shared_dir_uri",
    "state_file_name",
    "storage_for",
]
