"""The keyed state backend interface: per-operator, scoped to the current key."""

from __future__ import annotations

import abc
from typing import Any

from weir.datastream.state import State, StateDescriptor

__all__ = ["KeyedStateBackend"]


class KeyedStateBackend(abc.ABC):
    """Holds the keyed state of one operator subtask.

    The operator sets ``current_key`` before it calls user code for a record or
    a timer; every state object reads and writes the entry of that key. Touched
    only by the task's mailbox loop.
    """

    current_key: Any = None
    # The window whose state namespaced state objects read and write.
    current_namespace: Any = None

    @abc.abstractmethod
    def get_state(self, kind: str, descriptor: StateDescriptor, namespaced: bool = False) -> State:
        """The state object of ``kind`` ('value', 'list', 'map', 'reducing', 'aggregating');
        ``namespaced`` state is scoped to the current key and ``current_namespace``."""

    @abc.abstractmethod
    def table(self, name: str) -> dict[Any, Any]:
        """A raw key → value table for runtime operators (e.g. reduce), same scoping."""
