"""Batches cut by time as well as by count inside an operator chain.

Records move through a chain in batches: one call per operator per batch is what
makes per-record Python work cheap. But a batch moves on only when its last record
is done, so behind a slow user function (a lookup, a model) the first record of a
1,000-record batch would wait for the other 999. The slicer learns what a record
costs the chain and cuts a batch into slices that each take about the time bound
(the buffer timeout): a record then waits behind its batch no longer than that, as
under Flink's record-at-a-time operators, while fast chains keep whole batches.
"""

from __future__ import annotations

__all__ = ["BatchSlicer"]

FIRST_SLICE = 64  # records, before anything is known of the chain's cost
MIN_BOUND_S = 0.001  # a buffer timeout of 0 still lets slices amortize per-call work


class BatchSlicer:
    """How many records the next slice of a batch may have."""

    def __init__(self, bound_s: float) -> None:
        self._bound_s = max(bound_s, MIN_BOUND_S)
        self._per_record_s: float | None = None

    @property
    def size(self) -> int:
        per_record = self._per_record_s
        if per_record is None:
            return FIRST_SLICE
        if per_record <= 0.0:  # faster than the clock resolves
            return 1 << 30
        return max(1, int(self._bound_s / per_record))

    def observe(self, records: int, elapsed_s: float) -> None:
        """A slice of ``records`` took ``elapsed_s`` in the chain."""
        if records <= 0:
            return
        cost = elapsed_s / records
        previous = self._per_record_s
        # Halfway to the newest: a chain that slows down is followed within a few slices.
        self._per_record_s = cost if previous is None else (previous + cost) / 2.0
