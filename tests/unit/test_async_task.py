"""A StreamTask running an async wait operator, in-process (no Ray, no sockets): at capacity it
takes no more input (backpressure), results go out as they are released, and at the end of
input it finishes only once every request did, sending the results, then the final
watermark, then EndOfPartition."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.unit.stream_tasks import TaskUnderTest, deployment, run
from weir.common.constants import MAX_LONG_VALUE
from weir.datastream import AsyncFunction
from weir.datastream.async_retry_strategies import NO_RETRY_STRATEGY
from weir.graph.operators import AsyncWaitSpec
from weir.proto import jobmanager_pb2 as pb
from weir.taskmanager.network.environment import NetworkEnvironment
from weir.taskmanager.network.events import END_OF_PARTITION, Watermark


class Service:
    """The fake service: a request for ``value`` waits until the test releases it."""

    def __init__(self) -> None:
        self.gates: dict[Any, asyncio.Event] = {}
        self.in_flight = 0
        self.changed = asyncio.Event()

    def release(self, value: Any) -> None:
        self.gates.setdefault(value, asyncio.Event()).set()

    async def until_in_flight(self, count: int) -> None:
        while self.in_flight != count:
            self.changed.clear()
            await self.changed.wait()

    async def lookup(self, value: Any) -> list[Any]:
        self.in_flight += 1
        self.changed.set()
        try:
            await self.gates.setdefault(value, asyncio.Event()).wait()
        finally:
            self.in_flight -= 1
            self.changed.set()
        return [value * 10]


# The task runs an unpickled copy of the function; the copy finds the test's service here.
SERVICES: dict[str, Service] = {}


class Lookup(AsyncFunction):
    def __init__(self, service: str) -> None:
        self.service = service

    async def async_invoke(self, value: Any) -> list[Any]:
        return await SERVICES[self.service].lookup(value)


async def take_output(under_test: TaskUnderTest) -> list[Any]:
    """Everything the task sent so far (records, then EndOfPartition when it ended)."""
    got: list[Any] = []
    while (polled := under_test.output.poll()) is not None:
        item = polled[1]
        got.extend(item if isinstance(item, list) else [item])
    return got


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def test_at_capacity_the_task_takes_no_input_and_it_ends_after_its_last_request():
    async def scenario() -> dict[str, Any]:
        service = SERVICES["capacity"] = Service()
        spec = AsyncWaitSpec("lookup", "lookup", Lookup("capacity"), 0, 2, NO_RETRY_STRATEGY,
                             True)
        under_test = TaskUnderTest(deployment(
            [spec], output=True, configuration={"taskmanager.network.buffer-records": "1",
                                                "taskmanager.network.credits-per-channel": "16"}),
            NetworkEnvironment(initial_credits=16))  # the test reads the output at its pace
        runner = await under_test.start()
        channel = under_test.inputs[0]
        for value in (1, 2, 3, 4):
            await channel.send([value])
        await service.until_in_flight(2)
        await settle()
        seen: dict[str, Any] = {"blocked_records_in": under_test.task.records_in}
        service.release(2)  # completes, but waits behind 1: still no room
        await settle()
        seen["behind_head"] = (under_test.task.records_in, await take_output(under_test))
        service.release(1)
        await service.until_in_flight(2)  # 3 and 4 were taken in
        await settle()
        seen["after_head"] = await take_output(under_test)
        await channel.send(END_OF_PARTITION)
        await settle()
        seen["waiting_at_end"] = list(under_test.gateway.states)
        service.release(3)
        service.release(4)
        await runner
        seen["end"] = await take_output(under_test)
        seen["states"] = list(under_test.gateway.states)
        return seen

    seen = run(scenario())
    assert seen["blocked_records_in"] == 2
    assert seen["behind_head"] == (2, [])
    assert seen["after_head"] == [10, 20]
    assert seen["waiting_at_end"] == [pb.TASK_RUNNING]
    assert seen["end"] == [30, 40, Watermark(MAX_LONG_VALUE), END_OF_PARTITION]
    assert seen["states"] == [pb.TASK_RUNNING, pb.TASK_FINISHED]
