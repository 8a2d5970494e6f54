"""A completed checkpoint's ``_metadata``: what it holds and its JSON form.

The file is JSON so that a person can read it (``cat chk-7/_metadata``). It names its
format and version, and carries a SHA-256 of its own canonical body, so a damaged file is
detected even when it still parses. State handle paths are relative to the checkpoint's
directory: a savepoint directory can be moved or copied and still be loaded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from weir.checkpoint.storage import CorruptCheckpointError, StateHandle

__all__ = ["FORMAT", "FORMAT_VERSION", "METADATA_FILE", "CheckpointMetadata"]

METADATA_FILE = "_metadata"
FORMAT = "weir-checkpoint-metadata"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class CheckpointMetadata:
    """One completed checkpoint or savepoint.

    ``task_states``: vertex id → subtask index → handle of that subtask's state file.
    ``operator_states``: vertex id → the operator ids (uids) of that vertex that had state,
    used to match state to operators on restore.
    ``shared_states``: vertex id → subtask index → the files of the job's shared directory
    (``<job-dir>/shared/``, paths relative to it) that subtask's state references
    (incremental RocksDB checkpoints; savepoints have none).
    """

    job_id: str
    checkpoint_id: int
    timestamp_ms: int
    duration_ms: int
    is_savepoint: bool
    task_states: dict[str, dict[int, StateHandle]] = field(default_factory=dict)
    vertex_parallelism: dict[str, int] = field(default_factory=dict)
    operator_states: dict[str, list[str]] = field(default_factory=dict)
    shared_states: dict[str, dict[int, list[StateHandle]]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Bytes of state (the sizes of the state files and of every shared file
        referenced)."""
        return sum(handle.size for handle in self.handles()) + sum(
            handle.size for handle in self.shared_handles())

    def handles(self) -> Iterator[StateHandle]:
        for subtasks in self.task_states.values():
            yield from subtasks.values()

    def shared_handles(self) -> Iterator[StateHandle]:
        """Every shared file referenced, once."""
        seen: set[str] = set()
        for subtasks in self.shared_states.values():
            for handles in subtasks.values():
                for handle in handles:
                    if handle.path not in seen:
                        seen.add(handle.path)
                        yield handle

    def to_json(self) -> bytes:
        body = _body(self)
        document = {"format": FORMAT, "version": FORMAT_VERSION, **body,
                     "sha256": _digest(body)}
        return json.dumps(document, indent=2, sort_keys=True).encode()

    @staticmethod
    def from_json(data: bytes, source: str = "_metadata") -> CheckpointMetadata:
        """Raises CorruptCheckpointError (naming ``source``) for anything but an intact
        document of this format and version."""
        try:
            document = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CorruptCheckpointError(f"{source} is not valid JSON: {error}") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise CorruptCheckpointError(f"{source} is not weir checkpoint metadata")
        if document.get("version") != FORMAT_VERSION:
            raise CorruptCheckpointError(
                f"{source} has metadata format version {document.get('version')!r}; this weir "
                f"reads version {FORMAT_VERSION}")
        body = {k: v for k, v in document.items() if k not in ("format", "version", "sha256")}
        if document.get("sha256") != _digest(body):
            raise CorruptCheckpointError(f"{source} fails its checksum (the file is damaged)")
        try:
            return _from_body(body)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise CorruptCheckpointError(f"{source} is malformed: {error!r}") from None


def _body(m: CheckpointMetadata) -> dict[str, Any]:
    body = _base_body(m)
    if m.shared_states:  # absent without shared state: older documents keep their digest
        body["shared_states"] = {
            vertex: {str(subtask): [_handle_body(h) for h in handles]
                     for subtask, handles in subtasks.items()}
            for vertex, subtasks in m.shared_states.items()}
    return body


def _handle_body(h: StateHandle) -> dict[str, Any]:
    return {"path": h.path, "size": h.size, "sha256": h.sha256}


def _handle(h: dict[str, Any]) -> StateHandle:
    return StateHandle(str(h["path"]), _int(h["size"]), str(h["sha256"]))


def _base_body(m: CheckpointMetadata) -> dict[str, Any]:
    return {
        "job_id": m.job_id, "checkpoint_id": m.checkpoint_id, "timestamp_ms": m.timestamp_ms,
        "duration_ms": m.duration_ms, "is_savepoint": m.is_savepoint,
        "vertex_parallelism": dict(m.vertex_parallelism),
        "operator_states": {v: list(ops) for v, ops in m.operator_states.items()},
        "task_states": {
            vertex: {str(subtask): _handle_body(h) for subtask, h in subtasks.items()}
            for vertex, subtasks in m.task_states.items()},
    }


def _from_body(body: dict[str, Any]) -> CheckpointMetadata:
    return CheckpointMetadata(
        job_id=str(body["job_id"]), checkpoint_id=_int(body["checkpoint_id"]),
        timestamp_ms=_int(body["timestamp_ms"]), duration_ms=_int(body["duration_ms"]),
        is_savepoint=bool(body["is_savepoint"]),
        task_states={
            str(vertex): {int(subtask): _handle(h) for subtask, h in subtasks.items()}
            for vertex, subtasks in body["task_states"].items()},
        vertex_parallelism={str(v): _int(p) for v, p in body["vertex_parallelism"].items()},
        operator_states={str(v): [str(op) for op in ops]
                         for v, ops in body.get("operator_states", {}).items()},
        shared_states={str(v): {int(subtask): [_handle(h) for h in handles]
                                for subtask, handles in subtasks.items()}
                       for v, subtasks in body.get("shared_states", {}).items()},
    )


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _digest(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()
