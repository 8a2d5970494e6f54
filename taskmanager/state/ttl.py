"""State time-to-live: how a TTL state stores and reads entries, and how expired entries
are removed (read, full snapshot, incremental and background cleanup).

Entries of a TTL state are stored as ``(value, expires_at)`` (map state: each
entry of the inner dict), in processing time of the injected clock. An entry
is expired when ``now >= expires_at``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

from weir.datastream.state import StateTtlConfig

__all__ = ["MISSING", "PlainAccess", "TtlAccess", "TtlCleanup", "unexpired"]

MISSING = object()


class TtlAccess:
    """Stores ``(value, expires_at)`` and hides expired entries; an access may also run a
    step of incremental cleanup (``cleanup``)."""

    def __init__(self, config: StateTtlConfig, clock: Callable[[], int]) -> None:
        self._ttl = config.ttl_ms
        self._refresh_on_read = config.update_type is StateTtlConfig.UpdateType.OnReadAndWrite
        self._return_expired = (config.state_visibility is
                                StateTtlConfig.StateVisibility.ReturnExpiredIfNotCleanedUp)
        self._clock = clock
        self.cleanup: TtlCleanup | None = None

    def read(self, table: MutableMapping[Any, Any], key: Any) -> Any:
        value = self._read(table, key)
        if self.cleanup is not None:  # after the read: it sees what was not cleaned up
            self.cleanup.on_access()
        return value

    def _read(self, table: MutableMapping[Any, Any], key: Any) -> Any:
        entry = table.get(key, MISSING)
        if entry is MISSING:
            return MISSING
        value, expires_at = entry
        now = self._clock()
        if now >= expires_at:
            del table[key]
            return value if self._return_expired else MISSING
        if self._refresh_on_read:
            table[key] = (value, now + self._ttl)
        return value

    def write(self, table: MutableMapping[Any, Any], key: Any, value: Any) -> None:
        table[key] = (value, self._clock() + self._ttl)
        if self.cleanup is not None:
            self.cleanup.on_access()


class PlainAccess:
    """The no-TTL twin of ``TtlAccess``."""

    @staticmethod
    def read(table: MutableMapping[Any, Any], key: Any) -> Any:
        return table.get(key, MISSING)

    @staticmethod
    def write(table: MutableMapping[Any, Any], key: Any, value: Any) -> None:
        table[key] = value


def unexpired(kind: str, stored: Any, now: int) -> Any:
    """``stored`` without what expired by ``now`` (MISSING when nothing is left)."""
    if kind == "map":
        live = {k: entry for k, entry in stored.items() if now < entry[1]}
        return live or MISSING
    return stored if now < stored[1] else MISSING


class TtlCleanup:
    """Walks the keys of one (non-namespaced) TTL state a few at a time and drops what
    expired: ``size`` keys every ``every`` accesses (incremental cleanup on the heap:
    every access; on RocksDB, in place of a compaction filter: every ``size`` accesses).

    The walk covers a list of the keys taken when a round starts (heap dicts must not
    change size under an iterator; keys added later are met in the next round).
    """

    def __init__(self, table: MutableMapping[Any, Any], kind: str, clock: Callable[[], int],
                 size: int, every: int) -> None:
        self._table = table
        self._kind = kind
        self._clock = clock
        self.size = size
        self._every = every
        self._countdown = every
        self._keys: Iterator[Any] = iter(())

    def on_access(self) -> None:
        self._countdown -= 1
        if self._countdown <= 0:
            self._countdown = self._every
            self.step(self.size)

    def step(self, count: int) -> None:
        """Check the next ``count`` keys."""
        table, now = self._table, self._clock()
        for _ in range(count):
            key = next(self._keys, MISSING)
            if key is MISSING:
                self._keys = iter(list(table))
                key = next(self._keys, MISSING)
                if key is MISSING:
                    return
            stored = table.get(key, MISSING)
            if stored is MISSING:
                continue
            live = unexpired(self._kind, stored, now)
            if live is MISSING:
                del table[key]
            elif live is not stored and len(live) != len(stored):
                table[key] = live

