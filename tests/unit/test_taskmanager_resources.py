"""What each TaskManager actor asks Ray for, from the cluster's configuration."""

from __future__ import annotations

import pytest

from weir.jobmanager.__main__ import main
from weir.jobmanager.resource_manager import taskmanager_memory, taskmanager_ray_resources


def test_process_size_reserves_memory_per_taskmanager() -> None:
    assert taskmanager_memory({}) is None
    assert taskmanager_memory({"taskmanager.memory.process.size": "1728m"}) == 1728 * 2**20
    assert taskmanager_memory({"taskmanager.memory.process.size": "0"}) is None


def test_custom_resources_are_name_amount_pairs() -> None:
    assert taskmanager_ray_resources({"taskmanager.ray.resources": "gpu-node:1, ssd:0.5"}) == {
        "gpu-node": 1.0, "ssd": 0.5}


@pytest.mark.parametrize(("setting", "message"), [
    ("taskmanager.memory.process.size=lots",
     "'taskmanager.memory.process.size' must be a memory size"),
    ("taskmanager.ray.resources=ssd", "name:amount"),
])
def test_a_bad_setting_stops_the_jobmanager_with_one_line(setting, message, capsys) -> None:
    assert main(["-D", setting]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
