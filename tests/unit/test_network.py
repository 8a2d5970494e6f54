"""The data plane: credit-based flow control, buffering and partitioners, in-process and over
TCP on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Coroutine, Sequence
from typing import Any

import pytest

from tests.unit.oracles import key_group_owner
from weir.graph.deployment import connected_consumers, connected_producers
from weir.keygroups import stable_hash
from weir.proto import jobmanager_pb2 as pb
from weir.taskmanager.network.credit import Credit
from weir.taskmanager.network.environment import NetworkEnvironment, OutputChannel
from weir.taskmanager.network.events import END_OF_PARTITION, Watermark
from weir.taskmanager.network.input_gate import InputGate
from weir.taskmanager.network.record_writer import RecordWriter
from weir.taskmanager.records import KeyedBatch, TimestampedBatch

PLENTY = 10_000  # initial credits when a test is not about flow control


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, timeout=5))


async def settle() -> None:
    """Let every runnable task run until it blocks."""
    for _ in range(10):
        await asyncio.sleep(0)


class Consumer:
    """One consumer subtask's input gate, whose mailbox wake-up is an event."""

    def __init__(self, channel_count: int = 1) -> None:
        self.wakeup = asyncio.Event()
        self.gate = InputGate(channel_count, self.wakeup.set)

    async def next(self) -> tuple[int, Any]:
        while (polled := self.gate.poll()) is None:
            self.wakeup.clear()
            await self.wakeup.wait()
        return polled

    def drain(self) -> list[tuple[int, Any]]:
        items = []
        while (polled := self.gate.poll()) is not None:
            items.append(polled)
        return items

    def records(self) -> list[Any]:
        return [record for _, buffer in self.drain() for record in unkeyed(buffer)]


def unkeyed(buffer: Any) -> list[Any]:
    """The records of a buffer; a hash partitioner's carry their keys, which must be right."""
    if type(buffer) is KeyedBatch:
        assert len(buffer.keys) == len(buffer.records)
        assert buffer.keys == [key_of(record) for record in buffer.records]
        return buffer.records
    return buffer


def key_of(record: Any) -> Any:
    """The key selector of the hash tests."""
    return record[0] if isinstance(record, tuple) else record % 5


async def send_all(channel: OutputChannel, items: Sequence[Any]) -> None:
    for item in items:
        await channel.send(item)


def key(consumer_subtask: int, producer_subtask: int = 0, input_index: int = 0) -> tuple:
    return ("job", 0, "vertex", input_index, consumer_subtask, producer_subtask)


async def local_pairs(network: NetworkEnvironment, count: int
                      ) -> tuple[list[Consumer], list[OutputChannel]]:
    consumers = [Consumer() for _ in range(count)]
    channels = []
    for subtask, consumer in enumerate(consumers):
        network.register_input(key(subtask), consumer.gate, 0)
        channels.append(await network.open_output(key(subtask), "", 0, local=True))
    return consumers, channels


# ---------------------------------------------------------------- flow control


def test_credit_acquire_waits_until_credit_is_added():
    async def scenario() -> None:
        credit = Credit()
        waiting = asyncio.create_task(credit.acquire())
        await settle()
        assert not waiting.done()
        credit.add(2)
        await waiting
        assert credit.available == 1

    run(scenario())


def test_a_sender_without_credit_stops_and_resumes_when_credit_is_granted():
    async def scenario() -> None:
        network = NetworkEnvironment(initial_credits=2)
        consumer = Consumer()
        # The producer may open its channel before the consumer registered: no credit yet.
        channel = await network.open_output(key(0), "", 0, local=True)
        first = asyncio.create_task(channel.send(["a"]))
        await settle()
        assert not first.done() and consumer.gate.queued == 0

        network.register_input(key(0), consumer.gate, 0)  # grants the initial 2 credits
        await first
        await channel.send(["b"])
        third = asyncio.create_task(channel.send(["c"]))
        await settle()
        assert not third.done(), "a sender with no credit must stop"
        assert consumer.gate.queued == 2

        assert await consumer.next() == (0, ["a"])  # consuming a buffer returns its credit
        await third
        assert consumer.drain() == [(0, ["b"]), (0, ["c"])]

    run(scenario())


def test_backpressure_bounds_what_is_in_flight_and_drops_nothing():
    async def scenario() -> None:
        network = NetworkEnvironment(initial_credits=3)
        (consumer,), channels = await local_pairs(network, 1)
        writer = RecordWriter(channels, pb.FORWARD, buffer_records=2)
        writer.emit(list(range(20)))
        sending = asyncio.create_task(writer.send_ready())
        received: list[int] = []
        while len(received) < 20:
            await settle()
            assert consumer.gate.queued <= 3
            _, buffer = await consumer.next()
            received.extend(buffer)
        await sending
        assert received == list(range(20))

    run(scenario())


def test_end_of_partition_returns_no_credit_and_finishes_the_gate():
    async def scenario() -> None:
        network = NetworkEnvironment(initial_credits=1)
        consumer = Consumer(channel_count=2)
        channels = []
        for producer in range(2):
            network.register_input(key(0, producer), consumer.gate, producer)
            channels.append(await network.open_output(key(0, producer), "", 0, local=True))
        await channels[0].send(END_OF_PARTITION)
        await channels[1].send([1])
        assert consumer.drain() == [(0, END_OF_PARTITION), (1, [1])]
        assert channels[0].credit.available == 0 and channels[1].credit.available == 1
        assert not consumer.gate.finished
        await channels[1].send(END_OF_PARTITION)
        consumer.drain()
        assert consumer.gate.finished

    run(scenario())


# -------------------------------------------------------------------- buffers


def test_buffers_are_sent_when_full_and_the_rest_on_flush():
    async def scenario() -> None:
        network = NetworkEnvironment(initial_credits=PLENTY)
        (consumer,), channels = await local_pairs(network, 1)
        writer = RecordWriter(channels, pb.FORWARD, buffer_records=4)
        for record in range(3):
            writer.emit([record])
        assert not writer.has_ready
        writer.emit([3])
        assert writer.has_ready
        for record in range(4, 10):
            writer.emit([record])
        await writer.send_ready()
        assert [buffer for _, buffer in consumer.drain()] == [[0, 1, 2, 3], [4, 5, 6, 7]]
        await writer.flush()
        assert [buffer for _, buffer in consumer.drain()] == [[8, 9]]
        writer.emit(list(range(10, 19)))  # one large batch: cut into buffers of 4
        await writer.send_ready()
        assert [buffer for _, buffer in consumer.drain()] == [[10, 11, 12, 13], [14, 15, 16, 17]]
        writer.emit([19, 20, 21])  # the overflow [18] waited for these, costing no credit
        await writer.send_ready()
        assert [buffer for _, buffer in consumer.drain()] == [[18, 19, 20, 21]]

    run(scenario())


@pytest.mark.parametrize("timestamped", [False, True])
def test_buffers_cut_when_full_are_full_in_order_and_lose_nothing(timestamped):
    async def scenario() -> None:
        network = NetworkEnvironment(initial_credits=PLENTY)
        consumers, channels = await local_pairs(network, 3)
        writer = RecordWriter(channels, pb.HASH, buffer_records=7, key_selector=key_of,
                              channel_subtasks=[0, 1, 2])
        sent = 0
        for size in [1, 30, 2, 7, 64, 3, 11, 100, 5]:
            batch = list(range(sent, sent + size))
            writer.emit(TimestampedBatch(batch, [-r for r in batch]) if timestamped else batch)
            await writer.send_ready()
            sent += size
        before_flush = [[unkeyed(buffer) for _, buffer in c.drain()] for c in consumers]
        assert all(len(b) == 7 for buffers in before_flush for b in buffers)
        await writer.flush()
        for consumer, buffers in zip(consumers, before_flush):
            buffers.extend(unkeyed(buffer) for _, buffer in consumer.drain())
        received = [r for buffers in before_flush for b in buffers for r in b]
        assert sorted(received) == list(range(sent))
        for buffers in before_flush:
            records = [r for b in buffers for r in b]
            assert records == sorted(records), "a channel's records keep their order"
            if timestamped:
                assert all(b.timestamps == [-r for r in b] for b in buffers)

    run(scenario())


def test_an_event_follows_the_records_on_every_channel():
    async def scenario() -> None:
        network = NetworkEnvironment(initial_credits=PLENTY)
        consumers, channels = await local_pairs(network, 3)
        writer = RecordWriter(channels, pb.REBALANCE, buffer_records=100)
        writer.emit(list(range(6)))
        await writer.broadcast_event(Watermark(7))
        for consumer in consumers:
            items = [item for _, item in consumer.drain()]
            assert len(items) == 2 and len(items[0]) == 2 and items[1] == Watermark(7)

    run(scenario())


# ----------------------------------------------------------------- partitioners


def route(partitioner: int, channel_count: int, batches: Sequence[list[Any]],
          **writer_options: Any) -> list[list[Any]]:
    """Emit ``batches`` through a RecordWriter; the records each channel received, in order."""
    async def scenario() -> list[list[Any]]:
        network = NetworkEnvironment(initial_credits=PLENTY)
        consumers, channels = await local_pairs(network, channel_count)
        writer = RecordWriter(channels, partitioner, buffer_records=8, **writer_options)
        for batch in batches:
            writer.emit(batch)
            await writer.send_ready()
        await writer.flush()
        assert writer.records_out == sum(len(b) for b in batches)
        return [consumer.records() for consumer in consumers]

    return run(scenario())


def batches_of(records: list[Any], sizes: Sequence[int]) -> list[list[Any]]:
    out, start = [], 0
    for size in sizes:
        out.append(records[start:start + size])
        start += size
    assert start == len(records)
    return out


RECORDS = list(range(100))
BATCHES = batches_of(RECORDS, [1, 2, 5, 7, 3, 30, 1, 1, 50])


def test_forward_sends_everything_in_order_to_its_one_channel():
    assert route(pb.FORWARD, 1, BATCHES) == [RECORDS]


def test_rebalance_deals_records_round_robin_across_batches():
    received = route(pb.REBALANCE, 3, BATCHES)
    start = next(channel for channel, records in enumerate(received) if 0 in records)
    assert received == [[r for i, r in enumerate(RECORDS) if (start + i) % 3 == channel]
                        for channel in range(3)]


def test_broadcast_sends_every_record_to_every_channel():
    assert route(pb.BROADCAST, 3, BATCHES) == [RECORDS] * 3


def test_shuffle_sends_every_record_exactly_once():
    received = route(pb.SHUFFLE, 3, BATCHES)
    assert Counter(r for channel in received for r in channel) == Counter(RECORDS)
    assert all(channel == sorted(channel) for channel in received)  # order kept per channel


@pytest.mark.parametrize(("producers", "consumers"), [(2, 4), (4, 2), (3, 7), (7, 3), (3, 3)])
def test_rescale_deals_round_robin_to_the_producer_own_consumers(producers, consumers):
    reached = {p: connected_consumers(pb.RESCALE, p, producers, consumers)
               for p in range(producers)}
    for consumer in range(consumers):  # every consumer is fed; the wiring is consistent
        feeding = connected_producers(pb.RESCALE, consumer, producers, consumers)
        assert feeding and feeding == [p for p in reached if consumer in reached[p]]
    for targets in reached.values():
        assert targets == sorted(targets) and targets == list(range(targets[0], targets[-1] + 1))
        received = route(pb.RESCALE, len(targets), BATCHES)
        assert Counter(r for channel in received for r in channel) == Counter(RECORDS)
        assert max(map(len, received)) - min(map(len, received)) <= 1


def test_non_pointwise_partitioners_connect_every_producer_to_every_consumer():
    for partitioner in (pb.REBALANCE, pb.HASH, pb.BROADCAST, pb.SHUFFLE):
        assert connected_consumers(partitioner, 1, 2, 3) == [0, 1, 2]
        assert connected_producers(partitioner, 2, 2, 3) == [0, 1]


KEYS = [f"user-{i}" for i in range(40)] + list(range(40)) + [("k", i) for i in range(20)]


@pytest.mark.parametrize(("max_parallelism", "channel_subtasks"), [
    (16, [0, 1, 2, 3]),
    (16, [2, 0, 3, 1]),  # the channels need not be listed in subtask order
    (128, [1, 2, 0]),
])
def test_hash_sends_each_record_to_the_subtask_owning_its_key_group(max_parallelism,
                                                                    channel_subtasks):
    records = [(k, n) for n in range(3) for k in KEYS]
    received = route(pb.HASH, len(channel_subtasks), batches_of(records, [7, 93, 200]),
                     key_selector=key_of, max_parallelism=max_parallelism,
                     channel_subtasks=channel_subtasks)
    assert Counter(r for channel in received for r in channel) == Counter(records)
    parallelism = len(channel_subtasks)
    for channel, channel_records in enumerate(received):
        assert channel_records == [r for r in records if r in channel_records]  # in order
        for record_key, _ in channel_records:
            group = stable_hash(record_key) % max_parallelism
            assert channel_subtasks[channel] == key_group_owner(group, max_parallelism,
                                                                parallelism)


def test_hash_keeps_each_record_with_its_timestamp():
    records = [(k, i) for i, k in enumerate(KEYS)]
    batch = TimestampedBatch(records, [1000 + i for i in range(len(records))])

    async def scenario() -> list[Any]:
        network = NetworkEnvironment(initial_credits=PLENTY)
        consumers, channels = await local_pairs(network, 3)
        writer = RecordWriter(channels, pb.HASH, 1000, key_selector=key_of,
                              channel_subtasks=[0, 1, 2])
        writer.emit(batch)
        writer.emit([("plain", -1)])  # a plain batch after a timestamped one
        await writer.flush()
        return [unkeyed(buffer) for consumer in consumers for _, buffer in consumer.drain()]

    buffers = run(scenario())
    stamped = [(r, t) for b in buffers if isinstance(b, TimestampedBatch)
               for r, t in zip(b, b.timestamps)]
    assert Counter(stamped) == Counter((r, 1000 + r[1]) for r in records)
    assert [list(b) for b in buffers if not isinstance(b, TimestampedBatch)] == [[("plain", -1)]]


# ------------------------------------------------------------------------- TCP


def test_tcp_channels_share_a_connection_with_their_own_credit_and_in_band_events():
    async def scenario() -> None:
        secret = bytes(range(32))
        producer_side = NetworkEnvironment("127.0.0.1", cluster_secret=secret)
        consumer_side = NetworkEnvironment("127.0.0.1", initial_credits=2, cluster_secret=secret)
        port = await consumer_side.start()
        await producer_side.start()
        consumer = Consumer(channel_count=2)
        try:
            consumer_side.register_input(key(0, 0), consumer.gate, 0)
            slow = await producer_side.open_output(key(0, 0), "127.0.0.1", port, local=False)
            # This one subscribes before its consumer registers: it gets credit only then.
            fast = await producer_side.open_output(key(0, 1), "127.0.0.1", port, local=False)

            await slow.send(["a"])
            await slow.send(["b"])
            third = asyncio.create_task(slow.send(["c"]))
            assert await consumer.next() == (0, ["a"])  # returns a credit over the wire
            await third
            blocked = asyncio.create_task(slow.send(["d"]))
            await settle()
            assert not blocked.done() and slow.credit.available == 0

            consumer_side.register_input(key(0, 1), consumer.gate, 1)
            await fast.send(["x"])  # its own credits: not held back by the other channel
            await fast.send(Watermark(5))
            assert not blocked.done()

            async def end_slow_after_d() -> None:
                await blocked
                await slow.send(END_OF_PARTITION)

            rest = asyncio.gather(send_all(fast, [["y"], END_OF_PARTITION]), end_slow_after_d())
            got = []  # consuming "b" returns the credit that lets "d" go
            while not consumer.gate.finished:
                got.append(await consumer.next())
            assert [item for channel, item in got if channel == 0] == [
                ["b"], ["c"], ["d"], END_OF_PARTITION]
            assert [item for channel, item in got if channel == 1] == [
                ["x"], Watermark(5), ["y"], END_OF_PARTITION]
            await rest
        finally:
            await producer_side.close()
            await consumer_side.close()

    run(scenario())


def test_rebalance_producers_start_at_random_channels():
    starts = set()
    for _ in range(40):  # one record per producer, as a trickle of small batches would be
        received = route(pb.REBALANCE, 4, [[0]])
        starts.add(next(channel for channel, records in enumerate(received) if records))
    assert len(starts) > 1  # all at channel 0 has probability 4**-39
