"""Part-file names and the records the FileSink's writer and committer exchange.

A part file goes through three states, as in Flink:

- in progress: the writer appends to it. Data written since the last
  checkpoint sits in a local spool; at each checkpoint it is uploaded as one
  more hidden *segment* object, so the part's data up to the checkpoint is
  durable (and hidden) while the part stays open across checkpoints;
- pending: the part rolled; its segments are described by a ``FileCommittable``;
- finished: the committer published it under its visible name.

Every object the writer uploads is hidden: ``.<prefix>-<uid>-<n><suffix>.inprogress.<id>``
with a fresh random ``<id>`` per upload, so no two uploads ever share a name.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

__all__ = ["FileCommittable", "FileWriterState", "InProgressPartState", "bucket_path",
           "part_file_name", "segment_path"]


@dataclass(frozen=True)
class FileCommittable:
    """A pending part: publish the concatenation of ``segments`` as ``final_path``.

    Paths are relative to the sink's base path.
    """

    final_path: str
    segments: tuple[str, ...]


@dataclass(frozen=True)
class InProgressPartState:
    """An in-progress part as of a checkpoint: its uploaded segments, in order."""

    bucket_id: str
    part_index: int
    segments: tuple[str, ...]
    size: int
    creation_time: int
    last_update_time: int


@dataclass(frozen=True)
class FileWriterState:
    """A writer subtask's state in a checkpoint.

    ``uid`` names this subtask's part files and is kept across restarts;
    ``next_part_index`` is the counter of the next part file.
    """

    uid: str
    next_part_index: int
    in_progress: tuple[InProgressPartState, ...]


def bucket_path(bucket_id: str, name: str) -> str:
    """The path of ``name`` in bucket ``bucket_id``, relative to the base path."""
    if not bucket_id:
        return name
    parts = bucket_id.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"FileSink: invalid bucket id {bucket_id!r} from the bucket assigner: "
                         "it must be a relative path without empty, '.' or '..' components")
    return f"{bucket_id}/{name}"


def part_file_name(prefix: str, uid: str, part_index: int, suffix: str) -> str:
    """The visible name of a finished part file: ``<prefix>-<uid>-<n><suffix>``."""
    return f"{prefix}-{uid}-{part_index}{suffix}"


def segment_path(final_path: str) -> str:
    """A fresh hidden object path for one upload of data of the part at ``final_path``."""
    directory, _, name = final_path.rpartition("/")
    hidden = f".{name}.inprogress.{uuid.uuid4().hex}"
    return f"{directory}/{hidden}" if directory else hidden
