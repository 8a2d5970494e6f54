"""Cancelled tasks stop, always: Flink's task canceller, interrupter and watchdog.

A StreamTask is an asyncio task on the TaskManager's event loop, so a cancel lands at its
next ``await``: waiting for credit under backpressure, for input while barrier alignment
holds channels back, in a sink's write or commit. Two things can still keep it running:

- code that catches the ``CancelledError`` and carries on (a user's ``except
  BaseException``; ``asyncio.wait_for`` on Python 3.11 when the cancel arrives together
  with what it awaited): ``cancel_until_stopped`` cancels again every
  ``task.cancellation.interval``, as Flink interrupts the task thread again;
- code that never awaits (a user function stuck in a synchronous call) blocks the whole
  event loop, so no cancel is delivered at all: the ``TaskCancelerWatchdog``, on a thread of
  its own, ends the TaskManager process when a cancellation has not completed within
  ``task.cancellation.timeout``. The JobManager sees the actor die and starts a replacement.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

__all__ = ["FATAL_EXIT_CODE", "TaskCancelerWatchdog", "WatchdogVerdict",
           "cancel_until_stopped", "end_process", "judge"]

log = logging.getLogger(__name__)
FATAL_EXIT_CODE = os.EX_SOFTWARE


async def cancel_until_stopped(runners: Collection[asyncio.Task[Any]], interval_s: float) -> None:
    """Cancel ``runners``, and every ``interval_s`` cancel again those still running, until
    all of them ended."""
    pending = {runner for runner in runners if not runner.done()}
    while pending:
        for runner in pending:
            runner.cancel()
        _, pending = await asyncio.wait(pending, timeout=interval_s)


@dataclass(frozen=True)
class WatchdogVerdict:
    """What the watchdog does now: end the process naming ``overdue`` (when any), else look
    again at ``next_deadline`` (None: nothing is watched, wait for a new watch)."""

    overdue: tuple[str, ...]
    next_deadline: float | None


def judge(deadlines: Mapping[int, tuple[float, str]], now: float) -> WatchdogVerdict:
    """The verdict on the watched cancellations (id -> (deadline, what is cancelled)) at
    ``now``: a cancellation is overdue once its deadline is reached."""
    overdue = tuple(what for deadline, what in sorted(deadlines.values()) if deadline <= now)
    return WatchdogVerdict(overdue, min((d for d, _ in deadlines.values()), default=None))


def end_process(reason: str) -> NoReturn:
    """Flink's fatal TaskManager error: say why, then end the process at once. No clean-up:
    the event loop that would run it may be the thing that is stuck."""
    log.critical("%s; ending the TaskManager's process (on Ray, the JobManager then starts a "
                 "replacement; an embedded cluster's TaskManager in process ends the job's "
                 "process with it)", reason)
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stderr.flush()
    os._exit(FATAL_EXIT_CODE)


class TaskCancelerWatchdog:
    """Calls ``on_overdue`` (by default: ``end_process``) when a watched cancellation has
    not completed within its timeout.

    Thread-safe. The deadlines are checked on a daemon thread of the watchdog's own
    (started by the first watch), never on the event loop: a blocked event loop is what it
    guards against. ``clock`` is a monotonic clock in seconds.
    """

    def __init__(self, on_overdue: Callable[[str], None] = end_process,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._on_overdue = on_overdue
        self._clock = clock
        self._changed = threading.Condition()
        # Guarded by _changed: id -> (deadline, what is cancelled).
        self._deadlines: dict[int, tuple[float, str]] = {}
        self._next_id = 0
        self._thread: threading.Thread | None = None

    @contextmanager
    def watch(self, what: str, timeout_s: float | None) -> Iterator[None]:
        """Watch the ``with`` block: unless it exits within ``timeout_s``, the watchdog calls
        ``on_overdue`` with a message naming ``what``. None: no timeout, nothing watched."""
        if timeout_s is None:
            yield
            return
        with self._changed:
            watch_id = self._next_id
            self._next_id += 1
            self._deadlines[watch_id] = (
                self._clock() + timeout_s,
                f"task cancellation timed out: {what} did not complete within {timeout_s:g} s")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="task-canceler-watchdog")
                self._thread.start()
            self._changed.notify()
        try:
            yield
        finally:
            with self._changed:
                self._deadlines.pop(watch_id, None)

    def _run(self) -> None:
        while True:
            with self._changed:
                while True:
                    now = self._clock()
                    verdict = judge(self._deadlines, now)
                    if verdict.overdue:
                        break
                    self._changed.wait(None if verdict.next_deadline is None
                                       else verdict.next_deadline - now)
                self._deadlines = {i: d for i, d in self._deadlines.items() if d[0] > now}
            self._on_overdue("; ".join(verdict.overdue))
