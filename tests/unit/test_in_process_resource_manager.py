"""TaskManagers on threads of this process (the embedded cluster's default): they start with
their data ports open, one that is killed is reported lost and replaced, and stopping
leaves no thread and no open port behind."""

from __future__ import annotations

import asyncio
import socket
import threading

from weir.jobmanager.in_process_resource_manager import InProcessResourceManager
from weir.jobmanager.resource_manager import TaskManagerSpec


def taskmanager_threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("weir-taskmanager"))


def accepts(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_a_killed_taskmanager_is_reported_lost_and_replaced_and_stop_leaves_nothing():
    async def scenario() -> None:
        resources = InProcessResourceManager()
        lost: list[tuple[str, str]] = []
        # No JobManager listens there: heartbeats fail quietly, which is all they do here.
        await resources.start(TaskManagerSpec(2, 2, "127.0.0.1:1", "token",
                                              cluster_secret=b"s" * 32),
                              lambda name, cause: lost.append((name, cause)))
        assert sorted(resources.infos) == ["taskmanager-0", "taskmanager-1"]
        assert taskmanager_threads() == ["weir-taskmanager-0", "weir-taskmanager-1"]
        ports = {name: info.data_port for name, info in resources.infos.items()}
        assert all(accepts(port) for port in ports.values())

        resources.kill("taskmanager-0")
        for _ in range(200):
            if "taskmanager-2" in resources.infos:
                break
            await asyncio.sleep(0.025)
        assert lost == [("taskmanager-0", "TaskManager taskmanager-0 was killed")]
        assert sorted(resources.gateways) == ["taskmanager-1", "taskmanager-2"]
        assert taskmanager_threads() == ["weir-taskmanager-1", "weir-taskmanager-2"]
        assert not accepts(ports["taskmanager-0"])

        ports = {name: info.data_port for name, info in resources.infos.items()}
        await resources.stop()
        assert resources.infos == {} and resources.gateways == {}
        assert taskmanager_threads() == []
        assert not any(accepts(port) for port in ports.values())

    asyncio.run(scenario())
