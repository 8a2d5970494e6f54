"""Which files a FileSource reads and which source subtask reads each: the split
enumerator's decisions as pure functions (Flink's ``NonSplittingRecursiveEnumerator``,
``DefaultFileFilter`` and split assignment).

Each file is one split. Every reader lists the source's paths itself and keeps the files
``split_owner`` gives it: the owner depends only on the file's URI and the parallelism, so
readers that list at different moments (or after new files appeared) still agree, without
a coordinator.
"""

from __future__ import annotations

from collections.abc import Iterable

from weir.keygroups import stable_hash

__all__ = ["assigned_files", "is_hidden", "split_owner"]


def is_hidden(relative_path: str) -> bool:
    """Whether a file below a source path is skipped: it, or a directory on the way to
    it, starts with '.' or '_' (in-progress files, ``_SUCCESS`` markers), as in Flink."""
    return any(segment[:1] in (".", "_") for segment in relative_path.split("/") if segment)


def split_owner(file_uri: str, parallelism: int) -> int:
    """The subtask (0 … parallelism-1) that reads the file ``file_uri``."""
    if parallelism <= 0:
        raise ValueError(f"parallelism must be positive, got {parallelism}")
    return stable_hash(file_uri) % parallelism


def assigned_files(files: Iterable[str], subtask_index: int, parallelism: int) -> list[str]:
    """The files (URIs) subtask ``subtask_index`` of ``parallelism`` reads, sorted."""
    if not 0 <= subtask_index < parallelism:
        raise ValueError(f"subtask {subtask_index} out of range for parallelism {parallelism}")
    return sorted(f for f in set(files) if split_owner(f, parallelism) == subtask_index)
