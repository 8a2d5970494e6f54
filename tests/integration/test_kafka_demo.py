"""``make demo-kafka`` (scripts/kafka_demo.py) end to end: the broker, the generator, the
job on an embedded cluster and the alert printer run, alerts are printed, and on exit
everything is stopped (the broker's port no longer answers)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def test_demo_prints_alerts_and_stops_everything() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("WEIR_JOBMANAGER", "WEIR_TOKEN")}
    done = subprocess.run([sys.executable, "scripts/kafka_demo.py", "--seconds", "40"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=200,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    alerts = re.findall(r"\[coupon-alerts\] ALERT user (\d+): (\d+) coupon claims", done.stdout)
    assert alerts, (done.stdout[-2000:], done.stderr[-3000:])
    assert {int(user) for user, _ in alerts} <= {7, 42, 313}  # the generator's abusers
    port = int(re.search(r"broker on 127\.0\.0\.1:(\d+)", done.stdout)[1])
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
