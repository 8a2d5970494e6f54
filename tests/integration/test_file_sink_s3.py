"""The FileSink on s3:// against a real moto_server: the tests of
tests/unit/test_file_sink.py's ``FileSinkContract`` (run there on file://)."""

from __future__ import annotations

import pytest

from tests.fixtures.s3 import S3Bucket
from tests.unit.test_file_sink import FileSinkContract, Target

pytestmark = pytest.mark.timeout(60)


class TestFileSinkOnS3(FileSinkContract):
    @pytest.fixture
    def target(self, s3_bucket: S3Bucket) -> Target:
        return Target(s3_bucket.uri("out"), dict(s3_bucket.configuration))
