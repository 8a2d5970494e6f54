"""An operator chain: the operators of one task, called one after the other per batch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from weir.common.constants import MAX_LONG_VALUE
from weir.graph import operators as specs
from weir.taskmanager.metrics import register_operator
from weir.taskmanager.operators.async_wait import AsyncWaitOperator
from weir.taskmanager.operators.base import (
    AsyncOutputOperator,
    OperatorContext,
    SinkOperator,
    StreamOperator,
)
from weir.taskmanager.operators.broadcast import (
    BroadcastProcessOperator,
    KeyedBroadcastProcessOperator,
)
from weir.taskmanager.operators.keyed import KeyedProcessOperator, KeyedReduceOperator
from weir.taskmanager.operators.sinks import (
    CollectSinkOperator,
    ConnectorSinkOperator,
    PrintSinkOperator,
    SinkFunctionOperator,
)
from weir.taskmanager.operators.stateless import (
    FilterOperator,
    FlatMapOperator,
    MapOperator,
    ProcessOperator,
)
from weir.taskmanager.operators.timestamps import TimestampsAndWatermarksOperator
from weir.taskmanager.operators.two_input import (
    CoFlatMapOperator,
    CoMapOperator,
    CoProcessOperator,
    KeyedCoProcessOperator,
    TwoInputOperator,
)
from weir.taskmanager.operators.window import WindowOperator
from weir.taskmanager.records import concat_batches

__all__ = ["OperatorChain", "create_operator"]

_RUNTIME_OPERATORS: dict[type, type[StreamOperator]] = {
    specs.MapSpec: MapOperator,
    specs.FlatMapSpec: FlatMapOperator,
    specs.FilterSpec: FilterOperator,
    specs.ProcessSpec: ProcessOperator,
    specs.KeyedProcessSpec: KeyedProcessOperator,
    specs.KeyedReduceSpec: KeyedReduceOperator,
    specs.PrintSinkSpec: PrintSinkOperator,
    specs.CollectSinkSpec: CollectSinkOperator,
    specs.SinkFunctionSpec: SinkFunctionOperator,
    specs.SinkSpec: ConnectorSinkOperator,
    specs.TimestampsAndWatermarksSpec: TimestampsAndWatermarksOperator,
    specs.WindowSpec: WindowOperator,
    specs.AsyncWaitSpec: AsyncWaitOperator,
    specs.CoMapSpec: CoMapOperator,
    specs.CoFlatMapSpec: CoFlatMapOperator,
    specs.CoProcessSpec: CoProcessOperator,
    specs.KeyedCoProcessSpec: KeyedCoProcessOperator,
    specs.BroadcastProcessSpec: BroadcastProcessOperator,
    specs.KeyedBroadcastProcessSpec: KeyedBroadcastProcessOperator,
}


def create_operator(spec: specs.OperatorSpec) -> StreamOperator:
    try:
        return _RUNTIME_OPERATORS[type(spec)](spec)  # type: ignore[call-arg]
    except KeyError:
        raise ValueError(f"no runtime operator for {type(spec).__name__}") from None


class OperatorChain:
    """The synchronous operators of a task, then optionally a sink that ends the chain."""

    def __init__(self, operator_specs: list[specs.OperatorSpec],
                 operator_ids: list[str] | None = None) -> None:
        self.operators = [create_operator(spec) for spec in operator_specs]
        self.operator_ids = operator_ids or [f"op-{i}" for i in range(len(self.operators))]
        tail = self.operators[-1] if self.operators else None
        self.sink: SinkOperator | None = tail if isinstance(tail, SinkOperator) else None
        self._sync = self.operators[:-1] if self.sink is not None else list(self.operators)
        self._async = [(position, operator) for position, operator in enumerate(self._sync)
                       if isinstance(operator, AsyncOutputOperator)]
        head = self._sync[0] if self._sync else None
        self._two_input = head if isinstance(head, TwoInputOperator) else None

    def open(self, context: OperatorContext) -> None:
        """Open each operator with its own metric group (its record counts registered)."""
        for operator_id, operator in zip(self.operator_ids, self.operators):
            operator_context = context.for_operator(operator.spec.name, operator_id)
            register_operator(operator_context.metric_group, operator)
            operator.open(operator_context)

    def process(self, records: list[Any], start: int = 0) -> list[Any]:
        """Run ``records`` through the synchronous operators from position ``start``."""
        for operator in self._sync[start:]:
            operator.num_records_in += len(records)
            records = operator.process_batch(records)
            if not records:
                break
            operator.num_records_out += len(records)
        return records

    def process_input(self, input_index: int, records: list[Any],
                      keys: list[Any] | None = None) -> list[Any]:
        """Run a batch that came on job edge ``input_index`` through the chain; a two-input
        head operator learns which of its inputs it belongs to, a keyed head the keys the
        sender's hash partitioner computed (``keys``, None when it sent none)."""
        two_input = self._two_input
        if two_input is None and (keys is None or not self._sync):
            return self.process(records)
        head = self._sync[0]
        head.num_records_in += len(records)
        if two_input is not None:
            records = two_input.process_input(input_index, records, keys)
        else:
            records = head.process_keyed_batch(records, keys)  # type: ignore[arg-type]
        if not records:
            return records
        head.num_records_out += len(records)
        return self.process(records, 1)

    def _emit_from_each(self, produce: Callable[[StreamOperator], list[Any]]) -> list[Any]:
        """Call ``produce`` on each operator in chain order; its output runs through the rest."""
        out: list[Any] = []
        for position, operator in enumerate(self._sync):
            emitted = produce(operator)
            if emitted:
                out = concat_batches(out, self.process(emitted, position + 1))
        return out

    def fire_processing_timers(self, now_ms: int) -> list[Any]:
        return self._emit_from_each(lambda operator: operator.on_processing_time(now_ms))

    def next_processing_timer(self) -> int | None:
        due = [t for op in self._sync if (t := op.next_processing_timer()) is not None]
        return min(due) if due else None

    def end_input(self) -> list[Any]:
        """Operators end in chain order, so each sees everything its predecessor emits."""
        return self._emit_from_each(lambda operator: operator.end_input())

    @property
    def side_output_routes(self) -> dict[tuple[str, int], str]:
        """The side outputs the job reads from the chain's last operator, by output edge."""
        return self.operators[-1].spec.side_output_routes if self.operators else {}

    # ------------------------------------------------------------- event time

    @property
    def generates_watermarks(self) -> bool:
        return any(operator.generates_watermarks for operator in self._sync)

    def advance_watermark(self, watermark: int, start: int = 0) -> tuple[list[Any], int | None]:
        """Event time reached ``watermark`` at position ``start``: each operator fires its
        event-time timers (their outputs run through the rest of the chain), then the
        watermark moves on, up to an operator that generates its own watermarks (the final,
        maximum watermark passes it). Returns the outputs and the watermark that leaves the
        chain, or None."""
        out: list[Any] = []
        for position in range(start, len(self._sync)):
            operator = self._sync[position]
            emitted = operator.process_watermark(watermark)
            if emitted:
                out = concat_batches(out, self.process(emitted, position + 1))
            if operator.generates_watermarks and watermark < MAX_LONG_VALUE:
                return out, None
            if isinstance(operator, AsyncOutputOperator):  # leaves with take_async_output
                return out, None
        return out, watermark

    def periodic_watermarks(self, now_ms: int) -> tuple[list[Any], int | None, bool | None]:
        """Ask the watermark generators for their watermarks and advance the chain from each.
        Returns the outputs, the watermark that leaves the chain (or None) and the idle
        status of the last generator (None: unchanged)."""
        out: list[Any] = []
        leaving: int | None = None
        idle: bool | None = None
        for position, operator in enumerate(self._sync):
            if operator.generates_watermarks:
                watermark, idle = operator.periodic_watermark(now_ms)
                if watermark is not None:
                    emitted, leaving = self.advance_watermark(watermark, position + 1)
                    out = concat_batches(out, emitted)
        return out, leaving, idle

    # -------------------------------------------------------------- async I/O

    @property
    def input_blocked(self) -> bool:
        """An async operator is at capacity: the task takes no input until it has room."""
        return any(operator.input_blocked for _, operator in self._async)

    @property
    def has_pending_async(self) -> bool:
        return any(operator.has_pending for _, operator in self._async)

    def take_async_output(self) -> tuple[list[Any], int | None]:
        """What the async operators completed, run through the rest of the chain, and the
        watermark that leaves the chain after it (None: none). The task calls it until it
        returns neither, sending each watermark after the records returned with it."""
        out: list[Any] = []
        leaving: int | None = None
        for position, operator in self._async:
            records, watermark = operator.take_completed()
            if records:
                out = concat_batches(out, self.process(records, position + 1))
            if watermark is not None:
                emitted, passed = self.advance_watermark(watermark, position + 1)
                out = concat_batches(out, emitted)
                leaving = passed if passed is not None else leaving
        return out, leaving

    # ------------------------------------------------------------ checkpoints

    def initialize_state(self, states: dict[str, Any]) -> None:
        for op_id, operator in zip(self.operator_ids, self.operators):
            operator.initialize_state(states.get(op_id))

    async def recover(self) -> None:
        for operator in self.operators:
            await operator.recover()

    async def prepare_snapshot_pre_barrier(self, checkpoint_id: int) -> None:
        for operator in self.operators:
            await operator.prepare_snapshot_pre_barrier(checkpoint_id)

    def snapshot_state(self, checkpoint_id: int) -> dict[str, Any]:
        """Each operator's state by operator id, for operators that have state."""
        states = {}
        for op_id, operator in zip(self.operator_ids, self.operators):
            state = operator.snapshot_state(checkpoint_id)
            if state is not None:
                states[op_id] = state
        return states

    async def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        for operator in self.operators:
            await operator.notify_checkpoint_complete(checkpoint_id)

    def notify_checkpoint_aborted(self, checkpoint_id: int) -> None:
        for operator in self.operators:
            operator.notify_checkpoint_aborted(checkpoint_id)

    def close(self) -> None:
        errors = []
        for operator in self.operators:
            try:
                operator.close()
            except Exception as error:  # noqa: BLE001 - close every operator, report the first
                errors.append(error)
        if errors:
            raise errors[0]
