"""The KafkaSink's EXACTLY_ONCE steps against a broker double that keeps transactions as
Kafka does (records of a transaction become visible when it commits; initializing a
transactional id aborts that id's open transaction). The double stands in for a broker
that serves transactions, which the integration tests' broker (Tansu) does not: these
tests prove the writer's and committer's protocol, not aiokafka's or a broker's."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaError

from weir.common import SimpleStringSchema
from weir.datastream.connectors.kafka import (
    DeliveryGuarantee,
    KafkaRecordSerializationSchema,
    KafkaSink,
)
from weir.datastream.connectors.kafka._writer import (
    KafkaTransactionsUnsupportedError,
    KafkaWriter,
    KafkaWriterState,
)


class TransactionalBroker:
    def __init__(self, serves_transactions: bool = True) -> None:
        self.visible: list[bytes] = []
        self.open: dict[str, list[bytes]] = {}
        self.epochs: dict[str, int] = {}
        self.serves_transactions = serves_transactions

    def producer(self, **kwargs: Any) -> FakeProducer:
        return FakeProducer(self, kwargs.get("transactional_id"))


class FakeProducer:
    def __init__(self, broker: TransactionalBroker, tid: str | None) -> None:
        self.broker = broker
        self.tid = tid
        self.epoch = -1
        self.in_txn = False

    async def start(self) -> None:
        if self.tid is None:
            return
        if not self.broker.serves_transactions:
            raise KafkaError("InitProducerId: unknown error")
        self.broker.open.pop(self.tid, None)  # abort what an earlier producer left open
        self.epoch = self.broker.epochs[self.tid] = self.broker.epochs.get(self.tid, -1) + 1

    async def stop(self) -> None:
        pass

    def _check_fenced(self) -> None:
        assert self.tid is not None
        if self.broker.epochs[self.tid] != self.epoch:
            raise KafkaError(f"{self.tid} fenced")

    def transaction_in_progress(self) -> bool:
        return self.in_txn

    async def begin_transaction(self) -> None:
        self._check_fenced()
        self.in_txn = True
        self.broker.open[self.tid or ""] = []

    async def send(self, topic: str, value: bytes, key: bytes | None = None) -> asyncio.Future:
        if self.tid is None:
            self.broker.visible.append(value)
        else:
            self._check_fenced()
            self.broker.open[self.tid].append(value)
        done: asyncio.Future = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def flush(self) -> None:
        pass

    async def commit_transaction(self) -> None:
        self._check_fenced()
        self.broker.visible.extend(self.broker.open.pop(self.tid or ""))
        self.in_txn = False


def exactly_once_sink() -> KafkaSink:
    return (KafkaSink.builder().set_bootstrap_servers("broker:9092")
            .set_record_serializer(KafkaRecordSerializationSchema.builder().set_topic("out")
                                   .set_value_serialization_schema(SimpleStringSchema())
                                   .build())
            .set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE)
            .set_transactional_id_prefix("job").set_property("transaction.pool.size", "3")
            .build())


def test_output_is_visible_only_once_its_checkpoint_completes() -> None:
    async def run() -> None:
        broker, sink = TransactionalBroker(), exactly_once_sink()
        writer = KafkaWriter(sink, 0, 1, None, broker.producer)
        committer = sink.create_committer()
        await writer.write_batch(["a", "b"])
        first = await writer.prepare_commit()  # barrier 1
        await writer.write_batch(["c"])
        assert broker.visible == []
        second = await writer.prepare_commit()  # barrier 2, before 1 completed
        assert [c.transactional_id for c in first + second] == ["job-0-0", "job-0-1"]
        await committer.commit(first)
        assert broker.visible == [b"a", b"b"]
        await committer.commit(first + second)  # again, and 2: idempotent
        assert broker.visible == [b"a", b"b", b"c"]
        assert await writer.prepare_commit() == []  # nothing written: no transaction

    asyncio.run(run())


def test_a_restart_aborts_what_the_failed_attempt_left_open() -> None:
    async def run() -> None:
        broker, sink = TransactionalBroker(), exactly_once_sink()
        writer = KafkaWriter(sink, 1, 3, None, broker.producer)
        await writer.write_batch(["committed"])
        await sink.create_committer().commit(await writer.prepare_commit())
        await writer.write_batch(["lost with the attempt"])  # no barrier: never pre-committed
        # A new attempt at parallelism 2 (a fresh copy of the sink: a new process).
        restored = KafkaWriterState(writer.snapshot_state().parallelism)
        again = KafkaWriter(exactly_once_sink(), 1, 2, restored, broker.producer)
        await again.write_batch(["after the restart"])
        assert "job-0-0" not in broker.epochs  # subtask 0's ids are subtask 0's business
        assert broker.open.keys() == {"job-1-0"}  # the old open transaction was aborted
        await exactly_once_sink().create_committer().commit([])
        assert broker.visible == [b"committed"]

    asyncio.run(run())


def test_too_many_pending_checkpoints_fail_clearly() -> None:
    async def run() -> None:
        broker, sink = TransactionalBroker(), exactly_once_sink()
        writer = KafkaWriter(sink, 0, 1, None, broker.producer)
        with pytest.raises(RuntimeError, match=r"transaction.pool.size=3"):
            for n in range(3):
                await writer.write_batch([str(n)])
                await writer.prepare_commit()

    asyncio.run(run())


def test_a_broker_without_transactions_fails_fast() -> None:
    async def run() -> None:
        writer = KafkaWriter(exactly_once_sink(), 0, 1, None,
                             TransactionalBroker(serves_transactions=False).producer)
        with pytest.raises(KafkaTransactionsUnsupportedError,
                           match="refused to start transactional producer 'job-0-0'"):
            await writer.write_batch(["x"])

    asyncio.run(run())
