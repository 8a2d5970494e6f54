"""A Ray node lost while a job runs: its TaskManager goes with it, the job restarts on the
nodes that remain (a replacement TaskManager on a spare node) and commits every count
exactly once.

Several Ray nodes on this machine (``ray.cluster_utils.Cluster``): a head node for the
JobManager, and three worker nodes that each offer one ``weir-taskmanager`` resource, so
each TaskManager has a node to itself and one node is spare.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.cluster import RunningJobManager, start_jobmanager, stop_jobmanager
from tests.fixtures.counting_job import (
    CountingJob,
    committed_file_lines,
    running_taskmanagers,
    wait_for,
    wait_for_restart,
)
from tests.fixtures.ray_cluster import RayNodes, ray_env
from weir.proto import jobmanager_pb2 as pb
from weir.rpc.client import JobManagerClient

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

RESOURCE = "weir-taskmanager"


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[RayNodes]:
    ray_nodes = RayNodes(tmp_path / "ray_nodes.log", workers=3,
                         worker_resources={RESOURCE: 1}).start(timeout_s=180)
    yield ray_nodes
    ray_nodes.stop()


@pytest.fixture
def jobmanager_on_nodes(nodes: RayNodes, tmp_path: Path,
                        monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningJobManager]:
    running = start_jobmanager(tmp_path / "jobmanager.log", "--ray-address", nodes.address,
                               "--taskmanagers", "2", "--slots", "2",
                               "-D", f"taskmanager.ray.resources={RESOURCE}:1",
                               env=ray_env(), timeout_s=180)
    monkeypatch.setenv("WEIR_JOBMANAGER", running.address)
    monkeypatch.setenv("WEIR_TOKEN", running.token)
    yield running
    stop_jobmanager(running)


def node_of_live(nodes: RayNodes, actor: str) -> str | None:
    """The node of the live actor ``actor``, or None while there is none."""
    try:
        return nodes.node_of(actor)
    except RuntimeError:
        return None


def test_a_removed_node_restarts_the_job_on_the_remaining_nodes(
        nodes: RayNodes, jobmanager_on_nodes: RunningJobManager, tmp_path: Path) -> None:
    job = CountingJob()
    output = tmp_path / "out"
    env = job.environment(output.as_uri(), (tmp_path / "chk").as_uri())
    client_job = env.execute_async("node-failure")
    job_id = client_job.get_job_id()
    with JobManagerClient(jobmanager_on_nodes.address, jobmanager_on_nodes.token) as client:
        wait_for(lambda: client.get_job(job_id).checkpoints.completed >= 2, 60,
                 "two completed checkpoints")
        victims = running_taskmanagers(client, job_id)
        node = nodes.node_of(victims[0])
        assert node in nodes.worker_node_ids  # the resource keeps TaskManagers off the head
        nodes.remove_node(node)
        restarted = wait_for_restart(client, job_id, 1, timeout_s=120)
        client_job.get_job_execution_result().result(timeout=180)
        details = client.get_job(job_id)
    hosts = {s.taskmanager for v in restarted.vertices for s in v.subtasks}
    assert victims[0] not in hosts
    # taskmanager-0 and -1 were started with the JobManager; the replacement for the lost
    # one is taskmanager-2 (names are never reused), and only the spare node has room for it.
    spare = wait_for(lambda: node_of_live(nodes, "taskmanager-2"), 60, "the replacement")
    assert spare in nodes.worker_node_ids and spare != node
    assert restarted.checkpoints.restored_id >= 2
    assert details.state == pb.FINISHED
    assert committed_file_lines(output) == job.expected()
