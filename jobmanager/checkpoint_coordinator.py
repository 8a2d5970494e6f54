"""CheckpointCoordinator: triggers barrier checkpoints of one job and completes them.

The life of checkpoint n, in order:

1. trigger: at the interval (honouring min pause and max concurrent), or for
   a savepoint, or at once when every task consumed its input (the final
   checkpoint of a bounded job). Source subtasks get the trigger and inject
   barrier n; subtasks that already consumed all their input snapshot directly.
   The triggers of n go out once those of n-1 were delivered.
2. acknowledge: every running subtask acknowledges with the handle of the
   state it uploaded, or declines (the checkpoint is aborted, CHECKPOINT_DECLINED).
3. expire: a checkpoint not acknowledged within the timeout is aborted
   (CHECKPOINT_EXPIRED).
4. complete: ``_metadata`` is written last (its presence marks the checkpoint
   complete), the older periodic checkpoints still pending are aborted
   (CHECKPOINT_SUBSUMED), then every task is notified (two-phase-commit sinks commit),
   then checkpoints beyond ``state.checkpoints.num-retained`` are deleted, and
   with them the shared files no retained checkpoint references any more.

The store's ``SharedStateRegistry`` follows which shared files (incremental RocksDB)
each checkpoint holds; a trigger names the newest completed checkpoint as the base the
tasks may reference, and an aborted checkpoint's newly uploaded shared files are deleted.

An aborted checkpoint carries a ``CheckpointFailureReason``; consecutive aborts whose
reason counts as a failure, beyond ``tolerable-failed-checkpoints``, fail the job.
Touched only on the JobManager's event loop; clock and scheduler are injected.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from weir.checkpoint import CheckpointMetadata, CheckpointSettings, StateHandle
from weir.jobmanager.clock import Cancellable, Scheduler
from weir.jobmanager.pending_checkpoint import (
    AckResult,
    CheckpointException,
    CheckpointFailure,
    CheckpointFailureReason,
    CheckpointState,
    PendingCheckpoint,
    TaskKey,
    next_trigger_delay,
)
from weir.jobmanager.shared_state_registry import SharedStateRegistry
from weir.proto import jobmanager_pb2 as pb

__all__ = ["CheckpointCoordinator", "CheckpointGateway", "CompletedCheckpointStore"]

log = logging.getLogger(__name__)
HISTORY = 32


class CheckpointGateway(Protocol):
    """How the coordinator reaches the tasks (Ray calls, made by the JobMaster)."""

    async def trigger(self, tasks: list[TaskKey], checkpoint_id: int, timestamp_ms: int,
                      target_uri: str, shared_uri: str, base_checkpoint_id: int) -> None: ...

    async def notify_complete(self, checkpoint_id: int, final: bool) -> None: ...

    async def notify_aborted(self, checkpoint_id: int) -> None: ...


class CompletedCheckpointStore(Protocol):
    """Where one job's checkpoints live (``<dir>/<job-id>/chk-<n>/``), and the files they
    share (``<dir>/<job-id>/shared/``, ``shared_state`` says which are still needed)."""

    shared_uri: str
    shared_state: SharedStateRegistry

    def checkpoint_uri(self, checkpoint_id: int) -> str: ...

    async def write_metadata(self, target_uri: str, metadata: CheckpointMetadata) -> None: ...

    async def retain(self, num_retained: int) -> list[int]:
        """Delete completed checkpoints beyond ``num_retained``; returns their ids."""

    async def discard(self, target_uri: str) -> None: ...

    async def delete_shared(self, paths: list[str]) -> None:
        """Delete these shared files; failures are logged, not raised."""


class CheckpointCoordinator:
    def __init__(self, job_id: str, settings: CheckpointSettings,
                 store: CompletedCheckpointStore, gateway: CheckpointGateway,
                 on_failure: Callable[[str], None], scheduler: Scheduler | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.job_id = job_id
        self.settings = settings
        self._store = store
        self._gateway = gateway
        self._on_failure = on_failure
        self._scheduler: Any = scheduler
        self._clock = clock
        self._wall_clock = wall_clock
        self._tasks: set[TaskKey] = set()
        self._sources: set[TaskKey] = set()
        self._ended: set[TaskKey] = set()
        self._parallelism: dict[str, int] = {}
        self.pending: dict[int, PendingCheckpoint] = {}
        self._futures: dict[int, asyncio.Future[str]] = {}
        self._timers: dict[int, Cancellable] = {}
        self._periodic: Cancellable | None = None
        self._running = False
        # A stop-with-savepoint is pending: no periodic checkpoint may follow it, or its
        # commit would publish output the savepoint does not cover (Flink stops the
        # checkpoint scheduler for it, too).
        self._stopping_with_savepoint = False
        self._final_completed = False  # then the tasks only finish: no checkpoint follows
        self.next_id = 1
        self._last_trigger: float | None = None
        self._last_completion: float | None = None
        self.consecutive_failures = 0
        self.completed_count = 0
        self.failed_count = 0
        self.latest: CheckpointMetadata | None = None
        self.latest_uri = ""
        self.history: deque[pb.CheckpointInfo] = deque(maxlen=HISTORY)
        self._background: set[asyncio.Task[Any]] = set()
        self._triggers_sent: asyncio.Task[None] | None = None  # the last checkpoint's

    # -------------------------------------------------------------- lifecycle

    @property
    def periodic(self) -> bool:
        return self.settings.interval_ms is not None

    def start(self, tasks: Iterable[TaskKey], sources: Iterable[TaskKey],
              parallelism: dict[str, int]) -> None:
        """A new attempt of the job is deployed: wait for these tasks from now on."""
        if self._scheduler is None:
            self._scheduler = asyncio.get_running_loop()
        self._tasks = set(tasks)
        self._sources = set(sources)
        self._triggers_sent = None  # the last attempt's TaskManagers may never answer
        self._ended = set()
        self._parallelism = dict(parallelism)
        self._running = True
        self._stopping_with_savepoint = False
        self._final_completed = False
        self._last_trigger = self._clock()
        self._schedule_periodic()

    def stop(self, reason: CheckpointFailureReason) -> None:
        """The attempt ends (failure, cancel, finish): abort what is pending for ``reason``."""
        self._running = False
        if self._periodic is not None:
            self._periodic.cancel()
            self._periodic = None
        for checkpoint_id in list(self.pending):
            self._abort(checkpoint_id, CheckpointFailure(reason))

    # ---------------------------------------------------------------- trigger

    def _schedule_periodic(self) -> None:
        if self._periodic is not None:
            self._periodic.cancel()
            self._periodic = None
        if not self._running or self._stopping_with_savepoint or self._final_completed or (
                not self.periodic and not self._all_ended()):
            return
        interval_s = (self.settings.interval_ms or 0) / 1000.0
        if self._all_ended():
            interval_s = 0.0  # the final checkpoint of a bounded job goes out at once
        delay = next_trigger_delay(
            self._clock(), interval_s, self.settings.min_pause_ms / 1000.0, self._last_trigger,
            self._last_completion, len(self._periodic_pending()), self.settings.max_concurrent)
        if delay is not None:
            self._periodic = self._scheduler.call_later(max(delay, 0.0), self._periodic_due)

    def _periodic_pending(self) -> list[PendingCheckpoint]:
        return [p for p in self.pending.values() if not p.is_savepoint]

    def _periodic_due(self) -> None:
        self._periodic = None
        if self._running:
            self.trigger()

    def trigger(self, savepoint_uri: str | None = None,
                stop_job: bool = False) -> asyncio.Future[str]:
        """Start a checkpoint (or a savepoint into ``savepoint_uri``); the future
        resolves to its directory when it completes."""
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        # Periodic checkpoints have no caller awaiting them: their failure is logged.
        future.add_done_callback(lambda done: done.cancelled() or done.exception())
        if not self._running:
            future.set_exception(RuntimeError("the job is not running"))
            return future
        checkpoint_id = self.next_id
        self.next_id += 1
        target = savepoint_uri or self._store.checkpoint_uri(checkpoint_id)
        pending = PendingCheckpoint(
            checkpoint_id, self._wall_clock(), self._clock(), target, savepoint_uri is not None,
            set(self._tasks), stop_job=stop_job,
            final=savepoint_uri is None and self._all_ended())
        self.pending[checkpoint_id] = pending
        self._futures[checkpoint_id] = future
        if not pending.is_savepoint:
            pending.base_checkpoint_id = self._store.shared_state.begin(checkpoint_id)
        self._stopping_with_savepoint |= stop_job
        if not pending.is_savepoint:
            self._last_trigger = pending.trigger_monotonic
        self._timers[checkpoint_id] = self._scheduler.call_later(
            self.settings.timeout_ms / 1000.0, lambda: self._expire(checkpoint_id))
        targets = sorted(self._sources | self._ended)
        self._triggers_sent = self._spawn(self._send_trigger(pending, targets,
                                                             after=self._triggers_sent))
        self._schedule_periodic()
        return future

    async def _send_trigger(self, pending: PendingCheckpoint, targets: list[TaskKey],
                            after: asyncio.Task[None] | None = None) -> None:
        """Send the trigger once ``after`` (the previous checkpoint's triggers) was sent:
        TaskManagers are async actors, which run calls in no set order, and a source that
        got checkpoint n+1's trigger first refuses n's (a refused savepoint never
        completes)."""
        if after is not None:
            await asyncio.wait([after])
        try:
            await self._gateway.trigger(
                targets, pending.checkpoint_id, int(pending.trigger_time * 1000),
                pending.target_uri, "" if pending.is_savepoint else self._store.shared_uri,
                pending.base_checkpoint_id)
        except Exception as error:  # noqa: BLE001 - a lost TaskManager fails the attempt anyway
            self._abort(pending.checkpoint_id, CheckpointFailure(
                CheckpointFailureReason.TRIGGER_CHECKPOINT_FAILURE, str(error)))

    def _all_ended(self) -> bool:
        return bool(self._tasks) and self._ended >= self._tasks

    def task_input_ended(self, task: TaskKey) -> None:
        """``task`` consumed all its input: it snapshots directly from now on."""
        if task not in self._tasks or task in self._ended:
            return
        self._ended.add(task)
        for pending in self.pending.values():
            if task in pending.waiting_for and task not in self._sources:
                self._spawn(self._send_trigger(pending, [task]))
        self._schedule_periodic()

    # ------------------------------------------------------------ acknowledge

    def acknowledge(self, task: TaskKey, checkpoint_id: int, handle: pb.StateHandle | None,
                    operators_with_state: list[str] | None = None,
                    shared: list[pb.StateHandle] | None = None) -> AckResult:
        """``shared``: the shared files the task's state references; those of an
        acknowledgement that is not taken are deleted unless a checkpoint holds them."""
        pending = self.pending.get(checkpoint_id)
        result = AckResult.DISCARDED if pending is None else pending.acknowledge(
            task, handle, operators_with_state, shared)
        self.shared_state_acknowledged(checkpoint_id, shared or [])
        if result is AckResult.SUCCESS and pending is not None and pending.fully_acknowledged:
            self._spawn(self._complete(pending))
        return result

    def shared_state_acknowledged(self, checkpoint_id: int,
                                  shared: list[pb.StateHandle]) -> None:
        """An acknowledgement named these shared files: a pending checkpoint holds them;
        for one no longer pending (a late acknowledgement, or an earlier attempt's) those
        no checkpoint holds are deleted."""
        self._delete_shared(self._store.shared_state.acknowledge(
            checkpoint_id, [h.path for h in shared]))

    def decline(self, task: TaskKey, checkpoint_id: int, reason: str) -> None:
        self._abort(checkpoint_id, CheckpointFailure(
            CheckpointFailureReason.CHECKPOINT_DECLINED, f"{task[0]}#{task[1]}: {reason}"))

    def _expire(self, checkpoint_id: int) -> None:
        self._abort(checkpoint_id, CheckpointFailure(
            CheckpointFailureReason.CHECKPOINT_EXPIRED,
            f"not completed within {self.settings.timeout_ms} ms"))

    async def _complete(self, pending: PendingCheckpoint) -> None:
        checkpoint_id = pending.checkpoint_id
        metadata = self._metadata(pending)
        try:
            await self._store.write_metadata(pending.target_uri, metadata)
        except Exception as error:  # noqa: BLE001 - storage failures fail this checkpoint only
            self._abort(checkpoint_id, CheckpointFailure(
                CheckpointFailureReason.FINALIZE_CHECKPOINT_FAILURE, str(error)))
            return
        if pending.state is not CheckpointState.PENDING:
            return  # aborted while the metadata was being written
        del self.pending[checkpoint_id]
        pending.complete()
        self._abort_subsumed(checkpoint_id)
        if not pending.is_savepoint:
            self._delete_shared(self._store.shared_state.complete(
                checkpoint_id, [h.path for h in metadata.shared_handles()]))
        self._cancel_timer(checkpoint_id)
        self.consecutive_failures = 0
        self.completed_count += 1
        kind = "savepoint" if pending.is_savepoint else "checkpoint"
        log.info("job %s: %s %d complete (%d bytes, %d ms) at %s", self.job_id, kind,
                 checkpoint_id, metadata.size, metadata.duration_ms, pending.target_uri)
        self.history.append(self._info(pending, pb.COMPLETED, metadata))
        if not pending.is_savepoint:
            self.latest, self.latest_uri = metadata, pending.target_uri
            self._last_completion = self._clock()
        # A checkpoint triggered before the last task ended its input may complete after
        # it did, without that task's final output: only a final one ends the job.
        self._final_completed |= pending.final
        if not pending.is_savepoint or pending.stop_job:
            await self._notify(self._gateway.notify_complete(checkpoint_id, pending.final))
        future = self._futures.pop(checkpoint_id, None)
        if future is not None and not future.done():
            future.set_result(pending.target_uri)
        if not pending.is_savepoint:
            await self._retain()
        self._schedule_periodic()

    def _abort_subsumed(self, checkpoint_id: int) -> None:
        """Abort the periodic checkpoints older than ``checkpoint_id``, which completed: a
        task whose barrier or trigger of the later one came first gave the older one up, so
        it would only wait for its timeout, holding back the next periodic checkpoint.
        Savepoints are never subsumed, as in Flink."""
        for older in [i for i, p in self.pending.items()
                      if i < checkpoint_id and not p.is_savepoint]:
            self._abort(older, CheckpointFailure(CheckpointFailureReason.CHECKPOINT_SUBSUMED))

    async def _retain(self) -> None:
        try:
            removed = await self._store.retain(self.settings.num_retained)
        except Exception:
            log.warning("job %s: deleting old checkpoints failed", self.job_id, exc_info=True)
            return
        self._delete_shared(self._store.shared_state.subsume(removed))

    def _delete_shared(self, paths: list[str]) -> None:
        if paths:
            self._spawn(self._store.delete_shared(paths))

    async def _notify(self, call: Any) -> None:
        try:
            await call
        except Exception:
            log.warning("job %s: notifying tasks failed", self.job_id, exc_info=True)

    def _metadata(self, pending: PendingCheckpoint) -> CheckpointMetadata:
        task_states: dict[str, dict[int, StateHandle]] = {}
        for (vertex_id, subtask), handle in pending.handles.items():
            if handle is not None and handle.path:
                task_states.setdefault(vertex_id, {})[subtask] = _handle(handle)
        shared_states: dict[str, dict[int, list[StateHandle]]] = {}
        for (vertex_id, subtask), handles in pending.shared.items():
            shared_states.setdefault(vertex_id, {})[subtask] = [_handle(h) for h in handles]
        duration_ms = int((self._clock() - pending.trigger_monotonic) * 1000)
        return CheckpointMetadata(
            job_id=self.job_id, checkpoint_id=pending.checkpoint_id,
            timestamp_ms=int(pending.trigger_time * 1000), duration_ms=duration_ms,
            is_savepoint=pending.is_savepoint, task_states=task_states,
            vertex_parallelism=dict(self._parallelism),
            operator_states={v: sorted(ops) for v, ops in pending.operators.items()},
            shared_states=shared_states)

    # ------------------------------------------------------------------ abort

    def _abort(self, checkpoint_id: int, failure: CheckpointFailure) -> None:
        """Abort checkpoint ``checkpoint_id`` if it is still pending (it may have completed
        or been aborted for another reason meanwhile)."""
        pending = self.pending.pop(checkpoint_id, None)
        if pending is None:
            return
        pending.abort(failure)
        if not pending.is_savepoint:
            self._delete_shared(self._store.shared_state.abort(checkpoint_id))
        self._cancel_timer(checkpoint_id)
        if pending.stop_job:
            self._stopping_with_savepoint = False  # the job keeps running, as in Flink
        log.warning("job %s: checkpoint %d aborted: %s", self.job_id, checkpoint_id, failure)
        self.failed_count += 1
        self.history.append(self._info(pending, pb.CHECKPOINT_FAILED, None, str(failure)))
        future = self._futures.pop(checkpoint_id, None)
        if future is not None and not future.done():
            future.set_exception(CheckpointException(checkpoint_id, failure))
        if self._running:
            self._spawn(self._notify(self._gateway.notify_aborted(checkpoint_id)))
        self._spawn(self._discard(pending.target_uri, pending.is_savepoint))
        if failure.reason.counts_as_failure and not pending.is_savepoint:
            self.consecutive_failures += 1
            if self.consecutive_failures > self.settings.tolerable_failures:
                self._on_failure(
                    f"exceeded checkpoint tolerable failure threshold "
                    f"({self.settings.tolerable_failures}); last failure: {failure}")
                return
        self._schedule_periodic()

    async def _discard(self, target_uri: str, is_savepoint: bool) -> None:
        if is_savepoint:
            return  # a user's directory: leave it to them
        try:
            await self._store.discard(target_uri)
        except Exception:
            log.debug("discarding %s failed", target_uri, exc_info=True)

    def _cancel_timer(self, checkpoint_id: int) -> None:
        timer = self._timers.pop(checkpoint_id, None)
        if timer is not None:
            timer.cancel()

    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # ------------------------------------------------------------------ views

    def _info(self, pending: PendingCheckpoint, status: pb.CheckpointStatus,
              metadata: CheckpointMetadata | None, reason: str = "") -> pb.CheckpointInfo:
        return pb.CheckpointInfo(
            id=pending.checkpoint_id, status=status, is_savepoint=pending.is_savepoint,
            trigger_time=pending.trigger_time,
            duration_ms=int((self._clock() - pending.trigger_monotonic) * 1000),
            size_bytes=metadata.size if metadata else 0, path=pending.target_uri,
            failure_reason=reason)

    def list_checkpoints(self) -> list[pb.CheckpointInfo]:
        in_progress = [self._info(p, pb.IN_PROGRESS, None) for p in self.pending.values()]
        return sorted([*self.history, *in_progress], key=lambda info: info.id)

    def counts(self, restored_id: int, restored_path: str = "") -> pb.CheckpointCounts:
        return pb.CheckpointCounts(
            completed=self.completed_count, failed=self.failed_count,
            in_progress=len(self.pending),
            latest_completed_id=self.latest.checkpoint_id if self.latest else 0,
            latest_completed_path=self.latest_uri, restored_id=restored_id,
            restored_path=restored_path)


def _handle(handle: pb.StateHandle) -> StateHandle:
    return StateHandle(handle.path, handle.size, handle.sha256)
