"""Errors a user can act on, raised by the client and shown by the CLI without a traceback."""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "JobManagerUnavailableError",
    "JobNotFoundError",
    "TlsError",
    "WeirError",
]


class WeirError(Exception):
    """Base of the errors whose message tells the user what to do."""


class JobManagerUnavailableError(WeirError):
    def __init__(self, address: str, hint: str = "") -> None:
        super().__init__(f"cannot reach JobManager at {address} — is it running? Start one "
                         "with `weir jobmanager`, or name a running one with "
                         "--jobmanager HOST:PORT or WEIR_JOBMANAGER" + (f"; {hint}" if hint else ""))
        self.address = address


class TlsError(WeirError):
    """The TLS handshake with the JobManager failed (untrusted certificate, a name the
    certificate does not carry, or a JobManager without TLS)."""

    def __init__(self, address: str, details: str) -> None:
        if "WRONG_VERSION_NUMBER" in details:
            problem = ("does not serve TLS — connect without --tls-ca / WEIR_TLS_CA, or start "
                       "it with --tls-cert and --tls-key")
        else:
            reason = details.rpartition("SSL_ERROR_SSL: ")[2].removesuffix(": OK") or details
            problem = (f"presented a certificate that cannot be verified ({reason}) — pass "
                       "the CA that signed it with --tls-ca or WEIR_TLS_CA, and connect to "
                       "a host name the certificate carries")
        super().__init__(f"TLS with the JobManager at {address} failed: it {problem}")
        self.address = address


class AuthenticationError(WeirError):
    def __init__(self, address: str, token_sent: bool = True) -> None:
        problem = "rejected the token" if token_sent else "requires a token and none was given"
        super().__init__(f"the JobManager at {address} {problem} — pass the JobManager's "
                         "token with --token-file PATH, WEIR_TOKEN_FILE or WEIR_TOKEN")


class JobNotFoundError(WeirError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job with id {job_id} — `weir list` shows the jobs")
        self.job_id = job_id
