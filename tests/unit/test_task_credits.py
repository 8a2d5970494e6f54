"""A task grants each sender ``taskmanager.network.credits-per-channel`` credits: what a
channel may have in flight."""

from __future__ import annotations

import pytest

from tests.unit.stream_tasks import TaskUnderTest, deployment, run
from weir.config import ConfigError
from weir.taskmanager.network.environment import DEFAULT_INITIAL_CREDITS
from weir.taskmanager.network.events import END_OF_PARTITION


@pytest.mark.parametrize("configured", [None, "1", "3"])
def test_a_sender_may_have_as_many_buffers_in_flight_as_the_task_grants(configured):
    credits = DEFAULT_INITIAL_CREDITS if configured is None else int(configured)

    async def scenario() -> tuple[int, int]:
        under_test = TaskUnderTest(deployment(configuration={} if configured is None else {
            "taskmanager.network.credits-per-channel": configured}))
        runner = await under_test.start()
        channel = under_test.inputs[0]
        granted = channel.credit.available
        for n in range(granted):  # none of these suspends: the task runs only after
            await channel.send([n])
        left = channel.credit.available
        await channel.send(END_OF_PARTITION)
        await runner
        return granted, left

    assert run(scenario()) == (credits, 0)


def test_fewer_than_one_credit_is_refused_saying_which_option():
    with pytest.raises(ConfigError, match="credits-per-channel must be at least 1"):
        TaskUnderTest(deployment(configuration={"taskmanager.network.credits-per-channel": "0"}))
