"""Plain-Python oracles the unit tests compare weir's decisions against."""

from __future__ import annotations

from fractions import Fraction

__all__ = ["key_group_owner"]


def key_group_owner(key_group: int, max_parallelism: int, parallelism: int) -> int:
    """The subtask owning ``key_group``: subtask i owns the key groups whose position
    ``key_group / max_parallelism`` falls in ``[i / parallelism, (i + 1) / parallelism)``."""
    position = Fraction(key_group, max_parallelism)
    owners = [i for i in range(parallelism)
              if Fraction(i, parallelism) <= position < Fraction(i + 1, parallelism)]
    assert len(owners) == 1
    return owners[0]
