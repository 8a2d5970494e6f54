"""Checkpoints of one subtask: snapshot, forward the barrier, upload, acknowledge.

Taking checkpoint n, in order:

1. operators flush what belongs before the barrier (sinks pre-commit);
2. synchronous part: the operators' state and the source position are pickled
   (the pickle is the copy: later changes do not leak into it); a backend may
   instead hand over a ``PendingSnapshot`` (an incremental RocksDB checkpoint);
3. the barrier goes out on every output channel at once;
4. asynchronous part, while records keep flowing: pending snapshots are
   materialized (new shared files uploaded), the pickle is uploaded and the
   JobManager gets the handle and the shared files (or a decline with the reason).
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import time
from collections.abc import Sequence
from typing import Any

from weir.checkpoint import CheckpointDirectory, StateHandle, storage_for
from weir.checkpoint.redistribution import RedistributedState
from weir.connector import SourceReader
from weir.graph.deployment import TaskDeployment
from weir.proto import jobmanager_pb2 as pb
from weir.taskmanager.jobmanager_gateway import JobManagerGateway, task_id
from weir.taskmanager.network.events import CheckpointBarrier
from weir.taskmanager.network.record_writer import RecordWriter
from weir.taskmanager.operators.chain import OperatorChain
from weir.taskmanager.state.pending_snapshot import (
    MaterializedSnapshot,
    PendingSnapshot,
    SnapshotTarget,
)

__all__ = ["RestoredState", "SubtaskCheckpointer"]

log = logging.getLogger(__name__)


class RestoredState:
    """What a subtask starts from: its operators' states by operator id and its source position.

    An operator whose state was redistributed (the job was rescaled) gets a
    ``RedistributedState``: its old subtasks' states in old subtask order; so does the
    source's position.
    """

    def __init__(self, operators: dict[str, Any] | None = None, source: Any = None) -> None:
        self.operators = operators or {}
        self.source = source

class SubtaskCheckpointer:
    def __init__(self, deployment: TaskDeployment, gateway: JobManagerGateway) -> None:
        self._deployment = deployment
        self._gateway = gateway
        # Bytes of this subtask's state in the last checkpoint it uploaded (shared files
        # included): what the TaskManager's state-size metric adds up.
        self.state_size = 0
        self._uploads: set[asyncio.Task[None]] = set()

    async def restore(self) -> RestoredState:
        """Read the state files this subtask restores from (none: empty state); each file
        gives the states of the operators the JobManager assigned from it."""
        d = self._deployment
        if d.restore is None:
            return RestoredState()
        rescaled = d.restore.rescaled
        parts: dict[str, list[Any]] = {}
        positions: list[Any] = []
        for file in d.restore.files:  # in old subtask order
            directory = CheckpointDirectory.open(file.directory, d.configuration)
            state = pickle.loads(await directory.read_task_state(
                StateHandle(file.path, file.size, file.sha256)))
            for op in file.operators:
                if op in state["operators"]:
                    parts.setdefault(op, []).append(state["operators"][op])
            source = state.get("source")
            if d.is_source and source is not None and source[0] in file.operators:
                positions.append(source[1])
        restored = RestoredState({op: RedistributedState(found) if op in rescaled else found[0]
                                  for op, found in parts.items()})
        if positions:
            restored.source = (RedistributedState(positions) if d.operator_ids[0] in rescaled
                               else positions[0])
        return restored

    async def take(self, barrier: CheckpointBarrier, chain: OperatorChain,
                   reader: SourceReader[Any] | None, writers: Sequence[RecordWriter]) -> None:
        """Take the checkpoint; forward the barrier to ``writers`` (empty once outputs ended).

        Operator states that are ``PendingSnapshot``s (incremental RocksDB) are
        materialized in the asynchronous part; the others are pickled here."""
        started = time.monotonic()
        await chain.prepare_snapshot_pre_barrier(barrier.checkpoint_id)
        operators = chain.snapshot_state(barrier.checkpoint_id)
        with_state = sorted(operators)
        pending = {op: state for op, state in operators.items()
                   if isinstance(state, PendingSnapshot)}
        for op in pending:
            del operators[op]
        source = None
        if reader is not None:  # the source's position, under the source operator's id
            source = (self._deployment.operator_ids[0], reader.snapshot_position())
            with_state.append(source[0])
        data = None
        if with_state:
            data = pickle.dumps({"operators": operators, "source": source},
                                protocol=pickle.HIGHEST_PROTOCOL)
        sync_ms = int((time.monotonic() - started) * 1000)
        for writer in writers:
            await writer.broadcast_event(barrier)
        upload = asyncio.get_running_loop().create_task(
            self._upload(barrier, data, pending, with_state, sync_ms))
        self._uploads.add(upload)
        upload.add_done_callback(self._uploads.discard)

    async def _upload(self, barrier: CheckpointBarrier, data: bytes | None,
                      pending: dict[str, PendingSnapshot], operators_with_state: list[str],
                      sync_ms: int) -> None:
        """Materialize ``pending`` into the state file ``data`` holds, upload it, and
        acknowledge with its handle and the shared files it references (or decline; then
        the shared files this checkpoint uploaded are deleted, as nothing references them)."""
        d = self._deployment
        started = time.monotonic()
        ack = pb.AcknowledgeCheckpoint(task=task_id(d), checkpoint_id=barrier.checkpoint_id,
                                       sync_duration_ms=sync_ms,
                                       operators_with_state=operators_with_state)
        target = SnapshotTarget(barrier.checkpoint_id, barrier.shared_uri,
                                barrier.base_checkpoint_id, d.configuration)
        materialized: list[MaterializedSnapshot] = []
        try:
            if pending:
                assert data is not None  # operators with pending snapshots have state
                state = pickle.loads(data)
                for op, snapshot in pending.items():
                    materialized.append(await snapshot.materialize(target))
                    state["operators"][op] = materialized[-1].state
                data = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
            if data is not None:
                directory = CheckpointDirectory.open(barrier.target_uri, d.configuration)
                handle = await directory.save_task_state(d.vertex_id, d.subtask_index, data)
                ack.state.CopyFrom(pb.StateHandle(path=handle.path, size=handle.size,
                                                  sha256=handle.sha256))
        except Exception as error:  # noqa: BLE001 - a failed upload declines the checkpoint
            log.warning("%s#%d: checkpoint %d upload failed: %s", d.vertex_name,
                        d.subtask_index, barrier.checkpoint_id, error)
            await _delete_uploaded(target, materialized)
            await self._report(self._gateway.decline_checkpoint(
                d, barrier.checkpoint_id, f"uploading state failed: {error}"))
            return
        finally:
            for snapshot in pending.values():
                snapshot.discard()
        ack.shared_state.extend(pb.StateHandle(path=h.path, size=h.size, sha256=h.sha256)
                                for m in materialized for h in m.shared)
        ack.async_duration_ms = int((time.monotonic() - started) * 1000)
        self.state_size = ack.state.size + sum(h.size for h in ack.shared_state)
        await self._report(self._gateway.acknowledge_checkpoint(ack))

    async def _report(self, call: Any) -> None:
        try:
            await call
        except Exception:
            log.warning("reporting a checkpoint to the JobManager failed", exc_info=True)

    async def close(self) -> None:
        for upload in list(self._uploads):
            upload.cancel()
        await asyncio.gather(*self._uploads, return_exceptions=True)


async def _delete_uploaded(target: SnapshotTarget, materialized: list[MaterializedSnapshot]
                           ) -> None:
    uploaded = [h.path for m in materialized for h in m.uploaded]
    if not uploaded:
        return
    storage = storage_for(target.shared_uri, target.configuration)
    await asyncio.gather(*(storage.delete(path) for path in uploaded), return_exceptions=True)
