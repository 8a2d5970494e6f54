"""Checkpoint storage and layout. ``CheckpointStorageContract`` holds the tests every
storage must pass — round trips, listing, retention, ``_metadata`` last, corrupt and
partial checkpoints skipped on recovery, relocatable savepoints — and runs here on
file:// (tmp_path); tests/integration/test_checkpoint_storage_s3.py runs the same tests on
s3:// (a real moto_server). Below them, errors that say what to fix.

Damage and copies are made with independent tools (pathlib / shutil, boto3), not weir.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import shutil
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from obstore.exceptions import PermissionDeniedError

from tests.fixtures.s3 import S3Bucket
from weir.checkpoint import (
    CheckpointDirectory,
    CheckpointFileNotFoundError,
    CheckpointLocation,
    CheckpointMetadata,
    CheckpointStorageError,
    CorruptCheckpointError,
    StateHandle,
    load_savepoint,
    savepoint_directory,
    storage_for,
)
from weir.checkpoint.metadata import FORMAT_VERSION
from weir.checkpoint.s3_storage import s3_error

pytestmark = pytest.mark.timeout(60)

T = TypeVar("T")
JOB = "3f2a9c0d4e5b6a7c8d9e0f1a2b3c4d5e"


def run(coroutine: Awaitable[T]) -> T:
    async def main() -> T:
        return await coroutine
    return asyncio.run(main())


@dataclass
class Backend:
    """One storage kind: a root URI, its configuration, and independent file tools."""

    kind: str
    root: str
    configuration: dict[str, str]
    tmp_path: Path
    bucket: S3Bucket | None = None

    @classmethod
    def on_file(cls, tmp_path: Path) -> Backend:
        return cls("file", f"file://{tmp_path}/root", {}, tmp_path)

    @classmethod
    def on_s3(cls, bucket: S3Bucket, tmp_path: Path) -> Backend:
        return cls("s3", bucket.uri("root"), bucket.configuration, tmp_path, bucket)

    def uri(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    # Independent of weir: pathlib on file://, boto3 on s3://.
    def _key(self, path: str) -> str:
        assert self.bucket is not None
        return f"root/{path}"

    def raw_read(self, path: str) -> bytes:
        if self.bucket is None:
            return (self.tmp_path / "root" / path).read_bytes()
        body = self.bucket.server.client().get_object(Bucket=self.bucket.bucket,
                                                      Key=self._key(path))["Body"]
        return bytes(body.read())

    def raw_write(self, path: str, data: bytes) -> None:
        if self.bucket is None:
            (self.tmp_path / "root" / path).write_bytes(data)
        else:
            self.bucket.server.client().put_object(Bucket=self.bucket.bucket,
                                                   Key=self._key(path), Body=data)

    def raw_remove(self, path: str) -> None:
        if self.bucket is None:
            (self.tmp_path / "root" / path).unlink()
        else:
            self.bucket.server.client().delete_object(Bucket=self.bucket.bucket,
                                                      Key=self._key(path))

    def raw_listing(self, prefix: str = "") -> list[str]:
        if self.bucket is None:
            base = self.tmp_path / "root"
            return sorted(p.relative_to(base).as_posix()
                          for p in (base / prefix).rglob("*") if p.is_file())
        pages = self.bucket.server.client().get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket.bucket, Prefix=self._key(prefix))
        return sorted(o["Key"].removeprefix("root/") for page in pages
                      for o in page.get("Contents", []))

    def raw_copy_tree(self, source: str, target: str) -> None:
        if self.bucket is None:
            shutil.copytree(self.tmp_path / "root" / source, self.tmp_path / "root" / target)
            return
        for path in self.raw_listing(source):
            self.raw_write(target + path.removeprefix(source), self.raw_read(path))

    def flip_byte(self, path: str, index: int = 0) -> None:
        data = bytearray(self.raw_read(path))
        data[index] ^= 0xFF
        self.raw_write(path, bytes(data))


def state(vertex: str, subtask: int, checkpoint_id: int) -> bytes:
    return f"state of {vertex}#{subtask} at {checkpoint_id}|".encode() * (50 + subtask)


async def write_checkpoint(location: CheckpointLocation, checkpoint_id: int,
                           complete: bool = True) -> CheckpointMetadata:
    """A checkpoint of a job with vertices "src" (parallelism 1) and "keyed" (2)."""
    parallelism = {"src": 1, "keyed": 2}
    task_states: dict[str, dict[int, StateHandle]] = {}
    for vertex, n in parallelism.items():
        for subtask in range(n):
            task_states.setdefault(vertex, {})[subtask] = await location.save_task_state(
                checkpoint_id, vertex, subtask, state(vertex, subtask, checkpoint_id))
    metadata = CheckpointMetadata(
        job_id=JOB, checkpoint_id=checkpoint_id, timestamp_ms=1_700_000_000_000 + checkpoint_id,
        duration_ms=12, is_savepoint=False, task_states=task_states,
        vertex_parallelism=parallelism, operator_states={"src": ["source-uid"],
                                                         "keyed": ["count-uid"]})
    if complete:
        await location.complete(metadata)
    return metadata


def job_files(checkpoint_id: int) -> list[str]:
    return sorted(f"{JOB}/chk-{checkpoint_id}/{name}"
                  for name in ("_metadata", "src-0", "keyed-0", "keyed-1"))


# ------------------------------------------------------------------- contract


class CheckpointStorageContract:
    """What every checkpoint storage does, run by a ``Test…`` subclass on the ``backend``
    fixture it defines (one subclass per storage kind)."""

    def test_write_read_round_trip_with_handles(self, backend: Backend) -> None:
        async def scenario() -> None:
            storage = storage_for(backend.root, backend.configuration)
            data = bytes(range(256)) * 300
            handle = await storage.write("a/b/state", data)
            assert handle == StateHandle("a/b/state", len(data), hashlib.sha256(data).hexdigest())
            assert await storage.read("a/b/state") == data
            assert await storage.read_verified(handle) == data
            assert backend.raw_read("a/b/state") == data
            assert await storage.exists("a/b/state") and not await storage.exists("a/b/none")
            assert await storage.size("a/b/state") == len(data)
            await storage.write_atomic("a/b/state", b"replaced")
            assert await storage.read("a/b/state") == b"replaced"
            await storage.rename("a/b/state", "c/moved")
            assert backend.raw_listing() == ["c/moved"]
            with pytest.raises(CheckpointFileNotFoundError):
                await storage.read("a/b/state")
            await storage.delete("c/moved")
            await storage.delete("c/moved")  # deleting a missing file is not an error
            assert backend.raw_listing() == []
            await storage.close()
        run(scenario())

    def test_listing_matches_whole_segments_and_subtrees_are_deleted(
            self, backend: Backend) -> None:
        async def scenario() -> None:
            storage = storage_for(backend.root, backend.configuration)
            for path in ["job/chk-1/x", "job/chk-1/sub/y", "job/chk-10/x", "job/chk-2/_metadata",
                         "other"]:
                await storage.write(path, path.encode())
            assert await storage.list("job/chk-1") == ["job/chk-1/sub/y", "job/chk-1/x"]
            assert await storage.list("") == sorted(["job/chk-1/x", "job/chk-1/sub/y",
                                                     "job/chk-10/x", "job/chk-2/_metadata",
                                                     "other"])
            assert await storage.list("missing") == []
            assert await storage.list_directories("job") == ["chk-1", "chk-10", "chk-2"]
            child = storage.child("job/chk-10")
            assert await child.list() == ["x"]
            assert await child.read("x") == b"job/chk-10/x"
            await storage.delete_tree("job/chk-1")
            assert backend.raw_listing() == ["job/chk-10/x", "job/chk-2/_metadata", "other"]
            await storage.close()
        run(scenario())

    def test_paths_cannot_leave_the_root(self, backend: Backend) -> None:
        storage = storage_for(backend.root, backend.configuration)
        for bad in ["../escape", "a/../../b", "/absolute"]:
            with pytest.raises(CheckpointStorageError, match="invalid storage path"):
                run(storage.write(bad, b"x"))

    # --------------------------------------------------------------- layout

    def test_checkpoint_round_trip_in_flinks_layout(self, backend: Backend) -> None:
        async def scenario() -> None:
            location = CheckpointLocation(backend.root, JOB, backend.configuration)
            written = await write_checkpoint(location, 1)
            assert backend.raw_listing() == job_files(1)
            assert location.checkpoint_uri(1) == backend.uri(JOB, "chk-1")
            latest = await location.latest_completed()
            assert latest == written
            assert latest.size == sum(len(state(v, s, 1)) for v, s in
                                      [("src", 0), ("keyed", 0), ("keyed", 1)])
            for vertex, subtasks in latest.task_states.items():
                for subtask, handle in subtasks.items():
                    assert handle.path == f"{vertex}-{subtask}"  # relative to the chk directory
                    assert await location.read_task_state(location.checkpoint_uri(1), handle) \
                        == state(vertex, subtask, 1)
            # _metadata is JSON a person can read, with its format version.
            document = json.loads(backend.raw_read(f"{JOB}/chk-1/_metadata"))
            assert document["version"] == FORMAT_VERSION
            assert document["task_states"]["keyed"]["1"]["path"] == "keyed-1"
            await location.close()
        run(scenario())

    def test_a_checkpoint_counts_only_once_its_metadata_is_written(
            self, backend: Backend) -> None:
        async def scenario() -> None:
            location = CheckpointLocation(backend.root, JOB, backend.configuration)
            metadata = await write_checkpoint(location, 1, complete=False)
            assert backend.raw_listing() == [f for f in job_files(1) if not f.endswith("_metadata")]
            assert await location.latest_completed() is None
            assert await location.list_completed() == []
            assert not await location.directory(1).is_complete()
            await location.complete(metadata)
            assert await location.directory(1).is_complete()
            assert await location.latest_completed() == metadata
            assert backend.raw_listing() == job_files(1)  # no temporary file left behind
        run(scenario())

    def test_list_completed_and_retention_delete_old_and_abandoned_checkpoints(
            self, backend: Backend) -> None:
        async def scenario() -> None:
            location = CheckpointLocation(backend.root, JOB, backend.configuration)
            await write_checkpoint(location, 1, complete=False)  # abandoned, older than completed
            for checkpoint_id in (2, 3, 4, 5):
                await write_checkpoint(location, checkpoint_id)
            await write_checkpoint(location, 6, complete=False)  # in progress: kept
            assert [m.checkpoint_id for m in await location.list_completed()] == [2, 3, 4, 5]
            assert await location.retain(2) == [1, 2, 3]
            expected = sorted(job_files(4) + job_files(5) +
                              [f for f in job_files(6) if not f.endswith("_metadata")])
            assert backend.raw_listing() == expected
            assert await location.checkpoint_ids() == [4, 5, 6]
            await location.discard(6)
            assert backend.raw_listing() == sorted(job_files(4) + job_files(5))
        run(scenario())

    def test_corrupt_state_file_is_skipped_for_recovery(
            self, backend: Backend, caplog: pytest.LogCaptureFixture) -> None:
        async def scenario() -> None:
            location = CheckpointLocation(backend.root, JOB, backend.configuration)
            first = await write_checkpoint(location, 1)
            second = await write_checkpoint(location, 2)
            backend.flip_byte(f"{JOB}/chk-2/keyed-1", 7)
            with caplog.at_level(logging.WARNING, logger="weir.checkpoint"):
                assert await location.latest_completed() == first
            assert any("checkpoint 2" in r.getMessage() and "checksum" in r.getMessage()
                       for r in caplog.records if r.levelno == logging.WARNING)
            # The size still matches: only the checksum finds the damage.
            assert await location.latest_completed(verify_checksums=False) == second
            with pytest.raises(CorruptCheckpointError, match="fails its checksum"):
                await location.read_task_state(location.checkpoint_uri(2),
                                               second.task_states["keyed"][1])
            assert await location.latest_completed(skip={1}) is None
        run(scenario())

    @pytest.mark.parametrize("damage", ["missing _metadata", "missing state file",
                                        "truncated state file", "undecodable _metadata",
                                        "edited _metadata"])
    def test_partial_or_damaged_checkpoint_falls_back_to_the_previous_one(
            self, backend: Backend, damage: str) -> None:
        async def scenario() -> None:
            location = CheckpointLocation(backend.root, JOB, backend.configuration)
            first = await write_checkpoint(location, 1)
            await write_checkpoint(location, 2)
            chk2 = f"{JOB}/chk-2"
            if damage == "missing _metadata":
                backend.raw_remove(f"{chk2}/_metadata")
            elif damage == "missing state file":
                backend.raw_remove(f"{chk2}/src-0")
            elif damage == "truncated state file":
                backend.raw_write(f"{chk2}/keyed-0", backend.raw_read(f"{chk2}/keyed-0")[:-1])
            elif damage == "undecodable _metadata":
                backend.raw_write(f"{chk2}/_metadata", backend.raw_read(f"{chk2}/_metadata")[:40])
            else:  # still valid JSON, but not what was written
                text = backend.raw_read(f"{chk2}/_metadata").decode()
                backend.raw_write(f"{chk2}/_metadata",
                                  text.replace('"duration_ms": 12', '"duration_ms": 13').encode())
            for verify in (True, False):
                assert await location.latest_completed(verify_checksums=verify) == first
        run(scenario())

    def test_savepoint_is_relocatable(self, backend: Backend) -> None:
        async def scenario() -> None:
            directory = savepoint_directory(backend.uri("savepoints"), JOB, backend.configuration)
            name = directory.uri.rsplit("/", 1)[-1]
            assert name.startswith(f"savepoint-{JOB[:6]}-")
            handles = {s: await directory.save_task_state("keyed", s, state("keyed", s, 7))
                       for s in (0, 1)}
            metadata = CheckpointMetadata(JOB, 7, 1_700_000_000_007, 30, True, {"keyed": handles},
                                          {"keyed": 2}, {"keyed": ["count-uid"]})
            await directory.complete(metadata)
            await directory.close()
            backend.raw_copy_tree(f"savepoints/{name}", f"moved/elsewhere/{name}")
            for path in backend.raw_listing("savepoints"):
                backend.raw_remove(path)
            moved_uri = backend.uri("moved", "elsewhere", name)
            assert await load_savepoint(moved_uri, backend.configuration) == metadata
            moved = CheckpointDirectory.open(moved_uri, backend.configuration)
            assert await moved.read_task_state(handles[1]) == state("keyed", 1, 7)
            # A checkpoint directory loads the same way, given its full path.
            location = CheckpointLocation(backend.root, JOB, backend.configuration)
            written = await write_checkpoint(location, 3)
            assert await load_savepoint(location.checkpoint_uri(3),
                                        backend.configuration) == written
            with pytest.raises(CheckpointFileNotFoundError, match="holds no savepoint"):
                await load_savepoint(backend.uri("nothing-here"), backend.configuration)
        run(scenario())


class TestFileStorage(CheckpointStorageContract):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> Backend:
        return Backend.on_file(tmp_path)


# ----------------------------------------------------------- configuration and errors


def test_unsupported_schemes_and_malformed_uris_say_what_is_supported() -> None:
    with pytest.raises(CheckpointStorageError, match=r"unsupported scheme 'hdfs'.*file://.*s3://"):
        storage_for("hdfs://namenode/checkpoints")
    with pytest.raises(CheckpointStorageError, match="names no bucket"):
        storage_for("s3:///prefix")
    with pytest.raises(CheckpointStorageError, match="must be absolute"):
        storage_for("file://host/dir")
    with pytest.raises(CheckpointStorageError, match="s3.endpoint must be an http"):
        storage_for("s3://b/p", {"s3.endpoint": "127.0.0.1:9000"})
    with pytest.raises(CheckpointStorageError, match="both s3.access-key and s3.secret-key"):
        storage_for("s3://b/p", {"s3.access-key": "only-one"})
    with pytest.raises(CheckpointStorageError, match="s3.path.style.access must be true or"):
        storage_for("s3://b/p", {"s3.path.style.access": "yes please"})


def test_rejected_credentials_say_which_options_to_check() -> None:
    denied = s3_error(PermissionDeniedError("Forbidden"), "writing", "s3://b/k",
                      "http://minio:9000")
    assert "check s3.access-key and s3.secret-key" in str(denied)
    signature = s3_error(RuntimeError("... 403 Forbidden: <Error><Code>SignatureDoesNotMatch"
                                      "</Code></Error>"), "reading", "s3://b/k", "AWS S3")
    assert "SignatureDoesNotMatch" in str(signature) and "s3.secret-key" in str(signature)


def test_metadata_of_another_format_version_is_refused() -> None:
    metadata = CheckpointMetadata(JOB, 1, 0, 0, False)
    document: dict[str, Any] = json.loads(metadata.to_json())
    assert CheckpointMetadata.from_json(metadata.to_json()) == metadata
    document["version"] = FORMAT_VERSION + 1
    with pytest.raises(CorruptCheckpointError, match="format version 2"):
        CheckpointMetadata.from_json(json.dumps(document).encode())
