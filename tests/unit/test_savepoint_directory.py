"""A savepoint into a directory that cannot take files fails at once, naming the savepoint
directory and saying it is not writable (not "checkpoint N failed … check the checkpoint
directory" after every task tried to upload)."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest

from weir.checkpoint import CheckpointStorageError, storage_for
from weir.jobmanager.dispatcher import Dispatcher, JobSubmissionError
from weir.proto import jobmanager_pb2 as pb

JOB = "e" * 32


def test_a_writable_directory_passes_and_keeps_no_probe(tmp_path: Path) -> None:
    target = tmp_path / "savepoints" / "new"

    asyncio.run(storage_for(str(target)).check_writable())

    assert target.is_dir() and list(target.iterdir()) == []


def test_a_directory_below_a_file_is_not_writable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")

    with pytest.raises(CheckpointStorageError, match="Not a directory"):
        asyncio.run(storage_for(str(tmp_path / "file" / "savepoints")).check_writable())


@dataclass
class FakeMaster:
    """What the Dispatcher reads of a job to take a savepoint of it."""

    savepoint_dir: str = ""
    triggered: list[str] = field(default_factory=list)
    graph: pb.JobGraph = field(default_factory=pb.JobGraph)

    @property
    def coordinator(self) -> SimpleNamespace:
        return SimpleNamespace(settings=SimpleNamespace(savepoint_dir=self.savepoint_dir))

    async def trigger_savepoint(self, target: str, stop: bool) -> str:
        self.triggered.append(target)
        return target


def _savepoint(master: FakeMaster, target_directory: str) -> str:
    dispatcher = Dispatcher(SimpleNamespace(gateways={}, infos={}))  # type: ignore[arg-type]
    dispatcher.jobs[JOB] = master  # type: ignore[assignment]
    return asyncio.run(dispatcher.trigger_savepoint(JOB, target_directory, stop=False))


def test_a_savepoint_into_an_unwritable_directory_names_it(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    target = f"file://{tmp_path}/file/savepoints"
    master = FakeMaster()

    with pytest.raises(JobSubmissionError) as refused:
        _savepoint(master, target)

    assert str(refused.value) == (f"the savepoint directory {target} is not writable "
                                  "(Not a directory)")
    assert master.triggered == []


def test_the_configured_savepoint_directory_is_checked_too(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    master = FakeMaster(savepoint_dir=f"file://{tmp_path}/file/savepoints")

    with pytest.raises(JobSubmissionError, match="is not writable"):
        _savepoint(master, "")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_directory(tmp_path: Path) -> None:
    read_only = tmp_path / "read-only"
    read_only.mkdir(mode=0o555)

    with pytest.raises(JobSubmissionError) as refused:
        _savepoint(FakeMaster(), f"file://{read_only}")

    assert str(refused.value) == (f"the savepoint directory file://{read_only} is not "
                                  "writable (Permission denied)")


def test_a_writable_directory_takes_the_savepoint(tmp_path: Path) -> None:
    master = FakeMaster()

    path = _savepoint(master, f"file://{tmp_path}")

    assert master.triggered == [path]
    assert path.startswith(f"file://{tmp_path}/savepoint-")
