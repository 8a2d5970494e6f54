"""``make demo-kafka`` (scripts/kafka_demo.py) end to end: the broker, the generator, the
job on an embedded cluster and the alert printer run, alerts are printed, and Ctrl-C stops
everything (the broker's port no longer answers)."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
ALERT = re.compile(r"\[coupon-alerts\] ALERT user (\d+): (\d+) coupon claims")


def test_demo_prints_alerts_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("WEIR_JOBMANAGER", "WEIR_TOKEN")}
    with (tmp_path / "stderr").open("w+") as stderr:
        demo = subprocess.Popen([sys.executable, "scripts/kafka_demo.py"], cwd=REPO, env=env,
                                stdout=subprocess.PIPE, stderr=stderr, text=True)
        lines: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(target=lambda: [lines.put(line) for line in demo.stdout],
                                  daemon=True)
        reader.start()
        stdout = ""
        deadline = time.monotonic() + 150
        try:
            while ALERT.search(stdout) is None and time.monotonic() < deadline:
                with contextlib.suppress(queue.Empty):
                    stdout += lines.get(timeout=1)
            demo.send_signal(signal.SIGINT)  # as Ctrl-C
            demo.wait(timeout=60)
        finally:
            demo.kill()
        reader.join(timeout=10)
        while not lines.empty():
            stdout += lines.get()
        stderr.seek(0)
        errors = stderr.read()
    assert demo.returncode == 0, errors[-3000:]
    alerts = ALERT.findall(stdout)
    assert alerts, (stdout[-2000:], errors[-3000:])
    assert {int(user) for user, _ in alerts} <= {7, 42, 313}  # the generator's abusers
    assert "stopping the job, the generator, the printer and the broker" in stdout
    port = int(re.search(r"broker on 127\.0\.0\.1:(\d+)", stdout)[1])
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
