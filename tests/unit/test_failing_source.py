"""The fault API of the chaos tests (tests/fixtures/faults.py), driven by hand as a source
task drives its reader: it fails once, after n records, and only after a checkpoint that
covered records of the subtask completed."""

from __future__ import annotations

import asyncio
import pickle
from pathlib import Path

import pytest

from tests.fixtures.faults import FailOnce, InjectedFailure, Strike
from weir.datastream.connectors.base import SourceReader
from weir.datastream.connectors.number_seq import NumberSequenceSource


def poll(reader: SourceReader[int], times: int = 1) -> list[int]:
    """What ``times`` polls of up to 10 records return."""
    async def polls() -> list[int]:
        got: list[int] = []
        for _ in range(times):
            got += await reader.poll_batch(10) or []
        return got
    return asyncio.run(polls())


def test_fails_once_after_n_records_and_a_checkpoint_with_records(tmp_path: Path) -> None:
    plan = FailOnce(tmp_path / "failed", after_records=20)
    source = plan.source(NumberSequenceSource(0, 999))
    reader = source.create_reader(0, 2)
    reader.snapshot_position()  # checkpoint 1 covers no records
    assert poll(reader, 3) == list(range(30))
    asyncio.run(reader.notify_checkpoint_complete(1))
    assert len(poll(reader)) == 10  # past 20 records, but no checkpoint with records yet
    restore_from = reader.snapshot_position()  # checkpoint 2, after 40 records
    asyncio.run(reader.notify_checkpoint_complete(2))
    with pytest.raises(InjectedFailure):
        poll(reader)
    assert plan.struck == Strike(subtask=0, records=40, checkpoint_id=2, taskmanager="")

    # Fresh copies, as a restart deploys them: subtask 0 restored from checkpoint 2, and
    # subtask 1 from the start. Neither fails again.
    for index, position in [(0, restore_from), (1, None)]:
        again = pickle.loads(pickle.dumps(source)).create_reader(index, 2)
        if position is not None:
            again.restore_position(position)
        again.snapshot_position()
        assert len(poll(again, 3)) == 30
        asyncio.run(again.notify_checkpoint_complete(3))
        assert len(poll(again, 3)) == 30
