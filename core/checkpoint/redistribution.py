"""The shape of state restored after rescaling."""

from __future__ import annotations

from typing import Any

__all__ = ["RedistributedState"]


class RedistributedState(list[Any]):
    """The states of one operator (or source) from several old subtasks, in old subtask
    order: what a subtask restores from when the job's parallelism changed.

    Distinct from a plain list so that state which is itself a list is never mistaken
    for it. Which old subtasks contribute follows the operator's kind (keyed state by
    key-group ranges; sources and broadcast state: all of them; other operator state:
    round-robin), as the JobManager's state assignment says.
    """
