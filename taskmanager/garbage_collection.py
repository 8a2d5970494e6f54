"""The TaskManager's garbage collector settings for streaming.

CPython's cyclic collector runs a young-generation collection every 700 container
allocations and, now and then, a full one over every tracked object. A TaskManager
allocates a few containers per record, and its long-lived objects (Ray, gRPC, the
modules, operator state) are many: at default settings the collector visits objects
that cannot be garbage over and over, more so when records wait in flight between
subtasks. Two changes, as servers that keep large heaps do:

- ``gc.freeze()`` once the TaskManager is set up: what exists then (mostly code and
  Ray's objects) moves to a permanent generation that collections never visit;
- a young generation of ``GEN0_THRESHOLD`` allocations: most records die young by
  reference counting between collections, and fewer collections visit the survivors.

Reference counting still frees everything that is not in a cycle; cycles are still
collected, just less often.
"""

from __future__ import annotations

import gc

__all__ = ["GEN0_THRESHOLD", "tune_for_streaming"]

GEN0_THRESHOLD = 50_000


def tune_for_streaming() -> None:
    """Freeze what exists now and widen the young generation (the older two keep their
    defaults: each is collected after 10 collections of the one below)."""
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
