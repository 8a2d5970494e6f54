"""FileSink through the sink operator, without a cluster: checkpoints, crashes and restores
are simulated by driving ``ConnectorSinkOperator`` the way a task does. ``FileSinkContract``
runs here on file://; tests/integration/test_file_sink_s3.py runs it on s3://."""

from __future__ import annotations

import asyncio
import pickle
import re
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from weir.checkpoint import storage_for
from weir.checkpoint.redistribution import RedistributedState
from weir.common import Encoder
from weir.datastream.connectors import BucketAssigner, FileSink, OutputFileConfig, RollingPolicy
from weir.datastream.connectors.base import Sink, SinkWriter
from weir.datastream.connectors.file_system import BucketAssignerContext
from weir.graph.operators import SinkSpec
from weir.taskmanager.operators.base import OperatorContext
from weir.taskmanager.operators.sinks import ConnectorSinkOperator

pytestmark = pytest.mark.timeout(60)

T0 = 1_709_622_489_000  # 2024-03-05 07:08:09 UTC
UID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@dataclass
class Target:
    base_path: str
    configuration: dict[str, str]


@dataclass
class ManualClock:
    now: int = T0

    def __call__(self) -> int:
        return self.now


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


async def listing(target: Target) -> list[str]:
    """Every object below the base path, relative to it."""
    storage = storage_for(target.base_path, target.configuration)
    try:
        return sorted(await storage.list(""))
    finally:
        await storage.close()


def is_visible(path: str) -> bool:
    return not any(part.startswith((".", "_")) for part in path.split("/"))


async def visible_output(target: Target) -> dict[str, list[str]]:
    """The lines of every visible (finished) file, by path."""
    storage = storage_for(target.base_path, target.configuration)
    try:
        files = [p for p in await storage.list("") if is_visible(p)]
        return {p: (await storage.read(p)).decode().splitlines() for p in sorted(files)}
    finally:
        await storage.close()


def lines_of(output: dict[str, list[str]]) -> list[str]:
    return [line for lines in output.values() for line in lines]


@dataclass
class Attempt:
    """One attempt of a sink subtask, driven as a StreamTask drives its sink operator;
    ``restored`` is one pickled state, or several (rescaled) redistributed to it."""

    sink: Sink
    target: Target
    restored: bytes | list[bytes] | None = None
    checkpointing: bool = True
    clock: Callable[[], int] = field(default_factory=ManualClock)
    states: dict[int, bytes] = field(default_factory=dict)
    subtask_index: int = 0
    parallelism: int = 1

    async def start(self) -> Attempt:
        self.operator = ConnectorSinkOperator(SinkSpec("Sink: FileSink", "sink", self.sink))
        restored = self.restored
        self.operator.initialize_state(
            RedistributedState(pickle.loads(state) for state in restored)
            if isinstance(restored, list) else pickle.loads(restored) if restored else None)
        self.operator.open(OperatorContext(
            task_name="Sink: FileSink", subtask_index=self.subtask_index,
            parallelism=self.parallelism, max_parallelism=128,
            attempt=0, configuration=self.target.configuration, clock_ms=self.clock,
            request_timer_wakeup=lambda _: None, reporter=None,  # type: ignore[arg-type]
            checkpointing=self.checkpointing))
        await self.operator.recover()
        return self

    async def write(self, records: list[Any], batch: int = 25) -> None:
        for start in range(0, len(records), batch):
            await self.operator.write(records[start:start + batch])

    async def checkpoint(self, checkpoint_id: int) -> bytes:
        """Barrier ``checkpoint_id``: pre-commit, then the synchronous snapshot (pickled at once)."""
        await self.operator.prepare_snapshot_pre_barrier(checkpoint_id)
        state = pickle.dumps(self.operator.snapshot_state(checkpoint_id))
        self.states[checkpoint_id] = state
        return state

    async def complete(self, checkpoint_id: int) -> None:
        await self.operator.notify_checkpoint_complete(checkpoint_id)

    async def end(self) -> None:
        """End of input, then the final checkpoint completes (with checkpointing on)."""
        await self.operator.finish()
        if self.checkpointing:
            final = max(self.states, default=0) + 1
            await self.checkpoint(final)
            await self.complete(final)
        await self.close()

    async def close(self) -> None:
        self.operator.close()
        await settle()


async def settle() -> None:
    """Wait for the storage clients that synchronous close() calls closed on the loop."""
    current = asyncio.current_task()
    await asyncio.gather(*(t for t in asyncio.all_tasks() if t is not current))


def records(first: int, stop: int) -> list[str]:
    return [f"record-{i:05d}" for i in range(first, stop)]


def file_sink(target: Target, policy: RollingPolicy, clock: Callable[[], int] | None = None,
              **settings: Any) -> FileSink:
    return FileSink(target.base_path, Encoder.simple_string_encoder(), rolling_policy=policy,
                    bucket_assigner=settings.pop("bucket_assigner",
                                                 BucketAssigner.base_path_bucket_assigner()),
                    clock_ms=clock or ManualClock(), **settings)


POLICIES = {
    "on-checkpoint": RollingPolicy.on_checkpoint_rolling_policy(),
    "by-size": RollingPolicy.default_rolling_policy(part_size=300),
    "spanning-checkpoints": RollingPolicy.default_rolling_policy(),
}
# What checkpoint 1 (after records 0-99) publishes: every part that rolled by then.
COMMITTED_BY_1 = {
    "on-checkpoint": records(0, 100),
    "by-size": records(0, 96),  # 13-byte records: a part rolls after 24 (312 bytes > 300)
    "spanning-checkpoints": [],  # the part stays open across the checkpoint
}


class FileSinkContract:
    """What the FileSink does on every file system, run by a ``Test…`` subclass on the
    ``target`` fixture it defines (one subclass per file system)."""

    @pytest.mark.parametrize("policy", POLICIES)
    @pytest.mark.parametrize("notified", [True, False], ids=["notified", "crash-before-notify"])
    def test_exactly_once_after_a_crash_and_restore(self, target: Target, policy: str,
                                                    notified: bool) -> None:
        """Checkpoint 1 completes; more records, pre-commit 2, crash; restore from 1, replay:
        the visible output holds every record exactly once."""
        sink = file_sink(target, POLICIES[policy])

        async def scenario() -> None:
            first = await Attempt(sink, target).start()
            await first.write(records(0, 100))
            state_1 = await first.checkpoint(1)
            if notified:
                await first.complete(1)
                assert sorted(lines_of(await visible_output(target))) == COMMITTED_BY_1[policy]
            await first.write(records(100, 200))
            await first.checkpoint(2)
            await first.write(records(200, 230))  # never pre-committed
            await first.close()  # crash: checkpoint 2 never completes
            seen = lines_of(await visible_output(target))
            assert len(seen) == len(set(seen)) and set(seen) <= set(records(0, 100))

            second = await Attempt(sink, target, restored=state_1).start()
            assert sorted(lines_of(await visible_output(target))) == COMMITTED_BY_1[policy]
            await second.write(records(100, 250))  # the source rewound to checkpoint 1
            await second.checkpoint(3)
            await second.complete(3)
            await second.write(records(250, 300))
            await second.end()

            output = await visible_output(target)
            assert Counter(lines_of(output)) == Counter(records(0, 300))
            uids = {re.fullmatch(rf"part-({UID})-\d+", path)[1]  # type: ignore[index]
                    for path in output}
            assert len(uids) == 1  # the restored subtask kept its uid
            # What the failed attempt left behind:
            leftovers = [p for p in await listing(target) if p not in output]
            assert all(re.fullmatch(rf"\.part-{UID}-\d+\.inprogress\.[0-9a-f]{{32}}", p)
                       for p in leftovers)

        run(scenario)

    @pytest.mark.parametrize("policy", ["on-checkpoint", "spanning-checkpoints"])
    def test_rescaled_subtasks_commit_every_old_subtasks_output_once(self, target: Target,
                                                                     policy: str) -> None:
        """Two subtasks write and pre-commit checkpoint 1, which completes but is never
        notified; the job resumes from it at parallelism 1, then at 2 again: the output
        holds every record exactly once, and every old subtask's in-progress part is
        published."""
        sink = file_sink(target, POLICIES[policy])

        async def scenario() -> None:
            old = [await Attempt(sink, target, subtask_index=i, parallelism=2).start()
                   for i in range(2)]
            for i, attempt in enumerate(old):
                await attempt.write(records(100 * i, 100 * i + 60))
            states = [await attempt.checkpoint(1) for attempt in old]
            for attempt in old:
                await attempt.close()  # stop with savepoint 1: never notified

            merged = await Attempt(sink, target, restored=states).start()
            await merged.write(records(60, 100) + records(160, 200))
            state_2 = await merged.checkpoint(2)
            await merged.complete(2)
            await merged.close()

            again = [await Attempt(sink, target, restored=[state_2] if i == 0 else None,
                                   subtask_index=i, parallelism=2).start() for i in range(2)]
            await again[1].write(records(200, 230))
            for attempt in again:
                await attempt.end()
            output = await visible_output(target)
            assert Counter(lines_of(output)) == Counter(records(0, 230))

        run(scenario)

    def test_rolling_by_size(self, target: Target) -> None:
        """A part rolls before the record that finds it above part_size (13-byte records: 4 a
        part)."""
        sink = file_sink(target, RollingPolicy.default_rolling_policy(part_size=50))

        async def scenario() -> None:
            attempt = await Attempt(sink, target).start()
            await attempt.write(records(0, 23), batch=7)
            await attempt.end()

        run(scenario)
        output = asyncio.run(visible_output(target))
        by_index = sorted(output.items(), key=lambda item: int(item[0].rsplit("-", 1)[1]))
        assert [lines for _, lines in by_index] == [records(i, min(i + 4, 23))
                                                    for i in range(0, 23, 4)]
        assert [int(path.rsplit("-", 1)[1]) for path, _ in by_index] == [0, 1, 2, 3, 4, 5]

    def test_rolling_on_checkpoint(self, target: Target) -> None:
        """One part per checkpoint that saw records; each becomes visible when its checkpoint
        completes."""
        sink = file_sink(target, RollingPolicy.on_checkpoint_rolling_policy())

        async def scenario() -> None:
            attempt = await Attempt(sink, target).start()
            await attempt.write(records(0, 10))
            await attempt.checkpoint(1)
            assert await visible_output(target) == {}
            await attempt.complete(1)
            assert list((await visible_output(target)).values()) == [records(0, 10)]
            await attempt.checkpoint(2)  # no records: no part
            await attempt.write(records(10, 15))
            await attempt.checkpoint(3)
            await attempt.write(records(15, 20))
            await attempt.checkpoint(4)
            # Also commits 3's part (3 was aborted or its notification lost):
            await attempt.complete(4)
            await attempt.close()

        run(scenario)
        output = asyncio.run(visible_output(target))
        assert sorted(output.values()) == [records(0, 10), records(10, 15), records(15, 20)]

    def test_a_part_spans_checkpoints_hidden_until_it_rolls_by_time(self, target: Target) -> None:
        clock = ManualClock()
        policy = RollingPolicy.default_rolling_policy(rollover_interval=10_000,
                                                      inactivity_interval=500)
        sink = file_sink(target, policy, clock, bucket_check_interval=100)

        async def scenario() -> None:
            attempt = await Attempt(sink, target, clock=clock).start()
            await attempt.write(records(0, 5))
            await attempt.checkpoint(1)
            await attempt.complete(1)
            clock.now += 200
            await attempt.write(records(5, 10))
            await attempt.checkpoint(2)
            await attempt.complete(2)
            hidden = await listing(target)
            # One segment per checkpoint:
            assert await visible_output(target) == {} and len(hidden) == 2
            assert all(re.fullmatch(rf"\.part-{UID}-0\.inprogress\.[0-9a-f]{{32}}", p)
                       for p in hidden)
            clock.now += 500  # inactive for 500 ms: rolls at the next check
            await attempt.checkpoint(3)
            await attempt.complete(3)
            assert list((await visible_output(target)).values()) == [records(0, 10)]
            assert [p for p in await listing(target) if not is_visible(p)] == []
            await attempt.close()

        run(scenario)

    def test_hidden_names_until_committed_and_the_output_file_config(self, target: Target) -> None:
        config = OutputFileConfig.builder().with_part_prefix("out").with_part_suffix(".txt").build()
        sink = file_sink(target, RollingPolicy.on_checkpoint_rolling_policy(),
                         output_file_config=config)

        async def scenario() -> None:
            attempt = await Attempt(sink, target).start()
            await attempt.write(records(0, 3))
            await attempt.checkpoint(1)
            pending = await listing(target)
            assert len(pending) == 1
            assert re.fullmatch(rf"\.out-{UID}-0\.txt\.inprogress\.[0-9a-f]{{32}}", pending[0])
            await attempt.complete(1)
            finished = await listing(target)
            assert len(finished) == 1 and re.fullmatch(rf"out-{UID}-0\.txt", finished[0])
            assert finished[0] == pending[0][1:].split(".inprogress.")[0]
            await attempt.close()

        run(scenario)

    def test_bucket_assigners_choose_directories(self, target: Target) -> None:
        clock = ManualClock()

        class ByParity(BucketAssigner):
            def get_bucket_id(self, element: int, context: BucketAssignerContext) -> str:
                return f"parity={'even' if element % 2 == 0 else 'odd'}/n"

        async def scenario() -> None:
            hourly = file_sink(target, RollingPolicy.on_checkpoint_rolling_policy(), clock,
                               bucket_assigner=BucketAssigner.date_time_bucket_assigner())
            attempt = await Attempt(hourly, target, clock=clock).start()
            await attempt.write(["a"])
            clock.now += 3600 * 1000
            await attempt.write(["b"])
            await attempt.end()
            by_parity = file_sink(target, RollingPolicy.on_checkpoint_rolling_policy(), clock,
                                  bucket_assigner=ByParity())
            await (await Attempt(by_parity, target, checkpointing=False).start()).write([1, 2, 3])
            attempt = await Attempt(by_parity, target, checkpointing=False).start()
            await attempt.write([4, 5, 6])
            await attempt.end()

        run(scenario)
        output = asyncio.run(visible_output(target))
        assert {path.rsplit("/", 1)[0]: lines for path, lines in output.items()} == {
            "2024-03-05--07": ["a"], "2024-03-05--08": ["b"],
            "parity=even/n": ["4", "6"], "parity=odd/n": ["5"]}  # the first writer never ended

    def test_commit_is_idempotent(self, target: Target) -> None:
        """Committing again after a restart changes nothing, also once the output was consumed."""
        sink = file_sink(target, RollingPolicy.on_checkpoint_rolling_policy())
        sink.configure(target.configuration)

        async def scenario() -> None:
            writer = sink.create_writer(0, 1)
            await writer.write_batch(records(0, 4))
            committables = await writer.prepare_commit()
            writer.close()
            committer = sink.create_committer()
            await committer.commit(committables)
            await committer.commit(committables)
            assert lines_of(await visible_output(target)) == records(0, 4)
            storage = storage_for(target.base_path, target.configuration)
            await storage.delete(committables[0].final_path)  # a reader moved the file away
            await committer.commit(committables)
            assert await listing(target) == []
            await storage.close()
            await committer.close()
            await settle()

        run(scenario)

    def test_without_checkpointing_end_of_input_commits_everything(self, target: Target) -> None:
        sink = file_sink(target, RollingPolicy.default_rolling_policy(part_size=100))

        async def scenario() -> None:
            attempt = await Attempt(sink, target, checkpointing=False).start()
            await attempt.write(records(0, 40))
            assert await visible_output(target) == {}
            await attempt.end()

        run(scenario)
        assert sorted(lines_of(asyncio.run(visible_output(target)))) == records(0, 40)


class TestFileSinkOnFile(FileSinkContract):
    @pytest.fixture
    def target(self, tmp_path: Path) -> Target:
        return Target(f"file://{tmp_path}/out", {})


def test_an_invalid_bucket_id_fails_the_write(tmp_path: Path) -> None:
    class Escaping(BucketAssigner):
        def get_bucket_id(self, element: Any, context: BucketAssignerContext) -> str:
            return "../outside"

    target = Target(str(tmp_path / "out"), {})
    sink = file_sink(target, RollingPolicy.on_checkpoint_rolling_policy(),
                     bucket_assigner=Escaping())

    async def scenario() -> None:
        attempt = await Attempt(sink, target).start()
        with pytest.raises(ValueError, match="invalid bucket id '../outside'"):
            await attempt.write(["x"])
        await attempt.close()

    run(scenario)


class ListSink(Sink[Any]):
    """A plain (not two-phase) sink that keeps what it is given."""

    def __init__(self) -> None:
        self.written: list[Any] = []
        self.flushed = False

    def create_writer(self, subtask_index: int, parallelism: int) -> SinkWriter[Any]:
        sink = self

        class Writer(SinkWriter[Any]):
            async def write_batch(self, records: list[Any]) -> None:
                sink.written.extend(records)

            async def flush(self) -> None:
                sink.flushed = True

        return Writer()


def test_a_plain_sink_is_written_and_flushed_and_has_no_state(tmp_path: Path) -> None:
    sink = ListSink()

    async def scenario() -> None:
        attempt = await Attempt(sink, Target(str(tmp_path), {})).start()
        await attempt.write([1, 2, 3])
        assert pickle.loads(await attempt.checkpoint(1)) is None
        await attempt.complete(1)
        await attempt.end()

    run(scenario)
    assert sink.written == [1, 2, 3] and sink.flushed
