"""The Kafka source reader: one per source subtask, the only part that talks to the broker.

Life of a reader (driven by its subtask's mailbox loop, one call at a time):

1. ``restore_position`` (after a failure): the offsets of its partitions;
2. first ``poll_batch``: connects (``client.connect.attempts`` tries), discovers the
   topics' partitions, keeps those ``enumerator.assigned_partitions`` gives it, and
   resolves where each starts (restored offset; else the starting initializer for
   partitions of the first discovery, earliest for partitions found later) and, when
   bounded, where each stops;
3. ``poll_batch`` (or ``poll_split_batches``, one batch per partition, when the task runs
   one watermark generator per partition): fetches, deserializes, advances each
   partition's next offset; every ``partition.discovery.interval.ms`` looks for new
   partitions and topics;
4. ``snapshot_position``: the next offset (and stop offset) of every partition it reads;
   ``notify_checkpoint_complete`` commits the offsets of the oldest snapshot not yet
   committed to the consumer group (for lag monitoring only: recovery uses the checkpoint).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError, KafkaError
from aiokafka.structs import OffsetAndMetadata

from weir.checkpoint.redistribution import RedistributedState
from weir.config import Configuration
from weir.connector import SplitAwareSourceReader
from weir.datastream.connectors.kafka._config import (
    client_kwargs,
    consumer_kwargs,
)
from weir.datastream.connectors.kafka.enumerator import assigned_partitions, matching_topics
from weir.datastream.connectors.kafka.offsets import (
    KafkaOffsetsInitializer,
    KafkaTopicPartition,
    latest_offsets,
    resolve_offsets,
)
from weir.datastream.connectors.kafka.source import (
    DeserializationFailurePolicy,
    KafkaRecordDeserializationError,
    KafkaSource,
)

__all__ = ["KafkaSourcePosition", "KafkaSourceReader"]

log = logging.getLogger(__name__)

_POLL_TIMEOUT_MS = 20
_IDLE_SLEEP_S = 0.05
_PENDING_COMMITS = 4


@dataclass
class KafkaSourcePosition:
    """A reader's snapshot: ``offsets[partition] = (next offset, stop offset or None)``;
    ``started`` is False when it was taken before the reader first connected."""

    offsets: dict[KafkaTopicPartition, tuple[int, int | None]]
    started: bool = True


def split_id(split: KafkaTopicPartition) -> str:
    """A partition's split id, ``<topic>-<partition>`` as Flink's ``KafkaPartitionSplit``."""
    return f"{split.topic}-{split.partition}"


class KafkaSourceReader(SplitAwareSourceReader[Any]):
    """Reads the partitions the enumerator assigns to subtask ``subtask_index``; each
    partition is a split."""

    def __init__(self, source: KafkaSource, subtask_index: int, parallelism: int) -> None:
        self._source = source
        self._subtask = subtask_index
        self._parallelism = parallelism
        self._kwargs = client_kwargs(source.bootstrap_servers, source.properties)
        self._consumer: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._dead_letters: AIOKafkaProducer | None = None
        self._next: dict[KafkaTopicPartition, int] = {}
        self._stop: dict[KafkaTopicPartition, int | None] = {}
        self._finished: set[KafkaTopicPartition] = set()
        self._restored: KafkaSourcePosition | None = None
        self._next_discovery = 0.0
        self._pending_commits: deque[dict[KafkaTopicPartition, int]] = deque()
        self._closing: asyncio.Task[None] | None = None
        self._fetch_timestamp_ms: int | None = None
        self._emit_lag_ms: int | None = None
        self._split_ids: frozenset[str] = frozenset()
        self.num_records_skipped = 0
        self.num_records_dead_lettered = 0

    # ------------------------------------------------------------------ checkpoints

    def snapshot_position(self) -> KafkaSourcePosition:
        if self._consumer is None and self._restored is not None:
            return self._restored
        offsets = {tp: (offset, self._stop.get(tp)) for tp, offset in self._next.items()}
        if self._source.commit_offsets_on_checkpoint and self._consumer is not None:
            self._pending_commits.append({tp: off for tp, (off, _) in offsets.items()})
            while len(self._pending_commits) > _PENDING_COMMITS:
                self._pending_commits.popleft()
        return KafkaSourcePosition(offsets, started=self._consumer is not None)

    def restore_position(self, position: Any) -> None:
        """Take the offsets of ``position`` (one reader's snapshot, or a list of them when
        the source's state is redistributed); the partitions not assigned to this subtask
        are dropped when the reader starts."""
        positions = position if isinstance(position, RedistributedState) else [position]
        merged: dict[KafkaTopicPartition, tuple[int, int | None]] = {}
        started = False
        for one in positions:
            if not isinstance(one, KafkaSourcePosition):
                raise TypeError(f"KafkaSource: cannot restore a position of type "
                                f"{type(one).__name__}")
            merged.update(one.offsets)
            started = started or one.started
        self._restored = KafkaSourcePosition(merged, started)

    async def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        if not self._pending_commits or self._consumer is None:
            return
        offsets = self._pending_commits.popleft()
        commit = {TopicPartition(tp.topic, tp.partition): OffsetAndMetadata(offset, "")
                  for tp, offset in offsets.items()}
        if not commit:
            return
        try:
            await self._consumer.commit(commit)
        except KafkaError as error:  # as Flink: a failed commit only delays lag reporting
            log.warning("KafkaSource: committing offsets of checkpoint %d failed: %s",
                        checkpoint_id, error)

    # ------------------------------------------------------------------ reading

    async def poll_batch(self, max_records: int) -> list[Any] | None:
        fetched = await self._fetch(max_records)
        if fetched is None:
            return None
        records: list[Any] = []
        for tp, messages in fetched.items():
            await self._take(KafkaTopicPartition(tp.topic, tp.partition), messages, records)
        self._emitted(records)
        return records

    async def poll_split_batches(self, max_records: int) -> list[tuple[str, list[Any]]] | None:
        fetched = await self._fetch(max_records)
        if fetched is None:
            return None
        batches: list[tuple[str, list[Any]]] = []
        for tp, messages in fetched.items():
            split = KafkaTopicPartition(tp.topic, tp.partition)
            records: list[Any] = []
            await self._take(split, messages, records)
            if records:
                batches.append((split_id(split), records))
                self._emitted(records)
        return batches

    def assigned_splits(self) -> frozenset[str]:
        return self._split_ids

    async def _fetch(self, max_records: int) -> dict[Any, list[Any]] | None:
        """What ``getmany`` returns (``{}`` when nothing is ready), after connecting and
        discovering partitions when due; None when a bounded read is done."""
        if self._consumer is None:
            await self._start()
        consumer = self._consumer
        assert consumer is not None
        if 0 < self._next_discovery <= time.monotonic():
            await self._discover(first=False)
        if self._source.is_bounded() and len(self._finished) == len(self._next):
            return None
        if len(self._finished) == len(self._next):
            await asyncio.sleep(_IDLE_SLEEP_S)
            return {}
        fetched: dict[Any, list[Any]] = await consumer.getmany(timeout_ms=_POLL_TIMEOUT_MS,
                                                                max_records=max_records)
        return fetched

    def _emitted(self, records: list[Any]) -> None:
        """Records go out now: the emit event-time lag is now minus the Kafka timestamp of
        the last record fetched (per batch, not per record)."""
        if records and self._fetch_timestamp_ms is not None:
            self._emit_lag_ms = int(time.time() * 1000) - self._fetch_timestamp_ms

    async def _take(self, split: KafkaTopicPartition, messages: list[Any],
                    out: list[Any]) -> None:
        stop = self._stop.get(split)
        expected = self._next.get(split)
        if expected is None or split in self._finished:
            return
        deserialize = self._source.deserializer.deserialize
        if not self._take_all(split, messages, expected, stop, out):
            for message in messages:
                if message.offset < expected:
                    continue  # re-delivered by a fetch from before a seek
                if stop is not None and message.offset >= stop:
                    break
                try:
                    value = deserialize(message.value)
                except Exception as error:  # noqa: BLE001 - the policy decides
                    await self._bad_record(split, message, error)
                else:
                    out.append(value)
                self._next[split] = message.offset + 1
        if messages:
            self._fetch_timestamp_ms = messages[-1].timestamp
        if stop is not None and self._next[split] >= stop:
            self._finish(split)

    def _take_all(self, split: KafkaTopicPartition, messages: list[Any], expected: int,
                  stop: int | None, out: list[Any]) -> bool:
        """The common case in one list comprehension, without per-record bookkeeping: all of
        ``messages`` are due and readable. False (nothing taken) otherwise."""
        if not messages or messages[0].offset < expected or (
                stop is not None and messages[-1].offset >= stop):
            return False
        deserialize = self._source.deserializer.deserialize
        try:
            out.extend([deserialize(message.value) for message in messages])
        except Exception:  # noqa: BLE001 - a bad record: the caller goes one by one
            return False
        self._next[split] = messages[-1].offset + 1
        return True

    async def _bad_record(self, split: KafkaTopicPartition, message: Any,
                          error: Exception) -> None:
        policy = self._source.failure_policy
        where = f"topic {split.topic}, partition {split.partition}, offset {message.offset}"
        if policy is DeserializationFailurePolicy.FAIL:
            raise KafkaRecordDeserializationError(
                f"KafkaSource: cannot deserialize the record at {where}: "
                f"{type(error).__name__}: {error}") from error
        if policy is DeserializationFailurePolicy.SKIP:
            self.num_records_skipped += 1
            log.warning("KafkaSource: skipped the unreadable record at %s: %s", where, error)
            return
        topic = self._source.dead_letter_topic
        assert topic is not None
        if self._dead_letters is None:
            self._dead_letters = AIOKafkaProducer(**self._kwargs, acks="all")
            await self._dead_letters.start()
        headers = [("weir.source.topic", split.topic.encode()),
                   ("weir.source.partition", str(split.partition).encode()),
                   ("weir.source.offset", str(message.offset).encode()),
                   ("weir.error", f"{type(error).__name__}: {error}".encode())]
        # Acknowledged before the offset moves past it: a dead letter is never lost.
        await self._dead_letters.send_and_wait(topic, message.value, key=message.key,
                                               headers=headers)
        self.num_records_dead_lettered += 1

    def _finish(self, split: KafkaTopicPartition) -> None:
        self._finished.add(split)
        self._split_ids = self._split_ids - {split_id(split)}
        if self._consumer is not None:
            self._consumer.pause(TopicPartition(split.topic, split.partition))

    # ------------------------------------------------------------------ set up

    async def _start(self) -> None:
        properties = Configuration(self._source.properties)
        attempts = max(1, properties.get_integer("client.connect.attempts", 3))
        backoff_s = properties.get_integer("retry.backoff.ms", 1000) / 1000
        for attempt in range(1, attempts + 1):
            consumer = AIOKafkaConsumer(**consumer_kwargs(self._source.bootstrap_servers,
                                                          self._source.properties),
                                        group_id=self._source.group_id,
                                        enable_auto_commit=False, auto_offset_reset="earliest")
            try:
                await consumer.start()
            except KafkaConnectionError as error:
                await consumer.stop()
                if attempt == attempts:
                    raise KafkaConnectionError(
                        f"KafkaSource: cannot reach the Kafka brokers at "
                        f"{self._source.bootstrap_servers} after {attempts} attempt(s) "
                        f"(client.connect.attempts): {error}") from error
                await asyncio.sleep(backoff_s * attempt)
            else:
                self._consumer = consumer
                break
        self._admin = AIOKafkaAdminClient(**self._kwargs)
        await self._admin.start()
        await self._discover(first=True)

    async def _discover(self, first: bool) -> None:
        """Find the topics' partitions; start reading the new ones assigned to this subtask."""
        admin = self._admin
        assert admin is not None
        source = self._source
        topics = matching_topics(await admin.list_topics(), source.topics, source.topic_pattern)
        described = await admin.describe_topics(topics) if topics else []
        partitions = [KafkaTopicPartition(d["topic"], p["partition"]) for d in described
                      if not d.get("error_code") for p in d["partitions"]]
        mine = assigned_partitions(partitions, self._subtask, self._parallelism)
        new = [tp for tp in mine if tp not in self._next]
        interval = source.discovery_interval_ms
        self._next_discovery = time.monotonic() + interval / 1000 if interval > 0 else 0.0
        if not new:
            return
        if first and self._next:
            raise AssertionError("first discovery with partitions already known")
        await self._add_splits(new, first)

    async def _add_splits(self, new: list[KafkaTopicPartition], first: bool) -> None:
        consumer = self._consumer
        assert consumer is not None
        tps = {tp: TopicPartition(tp.topic, tp.partition) for tp in new}
        consumer.assign([TopicPartition(t.topic, t.partition) for t in self._next] +
                        list(tps.values()))
        restored = self._restored
        start: dict[KafkaTopicPartition, int] = {}
        stop: dict[KafkaTopicPartition, int | None] = {}
        if restored is not None and restored.started:
            for tp in new:
                if tp in restored.offsets:
                    start[tp], stop[tp] = restored.offsets[tp]
        fresh = [tps[tp] for tp in new if tp not in start]
        initializer = (self._source.starting_offsets
                       if first and (restored is None or not restored.started)
                       else KafkaOffsetsInitializer.earliest())  # found later: from the start
        for tp, offset in (await resolve_offsets(initializer, consumer, fresh)).items():
            start[KafkaTopicPartition(tp.topic, tp.partition)] = offset
        stopping = self._source.stopping_offsets
        if stopping is not None and fresh:
            ends = (await latest_offsets(consumer, fresh) if stopping.kind.value == "latest"
                    else await resolve_offsets(stopping, consumer, fresh))
            for tp, offset in ends.items():
                stop[KafkaTopicPartition(tp.topic, tp.partition)] = offset
        self._split_ids = self._split_ids | {split_id(split) for split in new}
        for split in new:
            self._next[split] = start[split]
            self._stop[split] = stop.get(split)
            consumer.seek(tps[split], start[split])
            stop_at = stop.get(split)
            if stop_at is not None and start[split] >= stop_at:
                self._finish(split)
        log.info("KafkaSource subtask %d/%d reads %s", self._subtask, self._parallelism,
                 ", ".join(f"{t.topic}-{t.partition}@{self._next[t]}" for t in new))

    # ------------------------------------------------------------------ lag, close

    def metrics(self) -> dict[str, Any]:
        """Lag figures with Flink's names, for the metric group: per-partition current
        offsets and lag, ``records-lag-max``, ``pendingRecords``,
        ``currentFetchEventTimeLag`` (ms since the last fetched record's timestamp),
        ``currentEmitEventTimeLag`` (ms from the last emitted record's Kafka timestamp to
        the time it was emitted)."""
        lags: dict[str, int] = {}
        consumer = self._consumer
        for split, offset in self._next.items():
            highwater = (consumer.highwater(TopicPartition(split.topic, split.partition))
                         if consumer is not None else None)
            if highwater is not None:
                lags[f"{split.topic}-{split.partition}"] = max(0, highwater - offset)
        now_ms = int(time.time() * 1000)
        fetched = self._fetch_timestamp_ms
        return {
            "currentOffsets": {f"{t.topic}-{t.partition}": o for t, o in self._next.items()},
            "partitionLag": lags,
            "records-lag-max": max(lags.values(), default=0),
            "pendingRecords": sum(lags.values()),
            "currentFetchEventTimeLag": None if fetched is None else now_ms - fetched,
            "currentEmitEventTimeLag": self._emit_lag_ms,
            "numRecordsSkipped": self.num_records_skipped,
            "numRecordsDeadLettered": self.num_records_dead_lettered,
        }

    def close(self) -> None:
        clients: list[Any] = [c for c in (self._consumer, self._dead_letters) if c is not None]
        if self._admin is not None:
            clients.append(self._admin)
        self._consumer = self._dead_letters = None
        self._admin = None
        if not clients:
            return

        async def stop_all() -> None:
            for client in clients:
                try:
                    await (client.close() if isinstance(client, AIOKafkaAdminClient)
                           else client.stop())
                except Exception as error:  # noqa: BLE001 - closing must not fail the task
                    log.debug("KafkaSource: error stopping a client: %s", error)

        try:
            self._closing = asyncio.get_running_loop().create_task(stop_all())
        except RuntimeError:  # no running loop: nothing to close on
            pass
