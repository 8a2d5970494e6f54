"""Cancelling a job that already ended is refused with its state (as Flink's
``FlinkJobTerminatedWithoutCancellationException``), so ``weir cancel`` cannot claim it
cancelled a FINISHED job."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest

from weir.cli.jobs import cancel_job
from weir.jobmanager.job_status import cancel_refusal
from weir.jobmanager.server import JobManagerServicer
from weir.proto import jobmanager_pb2 as pb
from weir.rpc.errors import WeirError

JOB = "f" * 32


@pytest.mark.parametrize(("state", "words"), [
    (pb.FINISHED, "already finished (state FINISHED)"),
    (pb.CANCELED, "was already cancelled (state CANCELED)"),
    (pb.FAILED, "already failed (state FAILED)"),
])
def test_an_ended_job_cannot_be_cancelled(state: int, words: str) -> None:
    assert cancel_refusal(JOB, state) == f"job {JOB} {words}; there is nothing to cancel"


@pytest.mark.parametrize("state", [pb.CREATED, pb.RUNNING, pb.RESTARTING, pb.CANCELING,
                                   pb.FAILING])
def test_a_job_that_has_not_ended_can_be_cancelled(state: int) -> None:
    assert cancel_refusal(JOB, state) is None


@dataclass
class FakeMaster:
    state: int
    cancelled: int = 0

    def cancel(self) -> None:
        self.cancelled += 1


@dataclass
class FakeDispatcher:
    jobs: dict[str, FakeMaster] = field(default_factory=dict)

    def get(self, job_id: str) -> FakeMaster:
        return self.jobs[job_id]


class Aborted(Exception):
    pass


@dataclass
class FakeContext:
    aborted: list[tuple[grpc.StatusCode, str]] = field(default_factory=list)

    async def abort(self, code: grpc.StatusCode, details: str) -> None:
        self.aborted.append((code, details))
        raise Aborted(details)


def _cancel(master: FakeMaster) -> FakeContext:
    servicer = JobManagerServicer(FakeDispatcher({JOB: master}))  # type: ignore[arg-type]
    context = FakeContext()

    async def call() -> None:
        await servicer.CancelJob(pb.CancelJobRequest(job_id=JOB), context)  # type: ignore[arg-type]

    try:
        asyncio.run(call())
    except Aborted:
        pass
    return context


def test_the_jobmanager_refuses_to_cancel_a_finished_job() -> None:
    master = FakeMaster(pb.FINISHED)

    context = _cancel(master)

    assert context.aborted == [(grpc.StatusCode.FAILED_PRECONDITION,
                                cancel_refusal(JOB, pb.FINISHED))]
    assert master.cancelled == 0


def test_the_jobmanager_cancels_a_running_job() -> None:
    master = FakeMaster(pb.RUNNING)

    context = _cancel(master)

    assert context.aborted == []
    assert master.cancelled == 1


class RefusingClient:
    def cancel_job(self, job_id: str) -> Any:
        raise WeirError(cancel_refusal(job_id, pb.FINISHED))


def test_weir_cancel_does_not_claim_to_have_cancelled() -> None:
    out = io.StringIO()

    with pytest.raises(WeirError, match="already finished"):
        cancel_job(RefusingClient(), JOB, out)  # type: ignore[arg-type]
    assert out.getvalue() == ""
