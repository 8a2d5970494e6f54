"""What the CLI shows of checkpoints, savepoints and restarts, and how it names where a
job restores from: pure functions, no JobManager."""

from __future__ import annotations

import os

import pytest

from weir.cli.jobs import job_details_text, short_cause
from weir.cli.savepoints import checkpoints_table, storage_location
from weir.cli.tables import format_bytes
from weir.common.configuration import ConfigError
from weir.executors import SavepointRestoreSettings
from weir.proto import jobmanager_pb2 as pb
from weir.rpc.errors import WeirError

TRACEBACK = """Traceback (most recent call last):
  File "job.py", line 9, in reject
    raise ValueError("unlucky record 13")
ValueError: unlucky record 13
"""


def test_restore_settings_come_from_flinks_keys() -> None:
    assert SavepointRestoreSettings.from_configuration({}) == SavepointRestoreSettings()
    settings = SavepointRestoreSettings.from_configuration({
        "execution.savepoint.path": " s3://bucket/sp-1 ",
        "execution.savepoint.ignore-unclaimed-state": "true"})
    assert settings == SavepointRestoreSettings("s3://bucket/sp-1", True)
    assert settings.to_configuration() == {
        "execution.savepoint.path": "s3://bucket/sp-1",
        "execution.savepoint.ignore-unclaimed-state": "true"}
    assert SavepointRestoreSettings().to_configuration() == {}
    relative = SavepointRestoreSettings.from_configuration({"execution.savepoint.path": "sp"})
    assert relative.path == "file://" + os.path.join(os.getcwd(), "sp")
    with pytest.raises(ConfigError, match="'execution.savepoint.path'.*unsupported scheme"):
        SavepointRestoreSettings.from_configuration({"execution.savepoint.path": "ftp://h/sp"})
    with pytest.raises(ConfigError, match="ignore-unclaimed-state"):
        SavepointRestoreSettings.from_configuration(
            {"execution.savepoint.ignore-unclaimed-state": "maybe"})


def test_a_plain_savepoint_path_becomes_absolute_on_the_client() -> None:
    assert storage_location("sp/savepoint-1", "savepoint path") == \
        "file://" + os.path.join(os.getcwd(), "sp", "savepoint-1")
    assert storage_location("s3://bucket/dir/", "savepoint path") == "s3://bucket/dir"
    with pytest.raises(WeirError, match="invalid savepoint path: .*unsupported scheme 'ftp'"):
        storage_location("ftp://host/dir", "savepoint path")


def test_checkpoints_table_shows_every_kind_and_outcome() -> None:
    table = checkpoints_table([
        pb.CheckpointInfo(id=3, status=pb.IN_PROGRESS, trigger_time=0, duration_ms=40,
                          path="file:///c/chk-3"),
        pb.CheckpointInfo(id=1, status=pb.COMPLETED, trigger_time=0, duration_ms=1250,
                          size_bytes=3 * 1024 + 512, path="file:///c/chk-1"),
        pb.CheckpointInfo(id=2, status=pb.CHECKPOINT_FAILED, is_savepoint=True, trigger_time=0,
                          duration_ms=7, path="file:///sp/savepoint-ab-1",
                          failure_reason="declined by map#0: disk full"),
    ])
    assert table.splitlines() == [
        ("ID  STATUS       KIND        TRIGGERED  DURATION  SIZE     PATH                       "
         "FAILURE"),
        " 1  COMPLETED    checkpoint  -             1.2 s  3.5 KiB  file:///c/chk-1            -",
        (" 2  FAILED       savepoint   -              7 ms        -  file:///sp/savepoint-ab-1  "
         "declined by map#0: disk full"),
        " 3  IN_PROGRESS  checkpoint  -             40 ms        -  file:///c/chk-3            -",
    ]
    assert checkpoints_table([]) == "No checkpoints."


def test_sizes_for_people() -> None:
    assert [format_bytes(n) for n in (0, 1023, 1024, 1536, 5 * 2**20, 3 * 2**40)] == \
        ["0 B", "1023 B", "1.0 KiB", "1.5 KiB", "5.0 MiB", "3.0 TiB"]


def test_status_shows_restarts_and_checkpoints() -> None:
    job = pb.JobDetails(
        job_id="j1", name="counting", state=pb.RUNNING, num_restarts=2,
        last_restart_cause=TRACEBACK,
        checkpoints=pb.CheckpointCounts(completed=5, failed=1, in_progress=1,
                                        latest_completed_id=6,
                                        latest_completed_path="file:///c/j1/chk-6",
                                        restored_id=4,
                                        restored_path="file:///s/savepoint-j1-ab"))
    header = job_details_text(job, now=0).split("\n\n")[0].splitlines()
    assert header[6:] == [
        "Restarts:           2",
        "Last restart cause: ValueError: unlucky record 13",
        "Checkpoints:        5 completed, 1 failed, 1 in progress",
        "Latest checkpoint:  6 file:///c/j1/chk-6",
        "Restored from:      4 file:///s/savepoint-j1-ab",
        "Last checkpoint:    -",
        "Source lag:         -",
    ]
    fresh = job_details_text(pb.JobDetails(job_id="j2", state=pb.RUNNING), now=0)
    assert "Last restart cause: -" in fresh and "Latest checkpoint:  -" in fresh
    assert short_cause("") == "-"
