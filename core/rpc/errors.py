"""Errors a user can act on, raised by the client and shown by the CLI without a traceback."""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "JobManagerUnavailableError",
    "JobNotFoundError",
    "WeirError",
]


class WeirError(Exception):
    """Base of the errors whose message tells the user what to do."""


class JobManagerUnavailableError(WeirError):
    def __init__(self, address: str) -> None:
        super().__init__(f"cannot reach JobManager at {address} — is it running? Start one "
                         "with `weir jobmanager`, or name a running one with "
                         "--jobmanager HOST:PORT or WEIR_JOBMANAGER")
        self.address = address


class AuthenticationError(WeirError):
    def __init__(self, address: str, token_sent: bool = True) -> None:
        problem = "rejected the token" if token_sent else "requires a token and none was given"
        super().__init__(f"the JobManager at {address} {problem} — pass the JobManager's "
                         "token with --token or WEIR_TOKEN")


class JobNotFoundError(WeirError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job with id {job_id} — `weir list` shows the jobs")
        self.job_id = job_id
