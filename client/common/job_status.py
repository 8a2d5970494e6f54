"""``JobStatus`` (``pyflink.common.job_status``)."""

from __future__ import annotations

import enum

from weir.proto import jobmanager_pb2 as pb

__all__ = ["JobStatus"]


class JobStatus(enum.Enum):
    CREATED = pb.CREATED
    RUNNING = pb.RUNNING
    FAILING = pb.FAILING
    FAILED = pb.FAILED
    CANCELLING = pb.CANCELING
    CANCELED = pb.CANCELED
    FINISHED = pb.FINISHED
    RESTARTING = pb.RESTARTING

    def is_globally_terminal_state(self) -> bool:
        return self in (JobStatus.FINISHED, JobStatus.CANCELED, JobStatus.FAILED)

    def is_terminal_state(self) -> bool:
        return self.is_globally_terminal_state()
