"""The KafkaSink's writer and committer.

Transactions (EXACTLY_ONCE), the four steps every two-phase sink takes:

1. write: records go into the open transaction of one of this subtask's
   transactional producers, ``<prefix>-<subtask>-<slot>`` (slot 0 … pool size-1);
2. pre-commit on the barrier (``prepare_commit``): flush, hand the transaction's id
   over as the committable, and move on to the next slot's producer;
3. commit when the checkpoint completes (``KafkaCommitter``): commit that producer's
   transaction;
4. abort on restore: before writing, every transactional id this subtask owns (and,
   after a scale-down, those of the subtasks that no longer exist) is initialized
   once, which makes the broker abort what an earlier attempt left open.

The ids depend only on the prefix, the subtask index and the slot, so they are
stable across restarts; the writer's state records the parallelism for step 4.
What aiokafka cannot do: resume a transaction after a restart, as Flink's
producer does by reflection. A checkpoint whose transaction was pre-committed
but not yet committed when its process died is aborted, not committed (logged).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from weir.checkpoint.redistribution import RedistributedState
from weir.connector import Committer, TwoPhaseCommittingSinkWriter
from weir.datastream.connectors.kafka._config import producer_kwargs
from weir.datastream.connectors.kafka.sink import DeliveryGuarantee, KafkaSink

__all__ = ["KafkaCommittable", "KafkaCommitter", "KafkaTransactionsUnsupportedError",
           "KafkaWriter", "KafkaWriterState", "transactional_id"]

log = logging.getLogger(__name__)


class KafkaTransactionsUnsupportedError(Exception):
    """The broker refused to initialize a transactional producer."""


@dataclass(frozen=True)
class KafkaCommittable:
    transactional_id: str


@dataclass(frozen=True)
class KafkaWriterState:
    parallelism: int


def transactional_id(prefix: str, subtask_index: int, slot: int) -> str:
    return f"{prefix}-{subtask_index}-{slot}"


def ids_to_abort(prefix: str, subtask_index: int, parallelism: int, old_parallelism: int,
                 pool_size: int) -> list[str]:
    """The transactional ids subtask ``subtask_index`` initializes on start: its own, and
    those of subtasks ≥ ``parallelism`` of an earlier, larger parallelism it stands for."""
    owners = range(subtask_index, max(parallelism, old_parallelism), parallelism)
    return [transactional_id(prefix, owner, slot) for owner in owners for slot in range(pool_size)]


def _old_parallelism(restored: KafkaWriterState | RedistributedState | None,
                     parallelism: int) -> int:
    """The parallelism the restored writers ran at (all old subtasks' states agree)."""
    if isinstance(restored, RedistributedState):
        return max((state.parallelism for state in restored), default=parallelism)
    return restored.parallelism if restored is not None else parallelism


class KafkaWriter(TwoPhaseCommittingSinkWriter[Any]):
    """Writes one subtask's records; ``producer_factory`` makes its producers (aiokafka's,
    unless a test passes a double taking the same keyword arguments)."""

    def __init__(self, sink: KafkaSink, subtask_index: int, parallelism: int,
                 restored: KafkaWriterState | RedistributedState | None,
                 producer_factory: Callable[..., Any] = AIOKafkaProducer) -> None:
        self._sink = sink
        self._new_producer = producer_factory
        self._subtask = subtask_index
        self._parallelism = parallelism
        self._old_parallelism = _old_parallelism(restored, parallelism)
        self._kwargs = producer_kwargs(sink.bootstrap_servers, sink.properties)
        self._exactly_once = sink.delivery_guarantee is DeliveryGuarantee.EXACTLY_ONCE
        self._producer: AIOKafkaProducer | None = None
        self._slot = 0
        self._current_tid: str | None = None
        self._in_transaction = False
        self._deliveries: list[asyncio.Future[Any]] = []
        self._closing: asyncio.Task[None] | None = None

    async def _start(self) -> AIOKafkaProducer:
        if not self._exactly_once:
            # NONE differs only in not waiting at checkpoints (as Flink's): acks=0 loses
            # records even at a clean end of input.
            self._producer = self._new_producer(**self._kwargs, acks="all")
            await self._producer.start()
            return self._producer
        prefix = self._sink.transactional_id_prefix
        assert prefix is not None
        for tid in ids_to_abort(prefix, self._subtask, self._parallelism,
                                self._old_parallelism, self._sink.transaction_pool_size):
            if tid not in self._sink.producers:  # initializing aborts its open transaction
                await self._transactional_producer(tid)
        return await self._slot_producer()

    async def _transactional_producer(self, tid: str) -> AIOKafkaProducer:
        producer = self._new_producer(**self._kwargs, transactional_id=tid, acks="all",
                                      enable_idempotence=True)
        try:
            await producer.start()
        except KafkaError as error:
            await producer.stop()
            raise KafkaTransactionsUnsupportedError(
                f"KafkaSink: the brokers at {self._sink.bootstrap_servers} refused to start "
                f"transactional producer {tid!r} ({type(error).__name__}: {error}); "
                f"EXACTLY_ONCE needs a broker that serves Kafka transactions (e.g. Apache "
                f"Kafka); use DeliveryGuarantee.AT_LEAST_ONCE otherwise") from error
        self._sink.producers[tid] = producer
        return producer

    async def _slot_producer(self) -> AIOKafkaProducer:
        prefix = self._sink.transactional_id_prefix
        assert prefix is not None
        tid = transactional_id(prefix, self._subtask, self._slot)
        producer = self._sink.producers.get(tid) or await self._transactional_producer(tid)
        if producer.transaction_in_progress():
            raise RuntimeError(
                f"KafkaSink: transaction {tid} still awaits its checkpoint's completion: more "
                f"than transaction.pool.size={self._sink.transaction_pool_size} "
                f"checkpoints are pending; raise it")
        self._producer = producer
        self._current_tid = tid
        return producer

    async def write_batch(self, records: list[Any]) -> None:
        producer = self._producer or await self._start()
        if self._exactly_once and not self._in_transaction:
            await producer.begin_transaction()
            self._in_transaction = True
        serialize = self._sink.record_serializer.serialize
        deliveries = self._deliveries
        for record in records:
            topic, key, value = serialize(record)
            deliveries.append(await producer.send(topic, value, key=key))
        if len(deliveries) > 10_000:
            self._deliveries = [d for d in deliveries if not d.done() or d.exception()]
            self._raise_failed()

    def _raise_failed(self) -> None:
        for delivery in self._deliveries:
            if delivery.done() and delivery.exception() is not None:
                raise RuntimeError(f"KafkaSink: a record was not delivered: "
                                   f"{delivery.exception()}") from delivery.exception()

    async def flush(self) -> None:
        if self._producer is not None:
            await self._producer.flush()
            await asyncio.gather(*self._deliveries, return_exceptions=True)
            self._raise_failed()
            self._deliveries = []

    async def prepare_commit(self) -> list[Any]:
        guarantee = self._sink.delivery_guarantee
        if guarantee is DeliveryGuarantee.NONE or self._producer is None:
            return []
        await self.flush()
        if guarantee is DeliveryGuarantee.AT_LEAST_ONCE or not self._in_transaction:
            return []
        assert self._current_tid is not None
        committable = KafkaCommittable(self._current_tid)
        self._in_transaction = False
        self._slot = (self._slot + 1) % self._sink.transaction_pool_size
        await self._slot_producer()
        return [committable]

    def snapshot_state(self) -> KafkaWriterState:
        return KafkaWriterState(self._parallelism)

    def close(self) -> None:
        producers = list(self._sink.producers.values())
        if self._producer is not None and not self._exactly_once:
            producers.append(self._producer)
        self._sink.producers.clear()
        self._producer = None
        if producers:
            self._closing = asyncio.get_running_loop().create_task(_stop_all(producers))


async def _stop_all(producers: list[AIOKafkaProducer]) -> None:
    for producer in producers:
        try:
            await producer.stop()
        except Exception as error:  # noqa: BLE001 - closing must not fail the task
            log.debug("KafkaSink: error stopping a producer: %s", error)


class KafkaCommitter(Committer):
    """Commits pre-committed transactions through the producers that opened them."""

    def __init__(self, producers: dict[str, AIOKafkaProducer]) -> None:
        self._producers = producers

    async def commit(self, committables: list[Any]) -> None:
        for committable in committables:
            tid = committable.transactional_id
            producer = self._producers.get(tid)
            if producer is None or not producer.transaction_in_progress():
                log.warning("KafkaSink: transaction %s cannot be committed here (committed "
                            "already, or opened by an earlier attempt: aiokafka cannot resume "
                            "it, so the restart aborts it)", tid)
                continue
            await producer.commit_transaction()
