"""A TaskManager process's own directory under a local directory (Flink's TaskManager
working directory), and the removal of those whose process is gone.

RocksDB keeps a subtask's databases on local disk. A TaskManager that is killed (a lost
node, an out-of-memory kill, ``ray.kill``) never disposes of them, and every attempt opens
fresh ones, so each failover would leave a whole copy of the state behind. So a process
keeps its databases under ``<localdir>/weir-taskmanager-<id>`` and holds an exclusive
``flock`` on the ``.lock`` inside for as long as it lives: the kernel releases the lock
when the process ends, however it ends. ``working_directory`` deletes every such
directory whose lock it can take, then hands out this process's own.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import shutil
import tempfile
import threading

__all__ = ["PREFIX", "working_directory"]

PREFIX = "weir-taskmanager-"
_STAGING_PREFIX = ".weir-staging-"  # a directory being claimed: no sweep looks at it
_LOCK_FILE = ".lock"

_owned: dict[str, tuple[str, int]] = {}  # localdir -> (this process's directory, lock fd)
_owned_lock = threading.Lock()  # in-process TaskManagers share the process's directories


def working_directory(localdir: str) -> str:
    """This process's directory under ``localdir``, made on first use; first deletes the
    directories of processes that ended.

    Raises:
        OSError: when ``localdir`` or the directory cannot be made.
    """
    localdir = os.path.realpath(localdir)
    with _owned_lock:
        os.makedirs(localdir, exist_ok=True)
        _delete_abandoned(localdir)
        owned = _owned.get(localdir)
        if owned is None or not os.path.isdir(owned[0]):  # first use, or deleted under us
            if owned is not None:
                os.close(owned[1])
            elif not _owned:
                atexit.register(_release_all)
            _owned[localdir] = owned = _claim(localdir)
        return owned[0]


def _claim(localdir: str) -> tuple[str, int]:
    """A new directory with its lock held. It is locked under a name no sweep looks at and
    renamed after, so a sweep never finds it unlocked."""
    staging = tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=localdir)
    fd = os.open(os.path.join(staging, _LOCK_FILE), os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    directory = os.path.join(localdir,
                             PREFIX + os.path.basename(staging)[len(_STAGING_PREFIX):])
    os.rename(staging, directory)
    return directory, fd


def _delete_abandoned(localdir: str) -> None:
    """Delete the working directories under ``localdir`` whose lock is free."""
    own = {directory for directory, _ in _owned.values()}
    with os.scandir(localdir) as entries:
        candidates = [entry.path for entry in entries
                      if entry.name.startswith(PREFIX) and entry.is_dir(follow_symlinks=False)
                      and entry.path not in own]
    for directory in candidates:
        try:
            fd = os.open(os.path.join(directory, _LOCK_FILE), os.O_RDWR)
        except OSError:  # gone already (another sweep), or not ours
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            shutil.rmtree(directory, ignore_errors=True)
        except BlockingIOError:  # its process lives
            pass
        finally:
            os.close(fd)


def _release_all() -> None:
    """At a normal exit: delete this process's directories (a killed one leaves them to the
    next sweep)."""
    with _owned_lock:
        for directory, fd in _owned.values():
            shutil.rmtree(directory, ignore_errors=True)
            os.close(fd)
        _owned.clear()
