"""Source positions redistributed on rescale: the readers of the new parallelism read
every record the old readers had not read yet, exactly once."""

from __future__ import annotations

import pytest

from tests.fixtures.source_readers import read, read_rescaled
from weir.checkpoint.redistribution import RedistributedState
from weir.datastream.connectors.datagen import DataGeneratorSource
from weir.datastream.connectors.number_seq import NumberSequenceSource


@pytest.mark.parametrize("parallelisms", [[2, 3, 1], [1, 4, 2], [3, 3], [4, 1]])
@pytest.mark.parametrize("make", [
    lambda: NumberSequenceSource(10, 209),
    lambda: DataGeneratorSource(lambda index: index + 10, 200),
], ids=["number_seq", "datagen"])
def test_every_record_is_read_once_across_rescales(make, parallelisms):
    assert sorted(read_rescaled(make(), parallelisms)) == list(range(10, 210))


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
