"""Keys, key groups and their assignment to subtasks (as in Flink's KeyGroupRangeAssignment).

``stable_hash`` must give the same number for the same key in every process
and every run: Python's ``hash()`` of ``str`` is salted per process, so it is
never used for strings.
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from typing import Any

__all__ = [
    "DEFAULT_MAX_PARALLELISM",
    "KeyGroupRange",
    "UnstableKeyError",
    "assign_key_to_parallel_operator",
    "assign_to_key_group",
    "compute_key_group_range_for_operator_index",
    "compute_operator_index_for_key_group",
    "key_group_to_operator_table",
    "stable_hash",
]

DEFAULT_MAX_PARALLELISM = 128
_MASK = (1 << 61) - 1


class UnstableKeyError(TypeError):
    """A key whose hash would differ between processes."""


_GOLDEN = 0x9E3779B97F4A7C15
_NAN_HASH = 0x7FF8000000000000 & _MASK


def _hash_int(value: int) -> int:
    # Multiplicative mixing spreads sequential ids and multiples of the max
    # parallelism evenly over the key groups.
    return ((value & _MASK) * _GOLDEN >> 17) & _MASK


def _hash_str(value: str) -> int:
    return zlib.crc32(value.encode("utf-8", "surrogatepass")) * 0x9E3779B1 & _MASK


def stable_hash(key: Any) -> int:
    """A non-negative hash of ``key`` that is identical in every process and run.

    Supports int, bool, float, str, bytes, None and tuples/lists/frozen
    dataclasses of those. Ints and strs are inlined: this runs once per record
    on every keyed exchange.

    Raises:
        UnstableKeyError: for a key type without a stable hash.
    """
    kind = type(key)
    if kind is int:
        return ((key & _MASK) * _GOLDEN >> 17) & _MASK
    if kind is str:
        return _hash_str(key)
    if kind is tuple or kind is list or isinstance(key, tuple):
        acc = 0x345678
        for item in key:
            if type(item) is int:
                acc = (acc * 1000003 ^ (((item & _MASK) * _GOLDEN >> 17) & _MASK)) & _MASK
            else:
                acc = (acc * 1000003 ^ stable_hash(item)) & _MASK
        return acc
    if kind is float:
        # An integral float hashes as the int it equals (1.0 and 1 are one key, as in a
        # dict); hash() of a non-integral float is not salted, but that of NaN is per object.
        if key.is_integer():
            return stable_hash(int(key))
        return _NAN_HASH if math.isnan(key) else _hash_int(hash(key))
    if kind is bool:
        return _hash_int(int(key))
    if kind is bytes:
        return zlib.crc32(key) * 0x9E3779B1 & _MASK
    if key is None:
        return 0
    if dataclasses.is_dataclass(key) and not isinstance(key, type):
        return stable_hash(dataclasses.astuple(key))
    raise UnstableKeyError(
        f"cannot key by a value of type {kind.__name__}: its hash is not stable across "
        "processes; return an int, str, bytes, float or a tuple of them from the key selector"
    )


def assign_to_key_group(key: Any, max_parallelism: int) -> int:
    """The key group of ``key``."""
    return stable_hash(key) % max_parallelism


def compute_operator_index_for_key_group(max_parallelism: int, parallelism: int,
                                         key_group: int) -> int:
    """The subtask that owns ``key_group`` (contiguous ranges, as in Flink)."""
    return key_group * parallelism // max_parallelism


def assign_key_to_parallel_operator(key: Any, max_parallelism: int, parallelism: int) -> int:
    """The subtask that owns ``key``."""
    return compute_operator_index_for_key_group(
        max_parallelism, parallelism, assign_to_key_group(key, max_parallelism))


def key_group_to_operator_table(max_parallelism: int, parallelism: int) -> list[int]:
    """``table[key_group]`` is the owning subtask; routing looks it up per record."""
    return [compute_operator_index_for_key_group(max_parallelism, parallelism, kg)
            for kg in range(max_parallelism)]


@dataclasses.dataclass(frozen=True)
class KeyGroupRange:
    """An inclusive range of key groups owned by one subtask."""

    start: int
    end: int

    def __contains__(self, key_group: object) -> bool:
        return isinstance(key_group, int) and self.start <= key_group <= self.end

    def __len__(self) -> int:
        return max(0, self.end - self.start + 1)


def compute_key_group_range_for_operator_index(max_parallelism: int, parallelism: int,
                                               index: int) -> KeyGroupRange:
    """The key groups subtask ``index`` owns."""
    start = (index * max_parallelism + parallelism - 1) // parallelism
    end = ((index + 1) * max_parallelism - 1) // parallelism
    return KeyGroupRange(start, end)
