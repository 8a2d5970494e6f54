"""Whether the JobManager may listen where it is asked to, and what it warns about.

A job is code (cloudpickled functions) that the cluster runs: whoever can submit one runs
code on every TaskManager node. So a JobManager on an address other hosts can reach
requires a bearer token, unless the operator says ``--insecure``.
"""

from __future__ import annotations

import ipaddress

__all__ = ["bind_refusal", "insecure_warning", "is_loopback"]

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """True for a loopback address (``127.0.0.0/8``, ``::1``) or ``localhost``; any other
    name counts as reachable from other hosts (it is not resolved here)."""
    name = host.strip().strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def bind_refusal(host: str, has_token: bool, insecure: bool) -> str | None:
    """Why the JobManager must not listen on ``host``, or None when it may: a non-loopback
    address needs a token or an explicit ``--insecure``."""
    if has_token or insecure or is_loopback(host):
        return None
    where = host or "all interfaces"
    return (f"refusing to listen on {where} without a token: anyone who can reach the port "
            "could run code on the cluster. Give the JobManager a token with --token-file PATH "
            "(or the WEIR_TOKEN / WEIR_TOKEN_FILE environment variable), or pass --insecure to "
            "accept jobs from anyone")


def insecure_warning(host: str) -> str:
    """What ``--insecure`` (without a token) means, logged at every start."""
    return (f"--insecure: no token is required; anyone who can reach {host or 'this host'} "
            "can submit jobs, which run their code on the cluster. Give a token with "
            "--token-file or WEIR_TOKEN instead")
