"""StreamTask: one subtask's mailbox loop.

Records, timers and end-of-input are handled one at a time on the
TaskManager's event loop, so operators and their state need no locks. The
loop, in order:

1. set up: unpickle the operator chain, register input channels, open output
   channels, open the operators;
2. run: a source task polls its reader; other tasks poll their input gate;
   due processing-time timers fire between batches; partly filled buffers go
   out when the buffer timeout passes;
3. end of input: operators emit what end of input fires, the sink finishes,
   buffers are flushed and EndOfPartition goes out on every channel;
4. with checkpointing on: report the end of input and wait until the job's
   final checkpoint completed (two-phase-commit sinks commit on it);
5. report FINISHED (or FAILED with the user's traceback, or CANCELED).

Control messages (``mailbox``: checkpoint triggers and notifications) are
handled between batches, like everything else; barriers arrive in band.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any, assert_never

import cloudpickle

from weir.checkpoint import CheckpointingMode, checkpoint_settings
from weir.connector import SourceReader, SplitAwareSourceReader
from weir.graph.deployment import ChannelKey, TaskDeployment
from weir.graph.operators import OperatorSpec, SourceSpec
from weir.proto import jobmanager_pb2 as pb
from weir.taskmanager import mailbox
from weir.taskmanager.checkpointing.barrier_handler import BarrierHandler, BarrierOutcome
from weir.taskmanager.checkpointing.subtask_checkpointer import SubtaskCheckpointer
from weir.taskmanager.failures import describe_failure
from weir.taskmanager.jobmanager_gateway import JobManagerGateway, TaskOutputReporter
from weir.taskmanager.network.environment import NetworkEnvironment
from weir.taskmanager.network.events import (
    END_OF_PARTITION,
    CheckpointBarrier,
    Watermark,
    WatermarkStatus,
)
from weir.taskmanager.network.input_gate import InputGate
from weir.taskmanager.network.record_writer import RecordWriter
from weir.taskmanager.operators.base import OperatorContext
from weir.taskmanager.operators.chain import OperatorChain
from weir.taskmanager.operators.timestamps import (
    TimestampsAndWatermarksOperator,
    split_watermark_operator,
    with_source_watermarks,
)
from weir.taskmanager.records import TimestampedBatch, output_selector
from weir.taskmanager.watermarks import EventTimeOutput, TaskEventTime

__all__ = ["StreamTask", "wall_clock_ms"]

BUFFER_TIMEOUT = "execution.buffer-timeout"
BUFFER_RECORDS = "taskmanager.network.buffer-records"
SOURCE_BATCH = "source.batch-records"


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class StreamTask:
    """Runs one subtask until its input ends, it fails, or it is cancelled."""

    def __init__(self, deployment: TaskDeployment, network: NetworkEnvironment,
                 gateway: JobManagerGateway, local_taskmanager: str,
                 clock_ms: Callable[[], int] = wall_clock_ms) -> None:
        self.deployment = deployment
        self._code_loaded = False  # the job's functions and restored state are unpickled
        self._network = network
        self._gateway = gateway
        self._local_taskmanager = local_taskmanager
        self._clock_ms = clock_ms
        config = deployment.configuration
        timeout_ms = int(config.get(BUFFER_TIMEOUT, "100"))
        self._buffer_timeout_s = max(timeout_ms, 0) / 1000.0
        self._buffer_records = int(config.get(BUFFER_RECORDS, "1000"))
        self._source_batch = int(config.get(SOURCE_BATCH, "1000"))
        self._wakeup = asyncio.Event()
        self._gate: InputGate | None = None
        self._input_keys: list[ChannelKey] = []
        self._output_keys: list[ChannelKey] = []
        self._writers: list[RecordWriter] = []
        self._timer_handle: asyncio.TimerHandle | None = None
        self._timer_due = False
        self._last_flush = time.monotonic()
        self._reader: SourceReader[Any] | None = None
        self._split_watermarks: TimestampsAndWatermarksOperator | None = None
        self._chain = OperatorChain([])
        self._event_time = TaskEventTime(self._chain, 0)
        self._sink_records = 0
        self.records_in = 0
        self.state = pb.TASK_DEPLOYING
        settings = checkpoint_settings(config)  # as the JobManager read them
        self._checkpointing = settings.enabled
        self._checkpointer = SubtaskCheckpointer(deployment, gateway)
        self._barriers = BarrierHandler(0, settings.mode is CheckpointingMode.EXACTLY_ONCE)
        self._control: deque[mailbox.ControlMessage] = deque()
        self._input_ended = False
        self._final_checkpoint_done = False

    @property
    def records_out(self) -> int:
        return sum(w.records_out for w in self._writers) or self._sink_records

    # ------------------------------------------------------------------ driver

    async def run(self) -> None:
        """Run to the end and report the final state to the JobManager."""
        failure = ""
        try:
            await self._set_up()
            await self._report(pb.TASK_RUNNING)
            if self._reader is not None:
                await self._run_source()
            else:
                await self._run_inputs()
            await self._end_input()
            if self._checkpointing:
                await self._await_final_checkpoint()
            final = pb.TASK_FINISHED
        except asyncio.CancelledError:
            final = pb.TASK_CANCELED
        except Exception as error:  # noqa: BLE001 - the user's failure is reported, not raised
            final = pb.TASK_FAILED
            failure = describe_failure(error, loading_code=not self._code_loaded)
        finally:
            failure = self._tear_down(failure)
            await self._checkpointer.close()
        if failure and final != pb.TASK_CANCELED:
            final = pb.TASK_FAILED
        await self._report(final, failure)

    async def _report(self, state: pb.ExecutionState, failure: str = "") -> None:
        self.state = state
        await self._gateway.update_task_state(self.deployment, state, failure,
                                              self.records_in, self.records_out)

    # ------------------------------------------------------------------ set up

    async def _set_up(self) -> None:
        d = self.deployment
        restored = await self._checkpointer.restore()
        specs: list[OperatorSpec] = cloudpickle.loads(d.operator_chain)
        self._code_loaded = True
        operator_ids = list(d.operator_ids) or None
        if isinstance(specs[0], SourceSpec):
            self._reader = specs[0].source.create_reader(d.subtask_index, d.parallelism)
            if restored.source is not None:
                self._reader.restore_position(restored.source)
            specs, operator_ids = with_source_watermarks(
                specs[0], specs[1:], operator_ids[1:] if operator_ids else None)
        self._chain = OperatorChain(specs, operator_ids)
        self._split_watermarks = split_watermark_operator(self._reader, self._chain.operators)
        self._chain.initialize_state(restored.operators)
        if d.restore is not None:
            self._barriers.latest_checkpoint_id = d.restore.checkpoint_id
        self._register_inputs()
        self._event_time = TaskEventTime(self._chain, self._gate.channel_count if self._gate else 0)
        await self._open_outputs()
        self._chain.open(OperatorContext(
            task_name=d.vertex_name, subtask_index=d.subtask_index, parallelism=d.parallelism,
            max_parallelism=d.max_parallelism, attempt=d.attempt, configuration=d.configuration,
            clock_ms=self._clock_ms, request_timer_wakeup=self._request_timer_wakeup,
            reporter=TaskOutputReporter(self._gateway, d), checkpointing=self._checkpointing))
        await self._chain.recover()

    def _register_inputs(self) -> None:
        d = self.deployment
        channels = [(edge, producer) for edge in d.inputs for producer in edge.producer_subtasks]
        if not channels:
            return
        self._gate = InputGate(len(channels), self._wakeup.set)
        self._barriers.channel_count = len(channels)
        for index, (edge, producer) in enumerate(channels):
            key = d.channel_key(edge, producer)
            self._input_keys.append(key)
            self._network.register_input(key, self._gate, index)

    async def _open_outputs(self) -> None:
        d = self.deployment
        for edge in d.outputs:
            channels = []
            for subtask, taskmanager, host, port in edge.consumers:
                key = (d.job_id, d.attempt, edge.consumer_vertex_id, edge.input_index, subtask,
                       d.subtask_index)
                self._output_keys.append(key)
                channels.append(await self._network.open_output(
                    key, host, port, local=taskmanager == self._local_taskmanager))
            selector = cloudpickle.loads(edge.key_selector) if edge.key_selector else None
            self._writers.append(RecordWriter(
                channels, edge.partitioner, self._buffer_records, selector,
                edge.max_parallelism, [c[0] for c in edge.consumers],
                output_selector(self._chain.side_output_routes,
                                (edge.consumer_vertex_id, edge.input_index))))

    def _tear_down(self, failure: str) -> str:
        """Close operators and release channels; returns the failure, or the close failure."""
        if self._timer_handle is not None:
            self._timer_handle.cancel()
        self._network.unregister_inputs(self._input_keys)
        self._network.release_outputs(self._output_keys)
        try:
            self._chain.close()
            if self._reader is not None:
                self._reader.close()
        except Exception:  # noqa: BLE001 - reported like any user failure
            failure = failure or traceback.format_exc()
        return failure

    # ------------------------------------------------------------------- loops

    async def _run_source(self) -> None:
        reader = self._reader
        assert reader is not None
        if self._split_watermarks is not None and isinstance(reader, SplitAwareSourceReader):
            await self._run_split_source(reader, self._split_watermarks)
            return
        batch_size = self._source_batch
        while True:
            if self._control:
                await self._process_control()
            await self._fire_due_timers()
            batch = await reader.poll_batch(batch_size)
            if batch is None:
                return
            if batch:
                await self._emit(self._chain.process(batch))
            await self._maybe_flush()
            await asyncio.sleep(0)  # let the other tasks of this TaskManager run

    async def _run_split_source(self, reader: SplitAwareSourceReader[Any],
                                watermarks: TimestampsAndWatermarksOperator) -> None:
        """The source loop with per-split watermarks: each split's batch runs through the
        chain on its own, after the watermark operator was told its split."""
        batch_size = self._source_batch
        chain = self._chain
        while True:
            if self._control:
                await self._process_control()
            await self._fire_due_timers()
            batches = await reader.poll_split_batches(batch_size)
            if batches is None:
                return
            for split_id, records in batches:
                if records:
                    watermarks.set_current_split(split_id)
                    await self._emit(chain.process(records))
            watermarks.set_splits(reader.assigned_splits())
            await self._maybe_flush()
            await asyncio.sleep(0)  # let the other tasks of this TaskManager run

    async def _run_inputs(self) -> None:
        gate = self._gate
        assert gate is not None
        chain = self._chain
        while not gate.finished:
            if self._control:
                await self._process_control()
            await self._fire_due_timers()
            polled = gate.poll()
            if polled is None:
                await self._idle()
                continue
            channel, item = polled
            if type(item) is list or type(item) is TimestampedBatch:
                self.records_in += len(item)
                await self._emit(chain.process(item))
                await self._maybe_flush()
                await asyncio.sleep(0)  # let heartbeats, the network and other tasks run
            elif type(item) is CheckpointBarrier:
                await self._apply(self._barriers.on_barrier(channel, item))
            elif item is END_OF_PARTITION:
                await self._apply(self._barriers.on_end_of_partition(channel))
            elif type(item) is Watermark:
                await self._emit_event_time(self._event_time.on_watermark(channel, item))
            elif type(item) is WatermarkStatus:
                await self._emit_event_time(self._event_time.on_status(channel, item))

    async def _idle(self) -> None:
        """Wait for input or a timer; flush partly filled buffers when the timeout passes.
        (Not ``wait_for``: on 3.11 it drops a cancel that comes with the wake-up.)"""
        self._wakeup.clear()
        remaining = self._buffer_timeout_s - (time.monotonic() - self._last_flush)
        if remaining <= 0:
            await self._flush()
            await self._wakeup.wait()
            return
        try:
            async with asyncio.timeout(remaining):
                await self._wakeup.wait()
        except TimeoutError:
            await self._flush()

    async def _end_input(self) -> None:
        await self._emit_event_time(self._event_time.end_of_input())
        await self._emit(self._chain.end_input())
        if self._chain.sink is not None:
            await self._chain.sink.finish()
        for writer in self._writers:
            await writer.broadcast_event(END_OF_PARTITION)
        self._input_ended = True

    # ------------------------------------------------------------- checkpoints

    def post(self, message: mailbox.ControlMessage) -> None:
        """Queue a control message; the task handles it between batches. Event loop only."""
        self._control.append(message)
        self._wakeup.set()

    async def _process_control(self) -> None:
        control = self._control
        while control:
            match control.popleft():
                case mailbox.TriggerCheckpoint(barrier):
                    await self._take_directly(barrier)
                case mailbox.NotifyCheckpointComplete(checkpoint_id, final):
                    await self._on_checkpoint_complete(checkpoint_id, final)
                case mailbox.NotifyCheckpointAborted(checkpoint_id):
                    await self._on_checkpoint_aborted(checkpoint_id)
                case unknown:
                    assert_never(unknown)

    async def _take_directly(self, barrier: CheckpointBarrier) -> None:
        if self._reader is None and not self._input_ended:
            return  # barriers reach this task in band
        if self._barriers.taken_directly(barrier.checkpoint_id):
            writers = [] if self._input_ended else self._writers
            await self._checkpointer.take(barrier, self._chain, self._reader, writers)

    async def _on_checkpoint_complete(self, checkpoint_id: int, final: bool) -> None:
        await self._chain.notify_checkpoint_complete(checkpoint_id)
        if self._reader is not None:
            await self._reader.notify_checkpoint_complete(checkpoint_id)
        self._final_checkpoint_done |= self._input_ended and final

    async def _on_checkpoint_aborted(self, checkpoint_id: int) -> None:
        self._chain.notify_checkpoint_aborted(checkpoint_id)
        outcome = self._barriers.abort(checkpoint_id)
        if self._gate is not None:  # a source has no input channels to release
            await self._apply(outcome)

    async def _apply(self, outcome: BarrierOutcome) -> None:
        """Block, snapshot and release input channels as barrier alignment says."""
        gate = self._gate
        assert gate is not None
        if outcome.block is not None:
            gate.block(outcome.block)
        if outcome.snapshot is not None:
            await self._checkpointer.take(outcome.snapshot, self._chain, None, self._writers)
        if outcome.unblock_all:
            gate.unblock_all()

    async def _await_final_checkpoint(self) -> None:
        await self._gateway.report_end_of_input(self.deployment, self.records_in,
                                                self.records_out)
        while True:
            await self._process_control()
            if self._final_checkpoint_done:
                return
            self._wakeup.clear()
            if not self._control:
                await self._wakeup.wait()

    # ------------------------------------------------------------------ output

    async def _emit(self, records: list[Any]) -> None:
        if not records:
            return
        sink = self._chain.sink
        if sink is not None:
            self._sink_records += len(records)
            await sink.write(records)
            return
        for writer in self._writers:
            writer.emit(records)
            if writer.has_ready:
                await writer.send_ready()

    async def _emit_event_time(self, out: EventTimeOutput) -> None:
        """Records fired by timers, then watermarks and statuses in band on every channel."""
        await self._emit(out.records)
        for event in out.events:
            for writer in self._writers:
                await writer.broadcast_event(event)

    async def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self._buffer_timeout_s:
            await self._flush()

    async def _flush(self) -> None:
        self._last_flush = time.monotonic()
        for writer in self._writers:
            await writer.flush()
        if self._chain.sink is not None:
            await self._chain.sink.flush()

    # ------------------------------------------------------------------ timers

    def _request_timer_wakeup(self, timestamp_ms: int) -> None:
        loop = asyncio.get_running_loop()
        delay = max(0.0, (timestamp_ms - self._clock_ms()) / 1000.0)
        if self._timer_handle is not None and self._timer_handle.when() <= loop.time() + delay:
            return
        if self._timer_handle is not None:
            self._timer_handle.cancel()
        self._timer_handle = loop.call_later(delay, self._on_timer_due)

    def _on_timer_due(self) -> None:
        self._timer_handle = None
        self._timer_due = True
        self._wakeup.set()

    async def _fire_due_timers(self) -> None:
        if not self._timer_due:
            return
        self._timer_due = False
        await self._emit(self._chain.fire_processing_timers(self._clock_ms()))
        await self._emit_event_time(self._event_time.on_periodic(self._clock_ms()))
        upcoming = self._chain.next_processing_timer()
        if upcoming is not None:
            self._request_timer_wakeup(upcoming)
