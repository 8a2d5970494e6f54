"""Checkpoint storage on s3:// against a real moto_server: the storage contract of
tests/unit/test_checkpoint_storage.py (run there on file://), and the errors an S3 setup
can produce. The S3 outage is in tests/chaos/test_checkpoint_faults.py."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.fixtures.processes import free_port
from tests.fixtures.s3 import MotoServer, S3Bucket
from tests.unit.test_checkpoint_storage import (
    JOB,
    Backend,
    CheckpointStorageContract,
    run,
)
from weir.checkpoint import CheckpointLocation, CheckpointStorageError, storage_for

pytestmark = pytest.mark.timeout(60)


class TestS3Storage(CheckpointStorageContract):
    @pytest.fixture
    def backend(self, s3_bucket: S3Bucket, tmp_path: Path) -> Backend:
        return Backend.on_s3(s3_bucket, tmp_path)


def test_unreachable_endpoint_says_to_check_s3_endpoint() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    storage = storage_for("s3://bucket/chk", {"s3.endpoint": endpoint, "s3.access-key": "a",
                                              "s3.secret-key": "b",
                                              "s3.path.style.access": "true"})
    started = time.monotonic()
    with pytest.raises(CheckpointStorageError,
                       match=rf"S3 endpoint {endpoint} is unreachable: .*check s3.endpoint"):
        run(storage.write("x", b"data"))
    assert time.monotonic() - started < 20


def test_missing_bucket_is_named(s3_server: MotoServer) -> None:
    s3_server.start()
    storage = storage_for("s3://no-such-bucket/chk", s3_server.configuration)
    for operation in (storage.write("x", b"data"), storage.read("x"), storage.list("")):
        with pytest.raises(CheckpointStorageError,
                           match="S3 bucket 'no-such-bucket' does not exist.*create it"):
            run(operation)
    with pytest.raises(CheckpointStorageError, match="does not exist"):
        run(CheckpointLocation("s3://no-such-bucket/chk", JOB,
                               s3_server.configuration).latest_completed())
