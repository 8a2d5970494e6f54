"""Async I/O: Flink's AsyncWaitOperator, with the user's coroutines on the task's event loop.

Each record becomes a request: an asyncio task running ``async_invoke`` (retried as the
retry strategy says, ended by the timeout, then ``timeout()`` gives the results). The
mailbox loop never waits for a request; a completed request wakes the task
(``context.notify_async_output``), which takes the outputs with ``take_completed``.

Queue rules, as Flink's stream element queues:

- ordered: outputs leave in input order, a watermark after the outputs of the records
  before it;
- unordered: outputs leave as requests complete, but only within a watermark segment: the
  records between two watermarks leave after the first and before the second;
- at most ``capacity`` records are queued (in flight, or completed and waiting for an
  earlier one); records beyond wait, not started, in ``_overflow``, and the task takes
  no input until the queue has room again (``input_blocked``).

A checkpoint holds every queued record (and watermark) as input; a restore makes the
requests again, as Flink's operator does.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

from weir.checkpoint.redistribution import RedistributedState
from weir.datastream.functions import AsyncFunction
from weir.graph.operators import AsyncWaitSpec
from weir.keygroups import assign_key_to_parallel_operator
from weir.taskmanager.operators.base import AsyncOutputOperator, OperatorContext
from weir.taskmanager.records import TimestampedBatch
from weir.taskmanager.runtime_context import StreamingRuntimeContext

__all__ = ["AsyncWaitOperator", "AsyncWaitState"]


@dataclass(frozen=True)
class AsyncWaitState:
    """The operator's checkpointed state: its queued elements in order, each a record
    ``(value, timestamp)`` or a watermark (an ``int``)."""

    elements: list[tuple[Any, int | None] | int] = field(default_factory=list)


class _Request:
    """One record's request; ``results`` is None while it is in flight."""

    __slots__ = ("results", "segment", "timestamp", "value")

    def __init__(self, value: Any, timestamp: int | None) -> None:
        self.value = value
        self.timestamp = timestamp
        self.results: list[Any] | None = None
        self.segment: _Segment | None = None


class _OrderedQueue:
    def __init__(self) -> None:
        self._entries: deque[_Request | int] = deque()

    def add_request(self, request: _Request) -> None:
        self._entries.append(request)

    def add_watermark(self, watermark: int) -> None:
        self._entries.append(watermark)

    def completed(self, request: _Request) -> bool:
        """``request`` has its results; whether outputs can leave now."""
        return self._entries[0] is request

    def take(self) -> tuple[list[_Request], int | None]:
        entries = self._entries
        done: list[_Request] = []
        while entries:
            head = entries[0]
            if isinstance(head, int):
                entries.popleft()
                return done, head
            if head.results is None:
                break
            done.append(head)
            entries.popleft()
        return done, None

    def elements(self) -> list[_Request | int]:
        return list(self._entries)

    def __bool__(self) -> bool:
        return bool(self._entries)


class _Segment:
    """The records between two watermarks (unordered mode), and the watermark that ends it."""

    __slots__ = ("done", "pending", "watermark")

    def __init__(self) -> None:
        self.pending: set[_Request] = set()
        self.done: list[_Request] = []
        self.watermark: int | None = None


class _UnorderedQueue:
    def __init__(self) -> None:
        self._segments: deque[_Segment] = deque()

    def _open_segment(self) -> _Segment:
        segments = self._segments
        if not segments or segments[-1].watermark is not None:
            segments.append(_Segment())
        return segments[-1]

    def add_request(self, request: _Request) -> None:
        segment = self._open_segment()
        segment.pending.add(request)
        request.segment = segment

    def add_watermark(self, watermark: int) -> None:
        self._open_segment().watermark = watermark

    def completed(self, request: _Request) -> bool:
        segment = request.segment
        assert segment is not None
        segment.pending.remove(request)
        segment.done.append(request)
        return segment is self._segments[0]

    def take(self) -> tuple[list[_Request], int | None]:
        if not self._segments:
            return [], None
        first = self._segments[0]
        done, first.done = first.done, []
        if not first.pending and (first.watermark is not None or len(self._segments) == 1):
            self._segments.popleft()  # ended by its watermark, or the open one emptied
            return done, first.watermark
        return done, None

    def elements(self) -> list[_Request | int]:
        out: list[_Request | int] = []
        for segment in self._segments:
            out.extend(segment.done)
            out.extend(segment.pending)
            if segment.watermark is not None:
                out.append(segment.watermark)
        return out

    def __bool__(self) -> bool:
        return bool(self._segments)


class AsyncWaitOperator(AsyncOutputOperator):
    """Runs ``AsyncFunction.async_invoke`` for each record, ``capacity`` at a time."""

    def __init__(self, spec: AsyncWaitSpec) -> None:
        super().__init__(spec)
        self.function: AsyncFunction[Any, Any] = spec.function
        self._timeout_s = spec.timeout_ms / 1000 if spec.timeout_ms > 0 else None
        self._capacity = spec.capacity
        self._retry = spec.retry_strategy
        predicate = spec.retry_strategy.get_retry_predicate()
        self._retry_on_result = predicate.result_predicate()
        self._retry_on_error = predicate.exception_predicate()
        self._queue: _OrderedQueue | _UnorderedQueue = (
            _OrderedQueue() if spec.ordered else _UnorderedQueue())
        self._queued = 0  # records in the queue
        self._overflow: deque[_Request | int] = deque()  # not started yet: no room
        self._requests: set[asyncio.Task[None]] = set()
        self._failure: BaseException | None = None
        self._notify = lambda: None
        self._key_selector = spec.key_selector
        self._subtask = (0, 1, 1)  # (index, parallelism, max parallelism), set by open

    # ------------------------------------------------------------------ lifecycle

    def open(self, context: OperatorContext) -> None:
        self._notify = context.notify_async_output
        self._subtask = (context.subtask_index, context.parallelism, context.max_parallelism)
        self.function.open(StreamingRuntimeContext(context, None))

    async def recover(self) -> None:
        """Make the requests of the records the restored checkpoint held again. Watermarks
        come back too, unless the state was redistributed (they were other subtasks'); then,
        on a keyed stream, only the records of this subtask's keys do (the state of every
        old subtask whose key groups overlap this one's comes here)."""
        state = self.restored_state
        self.restored_state = None
        if isinstance(state, RedistributedState):  # the parts of several old subtasks
            elements = [e for part in state if part is not None for e in part.elements
                        if not isinstance(e, int) and self._owns(e[0])]
        else:
            elements = state.elements if state is not None else []
        for element in elements:
            self._overflow.append(element if isinstance(element, int) else _Request(*element))
        self._admit()

    def _owns(self, value: Any) -> bool:
        if self._key_selector is None:
            return True
        index, parallelism, max_parallelism = self._subtask
        return assign_key_to_parallel_operator(self._key_selector(value), max_parallelism,
                                               parallelism) == index

    def close(self) -> None:
        for request in self._requests:
            request.cancel()
        self.function.close()

    # -------------------------------------------------------------------- input

    def process_batch(self, records: list[Any]) -> list[Any]:
        timestamps = (records.timestamps if isinstance(records, TimestampedBatch)
                      else repeat(None))
        self._overflow.extend(map(_Request, records, timestamps))
        self._admit()
        return []

    def process_watermark(self, watermark: int) -> list[Any]:
        self._overflow.append(watermark)
        self._admit()
        self._notify()  # it may leave at once, when nothing is queued before it
        return []

    def _admit(self) -> None:
        """Start waiting requests while there is room; watermarks take none."""
        overflow = self._overflow
        queue = self._queue
        while overflow:
            element = overflow[0]
            if isinstance(element, int):
                overflow.popleft()
                queue.add_watermark(element)
                continue
            if self._queued >= self._capacity:
                return
            overflow.popleft()
            queue.add_request(element)
            self._queued += 1
            task = asyncio.get_running_loop().create_task(self._run(element))
            self._requests.add(task)
            task.add_done_callback(self._requests.discard)

    # ------------------------------------------------------------------ output

    @property
    def input_blocked(self) -> bool:
        return bool(self._overflow) or self._queued >= self._capacity

    @property
    def has_pending(self) -> bool:
        return bool(self._overflow) or bool(self._queue)

    def take_completed(self) -> tuple[list[Any], int | None]:
        if self._failure is not None:
            raise self._failure
        done, watermark = self._queue.take()
        if not done:
            return [], watermark
        self._queued -= len(done)
        self._admit()
        records: list[Any] = []
        timestamps: list[int | None] = []
        for request in done:
            results = request.results
            assert results is not None
            records.extend(results)
            timestamps.extend(repeat(request.timestamp, len(results)))
        if any(t is not None for t in timestamps):
            return TimestampedBatch(records, timestamps), watermark
        return records, watermark

    # ---------------------------------------------------------------- requests

    async def _run(self, request: _Request) -> None:
        try:
            results = await self._results(request.value)
            if type(results) is not list:
                raise TypeError(
                    f"{type(self.function).__name__}.async_invoke() and timeout() must return "
                    f"a list of results, got {type(results).__name__}")
        except Exception as error:  # noqa: BLE001 - fails the task, from take_completed
            error.add_note(f"while computing the async results of {request.value!r}")
            if self._failure is None:
                self._failure = error
            self._notify()
            return
        request.results = results
        if self._queue.completed(request):
            self._notify()

    async def _results(self, value: Any) -> Any:
        """``async_invoke``'s results, or ``timeout()``'s when the timeout passed first."""
        if self._timeout_s is None:
            return await self._attempts(value)
        try:
            async with asyncio.timeout(self._timeout_s) as scope:
                return await self._attempts(value)
        except TimeoutError:
            if not scope.expired():
                raise  # the user's own TimeoutError
        return self.function.timeout(value)

    async def _attempts(self, value: Any) -> Any:
        """Call ``async_invoke`` until a result (or error) the retry strategy accepts."""
        strategy = self._retry
        attempt = 1
        while True:
            try:
                results = await self.function.async_invoke(value)
            except Exception as error:
                retry = self._retry_on_error is not None and self._retry_on_error(error)
                if not (retry and strategy.can_retry(attempt)):
                    raise
            else:
                retry = self._retry_on_result is not None and self._retry_on_result(results)
                if not (retry and strategy.can_retry(attempt)):
                    return results
            await asyncio.sleep(strategy.get_backoff_time_millis(attempt) / 1000)
            attempt += 1

    # -------------------------------------------------------------- checkpoints

    def snapshot_state(self, checkpoint_id: int) -> AsyncWaitState | None:
        elements = [e if isinstance(e, int) else (e.value, e.timestamp)
                    for e in [*self._queue.elements(), *self._overflow]]
        return AsyncWaitState(elements) if elements else None
