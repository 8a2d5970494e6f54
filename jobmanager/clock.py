"""Time for the JobManager's loops: an injectable scheduler and the waits built on it.

The CheckpointCoordinator and the JobMaster take a ``Scheduler`` (the event loop by
default; a manual one in tests, as Flink's ``ManuallyTriggeredScheduledExecutor``), so
timeouts and delays run on whatever clock the scheduler keeps and nothing polls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["Cancellable", "Scheduler", "sleep", "wait_for_event"]


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class Scheduler(Protocol):
    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Cancellable: ...


def _elapsed(scheduler: Scheduler | None, delay_s: float) -> tuple[asyncio.Future[None],
                                                                   Cancellable]:
    """A future resolved once ``delay_s`` passed on ``scheduler`` (None: the running loop),
    and the timer behind it (cancel it when the future is no longer awaited)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def resolve() -> None:
        if not done.done():
            done.set_result(None)

    return done, (loop if scheduler is None else scheduler).call_later(delay_s, resolve)


async def sleep(delay_s: float, scheduler: Scheduler | None = None) -> None:
    """``asyncio.sleep`` on ``scheduler``'s clock (None: the running loop's)."""
    done, timer = _elapsed(scheduler, delay_s)
    try:
        await done
    finally:
        timer.cancel()


async def wait_for_event(event: asyncio.Event, timeout_s: float | None,
                         scheduler: Scheduler | None = None) -> bool:
    """Wait until ``event`` is set, at most ``timeout_s`` (None: no limit) on
    ``scheduler``'s clock (None: the running loop's). True if it was set, False if the
    timeout passed first."""
    if event.is_set():
        return True
    if timeout_s is None:
        await event.wait()
        return True
    timed_out, timer = _elapsed(scheduler, timeout_s)
    waiter = asyncio.ensure_future(event.wait())
    first_of: set[asyncio.Future[Any]] = {waiter, timed_out}
    try:
        await asyncio.wait(first_of, return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
        waiter.cancel()
    return event.is_set()
