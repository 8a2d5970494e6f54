"""Source positions redistributed on rescale: the readers of the new parallelism read
every record the old readers had not read yet, exactly once."""

from __future__ import annotations

import asyncio
import pickle
from typing import Any

import pytest

from weir.checkpoint.redistribution import RedistributedState
from weir.connector import Source
from weir.datastream.connectors.datagen import DataGeneratorSource
from weir.datastream.connectors.number_seq import NumberSequenceSource


def read(reader: Any, batches: int | None) -> list[int]:
    """Up to ``batches`` batches of 7 records (None: to the end)."""
    out: list[int] = []
    while batches is None or batches > 0:
        batch = asyncio.run(reader.poll_batch(7))
        if batch is None:
            break
        out.extend(batch)
        batches = None if batches is None else batches - 1
    return out


def run_rescaled(source: Source[int], parallelisms: list[int]) -> list[int]:
    """Read a little at each parallelism, snapshot, restore the next from the
    positions redistributed, and read to the end at the last one."""
    seen: list[int] = []
    positions: list[Any] | None = None
    for step, parallelism in enumerate(parallelisms):
        last = step == len(parallelisms) - 1
        snapshots = []
        for subtask in range(parallelism):
            reader = source.create_reader(subtask, parallelism)
            if positions is not None:  # union state: every old position, in order
                reader.restore_position(pickle.loads(pickle.dumps(
                    RedistributedState(positions))))
            seen.extend(read(reader, None if last else 2))
            snapshots.append(reader.snapshot_position())
        positions = snapshots
    return seen


@pytest.mark.parametrize("parallelisms", [[2, 3, 1], [1, 4, 2], [3, 3], [4, 1]])
@pytest.mark.parametrize("make", [
    lambda: NumberSequenceSource(10, 209),
    lambda: DataGeneratorSource(lambda index: index + 10, 200),
], ids=["number_seq", "datagen"])
def test_every_record_is_read_once_across_rescales(make, parallelisms):
    assert sorted(run_rescaled(make(), parallelisms)) == list(range(10, 210))


def test_a_rescaled_number_sequence_splits_what_is_left_evenly():
    source = NumberSequenceSource(0, 99)
    positions = RedistributedState([[(40, 50)], [(50, 100)]])
    shares = []
    for subtask in range(3):
        reader = source.create_reader(subtask, 3)
        reader.restore_position(positions)
        shares.append(read(reader, None))
    assert [len(share) for share in shares] == [20, 20, 20]
    assert [n for share in shares for n in share] == list(range(40, 100))


def test_a_position_of_an_earlier_version_still_restores():
    reader = NumberSequenceSource(0, 9).create_reader(1, 2)
    reader.restore_position(7)
    assert read(reader, None) == [7, 8, 9]
