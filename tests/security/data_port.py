"""Probes of a TaskManager's data port, each run in a process of its own (an attacker is
another local user, not the test): ``python -m tests.security.data_port <probe> <json>``
prints one JSON line with what it saw.

- ``taskmanagers``: joins the Ray cluster and asks each live ``taskmanager-<n>`` actor
  (namespace ``weir``) where its data port is (``info``) and its pid (``ping``).
- ``pickled-frame``: sends one length-prefixed pickled frame whose unpickling would create a
  marker file, as the data plane's frames used to be read.
- ``forged-proof``: a well-formed hello, then a proof made with a wrong secret, then the same
  pickled frame.
- ``open-and-close``: opens and closes ``count`` connections, half of them after sending
  some garbage.

The attack probes report whether the TaskManager closed the connection and how soon.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import pickle
import secrets
import shlex
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fixtures.ray_cluster import ray_env
from tests.security.certificates import CertificateFiles

REPO = Path(__file__).resolve().parents[2]
_REPLY = "@@ "
MAGIC = b"WDP\x01"  # what an attacker reads off the wire; the test does not import it


@dataclass(frozen=True)
class TaskManagerEndpoint:
    name: str
    host: str
    port: int
    pid: int


def probe(name: str, timeout_s: float = 120, **arguments: Any) -> dict[str, Any]:
    """Run probe ``name`` in a new Python process; its JSON reply."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.security.data_port", name, json.dumps(arguments)],
        cwd=REPO, env=ray_env(), capture_output=True, text=True, timeout=timeout_s,
        check=False)
    for line in result.stdout.splitlines():
        if line.startswith(_REPLY):
            reply: dict[str, Any] = json.loads(line[len(_REPLY):])
            return reply
    raise RuntimeError(f"probe {name} failed ({result.returncode}):\n{result.stderr[-4000:]}")


def taskmanagers(ray_address: str) -> list[TaskManagerEndpoint]:
    """The live TaskManagers of the cluster at ``ray_address``, by name."""
    reply = probe("taskmanagers", address=ray_address)
    return [TaskManagerEndpoint(**entry) for entry in reply["taskmanagers"]]


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def internal_ssl_configuration(certificate: CertificateFiles,
                               verify_hostname: bool = True) -> dict[str, str]:
    """``security.ssl.internal.*`` for a cluster-private certificate (its own CA)."""
    return {"security.ssl.internal.enabled": "true",
            "security.ssl.internal.cert": str(certificate.cert),
            "security.ssl.internal.key": str(certificate.key),
            "security.ssl.internal.ca": str(certificate.cert),
            "security.ssl.verify-hostname": "true" if verify_hostname else "false"}


# ------------------------------------------------------------ in the probe process


def _taskmanagers(address: str) -> dict[str, Any]:
    import ray

    ray.init(address=address, namespace="weir", logging_level="ERROR")
    try:
        found = []
        for actor in sorted(ray.util.list_named_actors(all_namespaces=True),
                            key=lambda a: a["name"]):
            if actor["namespace"] != "weir" or not actor["name"].startswith("taskmanager-"):
                continue
            handle = ray.get_actor(actor["name"], namespace="weir")
            info, pid = ray.get([handle.info.remote(), handle.ping.remote()], timeout=30)
            found.append({"name": info.name, "host": info.data_host, "port": info.data_port,
                          "pid": pid})
        return {"taskmanagers": found}
    finally:
        ray.shutdown()


class _Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {shlex.quote(self.marker)}",))


def _pickled_frame(marker: str) -> bytes:
    frame = pickle.dumps((0, ("job", 0, "v", 0, 0, 0), _Payload(marker)))
    return struct.pack("!I", len(frame)) + frame


def _until_closed(sock: socket.socket, started: float, timeout_s: float) -> dict[str, Any]:
    """Read until the TaskManager closes the connection (or ``timeout_s`` passes)."""
    sock.settimeout(timeout_s)
    received = 0
    try:
        while chunk := sock.recv(65536):
            received += len(chunk)
        how = "closed"
    except ConnectionResetError:
        how = "reset"
    except TimeoutError:
        how = "still open"
    return {"closed": how != "still open", "how": how, "received": received,
            "seconds": time.monotonic() - started}


def _pickled_frame_probe(host: str, port: int, marker: str, wait_s: float = 30) -> dict[str, Any]:
    started = time.monotonic()
    with socket.create_connection((host, port), timeout=wait_s) as sock:
        try:
            sock.sendall(_pickled_frame(marker))
        except (BrokenPipeError, ConnectionResetError):
            return {"closed": True, "how": "reset", "received": 0,
                    "seconds": time.monotonic() - started}
        return _until_closed(sock, started, wait_s)


def _forged_proof_probe(host: str, port: int, marker: str, wait_s: float = 30) -> dict[str, Any]:
    started = time.monotonic()
    with socket.create_connection((host, port), timeout=wait_s) as sock:
        nonce = secrets.token_bytes(32)
        sock.sendall(MAGIC + nonce)
        challenge = b""
        while len(challenge) < 64 and (chunk := sock.recv(64 - len(challenge))):
            challenge += chunk
        forged = hmac.new(secrets.token_bytes(32), b"weir-data-client" + nonce + challenge[:32],
                          hashlib.sha256).digest()
        try:
            sock.sendall(forged + _pickled_frame(marker))
        except (BrokenPipeError, ConnectionResetError):
            return {"closed": True, "how": "reset", "challenge": len(challenge), "received": 0,
                    "seconds": time.monotonic() - started}
        return {"challenge": len(challenge), **_until_closed(sock, started, wait_s)}


def _open_and_close(host: str, port: int, count: int) -> dict[str, Any]:
    for n in range(count):
        with socket.create_connection((host, port), timeout=10) as sock:
            if n % 2:
                sock.sendall(b"\x00\x00\x00\x10garbage garbage!")
    return {"opened": count}


def _main() -> None:
    name, arguments = sys.argv[1], json.loads(sys.argv[2])
    probes = {"taskmanagers": _taskmanagers, "pickled-frame": _pickled_frame_probe,
              "forged-proof": _forged_proof_probe, "open-and-close": _open_and_close}
    print(_REPLY + json.dumps(probes[name](**arguments)), flush=True)


if __name__ == "__main__":
    _main()
