"""A TaskManager process's working directory: what a killed process left is deleted by the
next one to use the local directory, a living process's is kept, and a process that ends
normally deletes its own. Real processes: the lock is the kernel's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from weir.taskmanager.state.working_directory import PREFIX, working_directory

# Claims a working directory, writes a "database" in it, prints its path, then waits
# for stdin to close.
_TASKMANAGER = """
import sys
from weir.taskmanager.state.working_directory import working_directory
directory = working_directory(sys.argv[1])
with open(directory + "/db-0", "w") as db:
    db.write("state")
print(directory, flush=True)
sys.stdin.read()
"""


def _start(localdir: Path) -> tuple[subprocess.Popen[str], Path]:
    process = subprocess.Popen([sys.executable, "-c", _TASKMANAGER, str(localdir)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, Path(process.stdout.readline().strip())


def _working_directories(localdir: Path) -> list[Path]:
    return sorted(p for p in localdir.iterdir() if p.name.startswith(PREFIX))


def test_a_killed_processes_directory_goes_with_the_next_claim_a_living_ones_stays(tmp_path):
    localdir = tmp_path / "rocksdb"
    killed, killed_directory = _start(localdir)
    living, living_directory = _start(localdir)
    assert killed_directory != living_directory
    assert (killed_directory / "db-0").read_text() == "state"
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=10)
    assert killed_directory.exists()  # nothing deleted it yet

    after, after_directory = _start(localdir)
    assert _working_directories(localdir) == sorted([living_directory, after_directory])
    assert (living_directory / "db-0").read_text() == "state"

    for process in (after, living):  # a normal exit deletes the process's own
        process.communicate("", timeout=10)
        assert process.returncode == 0
    assert _working_directories(localdir) == []


def test_a_directory_deleted_under_a_process_is_claimed_again(tmp_path):
    localdir = tmp_path / "rocksdb"
    first = working_directory(str(localdir))
    os.rename(first, tmp_path / "moved")  # as a /tmp cleaner would remove it
    second = working_directory(str(localdir))
    assert second != first and os.path.isdir(second)
    assert os.listdir(second) == [".lock"]
