"""Keys → key groups → subtasks: stable across processes, contiguous ranges as in Flink."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from tests.unit.oracles import key_group_owner
from weir.keygroups import (
    KeyGroupRange,
    UnstableKeyError,
    assign_key_to_parallel_operator,
    assign_to_key_group,
    compute_key_group_range_for_operator_index,
    compute_operator_index_for_key_group,
    key_group_to_operator_table,
    stable_hash,
)

# Evaluated both here and in fresh interpreters, so keys need no pickling.
KEYS_SOURCE = """[
    "", "a", "user-42", "Zürich ☃", "\\udcff",
    0, 1, -1, 7, 128, 2**31, -2**63, 2**61 - 1, 2**61, 10**30,
    True, False, None,
    1.5, -0.25, 1e300, -1e-300, float("inf"), float("-inf"), float("nan"),
    b"", b"\\x00\\xff", b"user-42",
    (), ("a", 1), (1, ("nested", b"x", 2.5)), ("user-42", None, True),
]"""

CHILD = """
import json, sys
from weir.keygroups import assign_to_key_group, stable_hash
keys = eval(sys.stdin.read())
print(json.dumps({"hash": [stable_hash(k) for k in keys],
                  "group": [assign_to_key_group(k, 128) for k in keys],
                  "group_4096": [assign_to_key_group(k, 4096) for k in keys],
                  "builtin_str_hash": hash("weir")}))
"""


def _in_fresh_process(seed: str) -> dict:
    env = dict(os.environ, PYTHONHASHSEED=seed)
    out = subprocess.run([sys.executable, "-c", CHILD], input=KEYS_SOURCE, env=env,
                         capture_output=True, text=True, timeout=30, check=True).stdout
    return json.loads(out)


def test_stable_hash_and_key_group_are_identical_in_processes_with_other_hash_seeds():
    keys = eval(KEYS_SOURCE)
    here = {"hash": [stable_hash(k) for k in keys],
            "group": [assign_to_key_group(k, 128) for k in keys],
            "group_4096": [assign_to_key_group(k, 4096) for k in keys]}
    first, second = _in_fresh_process("123"), _in_fresh_process("98765")
    # The seeds really differ: a hash() based implementation would be caught here.
    assert first.pop("builtin_str_hash") != second.pop("builtin_str_hash")
    assert first == here
    assert second == here


# Key groups are part of every checkpoint: a changed hash would put restored keyed state
# on the wrong subtask, so these values are frozen.
GOLDEN = [("user-42", 956238353039680131), (42, 3653183154385180),
          (b"user-42", 956238353039680131), (("user-42", 42), 2250460130432490909),
          (1.5, 1432416380008578981), (None, 0)]


@pytest.mark.parametrize(("key", "expected"), GOLDEN)
def test_stable_hash_of_known_keys_never_changes(key, expected):
    assert stable_hash(key) == expected


@pytest.mark.parametrize(("a", "b"), [(1, 1.0), (1, True), (0, False), (0, 0.0), (0.0, -0.0),
                                      (-1, -1.0), (2**61, float(2**61)), (-(2**62), -(2.0**62)),
                                      ((1, "a"), (1.0, "a")), (("k", 2), ("k", 2.0))])
def test_equal_keys_share_a_key_group(a, b):
    # Keyed state is a dict per key: keys that are equal in Python are one key, so they
    # must be routed to the same subtask.
    assert a == b
    assert stable_hash(a) == stable_hash(b)


def test_hash_is_a_non_negative_61_bit_int():
    for key in eval(KEYS_SOURCE):
        value = stable_hash(key)
        assert 0 <= value < 2**61, key


def test_frozen_dataclass_and_namedtuple_keys_hash_like_their_fields():
    import dataclasses
    from collections import namedtuple

    @dataclasses.dataclass(frozen=True)
    class UserKey:
        user: str
        shard: int

    Pair = namedtuple("Pair", "user shard")
    assert stable_hash(UserKey("u", 3)) == stable_hash(("u", 3)) == stable_hash(Pair("u", 3))


def test_a_key_without_a_stable_hash_is_refused_with_what_to_do():
    with pytest.raises(UnstableKeyError, match=r"cannot key by a value of type object.*"
                                               r"return an int, str, bytes, float or a tuple"):
        stable_hash(object())
    with pytest.raises(UnstableKeyError, match="frozenset"):
        stable_hash(("ok", frozenset({1})))


def test_sequential_and_strided_keys_spread_evenly_over_key_groups():
    for keys in (range(12_800), range(0, 128 * 12_800, 128), [f"user-{i}" for i in range(12_800)]):
        counts = Counter(assign_to_key_group(k, 128) for k in keys)
        assert len(counts) == 128
        assert max(counts.values()) < 2 * 100 and min(counts.values()) > 100 // 2


CASES = [(1, 1), (7, 1), (7, 3), (7, 7), (128, 1), (128, 3), (128, 5), (128, 127), (128, 128),
         (4096, 7), (4096, 100), (32768, 3)]


@pytest.mark.parametrize(("max_parallelism", "parallelism"), CASES)
def test_key_groups_map_to_subtasks_in_contiguous_ranges_covering_each_group_once(
        max_parallelism, parallelism):
    ranges = [compute_key_group_range_for_operator_index(max_parallelism, parallelism, i)
              for i in range(parallelism)]
    # Contiguous, in subtask order, no gap, no overlap, every subtask owns at least one group.
    assert ranges[0].start == 0 and ranges[-1].end == max_parallelism - 1
    for before, after in itertools.pairwise(ranges):
        assert after.start == before.end + 1
    assert all(len(r) >= 1 for r in ranges)
    assert sum(len(r) for r in ranges) == max_parallelism
    assert max(map(len, ranges)) - min(map(len, ranges)) <= 1

    table = key_group_to_operator_table(max_parallelism, parallelism)
    step = max(1, max_parallelism // 512)  # the oracle is slow; sample the big ones
    for key_group in range(0, max_parallelism, step):
        owner = key_group_owner(key_group, max_parallelism, parallelism)
        assert compute_operator_index_for_key_group(max_parallelism, parallelism,
                                                    key_group) == owner
        assert table[key_group] == owner
        assert key_group in ranges[owner]
        assert all(key_group not in r for i, r in enumerate(ranges) if i != owner)


def test_key_to_subtask_goes_through_its_key_group():
    for key in ["a", "b", 17, ("x", 2), b"\x01"]:
        group = stable_hash(key) % 128
        assert assign_to_key_group(key, 128) == group
        assert assign_key_to_parallel_operator(key, 128, 3) == key_group_owner(group, 128, 3)


def test_key_group_range_membership():
    r = KeyGroupRange(3, 5)
    assert [g for g in range(8) if g in r] == [3, 4, 5]
    assert "4" not in r
    assert len(r) == 3 and len(KeyGroupRange(5, 4)) == 0
