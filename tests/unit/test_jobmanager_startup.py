"""How the JobManager starts Ray and itself (no Ray is started here)."""

import asyncio

import ray

from weir.jobmanager.ray_resource_manager import RAY_NAMESPACE, ray_init_options
from weir.jobmanager.runner import JobManager, JobManagerConfig


def test_a_ray_the_jobmanager_starts_runs_the_monitor_that_stops_at_once():
    options = ray_init_options(None, {})
    assert options["_system_config"] == {"enable_autoscaler_v2": True}
    assert options["namespace"] == RAY_NAMESPACE
    assert options["include_dashboard"] is False


def test_joining_a_ray_cluster_passes_no_system_config():
    # Ray refuses a _system_config when it joins a cluster instead of starting one.
    assert "_system_config" not in ray_init_options("ray-head:6379", {})
    joined = ray_init_options(None, {"RAY_ADDRESS": "ray-head:6379"})
    assert "_system_config" not in joined
    assert joined["address"] is None  # ray.init reads RAY_ADDRESS itself


def test_preparing_the_jobmanager_needs_no_ray():
    # The embedded cluster prepares the JobManager while Ray starts.
    jobmanager = JobManager(JobManagerConfig(port=0))
    asyncio.run(jobmanager.prepare())
    assert not ray.is_initialized()
    assert jobmanager.port == 0  # nothing listens before open()
