"""Event time of a task: input watermarks in, the operator chain advanced, watermarks out.

``StatusWatermarkValve`` (pure, Flink's) combines the watermarks and idle
statuses of a task's input channels: the task's input watermark is the minimum
over the channels that are active and aligned (caught up with it); an idle
channel is left out until it is active again and has caught up; when every
channel is idle, the valve is idle and lets its watermark go to the largest
of theirs.

``TaskEventTime`` drives a task's chain with it and decides what leaves the
task: each watermark that leaves the chain (forwarded in band, after the
records its timers emitted, on every output channel) and the task's idle
status (from the chain's watermark generator, else from its inputs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from weir.common.constants import MAX_LONG_VALUE, MIN_LONG_VALUE
from weir.taskmanager.network.events import Watermark, WatermarkStatus
from weir.taskmanager.records import concat_batches

__all__ = ["EventTimeOutput", "StatusWatermarkValve", "TaskEventTime", "WatermarkChain"]


class StatusWatermarkValve:
    """Combines the watermarks and statuses of ``channel_count`` input channels."""

    def __init__(self, channel_count: int) -> None:
        self.watermarks = [MIN_LONG_VALUE] * channel_count
        self.idle = [False] * channel_count
        self.aligned = [True] * channel_count
        self.output_watermark = MIN_LONG_VALUE
        self.output_idle = False

    def input_watermark(self, channel: int, watermark: int) -> list[Any]:
        """A watermark arrived on ``channel``; the events the task's input gets."""
        if self.output_idle or self.idle[channel] or watermark <= self.watermarks[channel]:
            return []
        self.watermarks[channel] = watermark
        if not self.aligned[channel] and watermark >= self.output_watermark:
            self.aligned[channel] = True
        return self._new_minimum()

    def input_status(self, channel: int, status: WatermarkStatus) -> list[Any]:
        """``channel`` became idle or active; the events the task's input gets."""
        if status.idle and not self.idle[channel]:
            self.idle[channel] = True
            self.aligned[channel] = False
            if all(self.idle):
                events = []
                if self.watermarks[channel] == self.output_watermark:
                    events = self._new_maximum()
                self.output_idle = True
                return [*events, WatermarkStatus.IDLE]
            if self.watermarks[channel] == self.output_watermark:
                return self._new_minimum()
        elif not status.idle and self.idle[channel]:
            self.idle[channel] = False
            if self.watermarks[channel] >= self.output_watermark:
                self.aligned[channel] = True
            if self.output_idle:
                self.output_idle = False
                return [WatermarkStatus.ACTIVE]
        return []

    def _new_minimum(self) -> list[Any]:
        aligned = [w for w, ok in zip(self.watermarks, self.aligned) if ok]
        if aligned and min(aligned) > self.output_watermark:
            self.output_watermark = min(aligned)
            return [Watermark(self.output_watermark)]
        return []

    def _new_maximum(self) -> list[Any]:
        if max(self.watermarks) > self.output_watermark:
            self.output_watermark = max(self.watermarks)
            return [Watermark(self.output_watermark)]
        return []


class WatermarkChain(Protocol):
    """What ``TaskEventTime`` needs of the operator chain."""

    @property
    def generates_watermarks(self) -> bool: ...

    def advance_watermark(self, watermark: int, start: int = 0) -> tuple[list[Any], int | None]:
        ...

    def periodic_watermarks(self, now_ms: int) -> tuple[list[Any], int | None, bool | None]: ...


@dataclass
class EventTimeOutput:
    """What the task sends: ``records`` first, then each of ``events`` on every channel."""

    records: list[Any] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)


class TaskEventTime:
    """The event time of one task; the task feeds it and sends what it returns.

    Callbacks: ``on_watermark``/``on_status`` for events from input channels,
    ``on_periodic`` at every processing-time wakeup, ``on_async_output`` when async
    operators released output, ``end_of_input`` once.
    """

    def __init__(self, chain: WatermarkChain, channel_count: int) -> None:
        self._chain = chain
        self._valve = StatusWatermarkValve(channel_count)
        self._input_watermark = MIN_LONG_VALUE
        self._sent_watermark = MIN_LONG_VALUE
        self._sent_idle = False

    @property
    def input_watermark(self) -> int:
        """The task's input watermark (the minimum over its active channels)."""
        return self._input_watermark

    @property
    def output_watermark(self) -> int:
        """The last watermark the task sent."""
        return self._sent_watermark

    def on_watermark(self, channel: int, watermark: Watermark) -> EventTimeOutput:
        return self._apply(self._valve.input_watermark(channel, watermark.timestamp))

    def on_status(self, channel: int, status: WatermarkStatus) -> EventTimeOutput:
        return self._apply(self._valve.input_status(channel, status))

    def on_periodic(self, now_ms: int) -> EventTimeOutput:
        if not self._chain.generates_watermarks:
            return EventTimeOutput()
        records, watermark, idle = self._chain.periodic_watermarks(now_ms)
        out = EventTimeOutput(records)
        if watermark is not None:
            self._send_watermark(watermark, out)
        if idle is not None:
            self._send_status(idle, out)
        return out

    def on_async_output(self, records: list[Any], watermark: int | None) -> EventTimeOutput:
        """An async operator released ``records`` and then ``watermark`` (the watermark
        that left the chain after them; None: none)."""
        out = EventTimeOutput(records)
        if watermark is not None:
            self._send_watermark(watermark, out)
        return out

    def end_of_input(self) -> EventTimeOutput:
        """All input consumed: the maximum watermark, so every event-time timer fires."""
        return self._apply([Watermark(MAX_LONG_VALUE)])

    def _apply(self, events: list[Any]) -> EventTimeOutput:
        out = EventTimeOutput()
        for event in events:
            if type(event) is Watermark:
                if event.timestamp <= self._input_watermark:
                    continue
                self._input_watermark = event.timestamp
                records, leaving = self._chain.advance_watermark(event.timestamp)
                out.records = concat_batches(out.records, records)
                if leaving is not None:
                    self._send_watermark(leaving, out)
            elif not self._chain.generates_watermarks:
                self._send_status(event.idle, out)
        return out

    def _send_watermark(self, watermark: int, out: EventTimeOutput) -> None:
        if watermark <= self._sent_watermark:
            return
        self._send_status(False, out)
        self._sent_watermark = watermark
        out.events.append(Watermark(watermark))

    def _send_status(self, idle: bool, out: EventTimeOutput) -> None:
        if idle != self._sent_idle:
            self._sent_idle = idle
            out.events.append(WatermarkStatus.IDLE if idle else WatermarkStatus.ACTIVE)
