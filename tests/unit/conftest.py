"""Unit tests start no server process, no Ray and no network service: the session
services of tests/fixtures are replaced here by fixtures that fail the test that asks for
one, and starting a moto server by hand fails too (such tests belong in tests/integration
or tests/chaos)."""

from __future__ import annotations

from typing import NoReturn

import pytest

from tests.fixtures.s3 import MotoServer


def _not_in_unit_tests(service: str) -> NoReturn:
    pytest.fail(f"a unit test asked for {service}: tests that start servers belong in "
                "tests/integration (or tests/chaos)", pytrace=False)


@pytest.fixture(scope="session")
def s3_server() -> NoReturn:
    _not_in_unit_tests("the moto S3 server (s3_server, s3_bucket)")


@pytest.fixture(scope="session")
def jobmanager() -> NoReturn:
    _not_in_unit_tests("a JobManager and its Ray cluster (jobmanager, cluster, ray_driver)")


@pytest.fixture(autouse=True)
def _no_moto_server(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(server: MotoServer, timeout_s: float = 30.0) -> NoReturn:
        _not_in_unit_tests("a moto_server (MotoServer.start)")

    monkeypatch.setattr(MotoServer, "start", refuse)
