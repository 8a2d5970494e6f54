"""The chart's job submitter (deploy/helm/weir/files/submit_jobs.py) decides which of the
``jobs:`` values to submit: never a second copy of a live job, again after a JobManager
restart that lost them, never a job the user cancelled."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import pytest

from tests.deploy.chart import CHART, VALUE_SETS, full_name, render
from weir.proto import jobmanager_pb2 as pb


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("submit_jobs", CHART / "files/submit_jobs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["submit_jobs"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


submit_jobs = _load()
WantedJob, ListedJob = submit_jobs.WantedJob, submit_jobs.ListedJob
WANTED = [WantedJob("counts", "/jobs/job-0.py"), WantedJob("alerts", "/jobs/job-1.py")]


def _names(jobs: list) -> list[str]:
    return [job.name for job in jobs]


def test_a_fresh_jobmanager_gets_every_job() -> None:
    to_submit, known = submit_jobs.jobs_to_submit(WANTED, [], {})
    assert _names(to_submit) == ["counts", "alerts"] and known == {}


def test_jobs_it_submitted_are_left_alone_in_any_state() -> None:
    listed = [ListedJob("a1", "counts", pb.RUNNING), ListedJob("b1", "alerts", pb.CANCELED)]
    to_submit, known = submit_jobs.jobs_to_submit(WANTED, listed, {"counts": "a1",
                                                                   "alerts": "b1"})
    assert to_submit == [] and known == {"counts": "a1", "alerts": "b1"}


def test_jobs_resumed_from_high_availability_storage_are_adopted() -> None:
    listed = [ListedJob("a0", "counts", pb.RESTARTING), ListedJob("old", "alerts", pb.FAILED)]
    to_submit, known = submit_jobs.jobs_to_submit(WANTED, listed, {})
    assert _names(to_submit) == ["alerts"] and known == {"counts": "a0"}


def test_jobs_a_restarted_jobmanager_forgot_are_submitted_again() -> None:
    listed = [ListedJob("x9", "other", pb.RUNNING)]
    to_submit, known = submit_jobs.jobs_to_submit(WANTED, listed, {"counts": "a1",
                                                                   "alerts": "b1"})
    assert _names(to_submit) == ["counts", "alerts"] and known == {}


def test_live_states_are_the_states_that_are_not_over() -> None:
    over = {pb.FINISHED, pb.CANCELED, pb.FAILED, pb.JOB_STATE_UNSPECIFIED}
    assert submit_jobs.LIVE_STATES == set(pb.JobState.values()) - over


def test_the_chart_mounts_the_programs_beside_the_submitter() -> None:
    rendered = render(VALUE_SETS["embedded-everything"])
    jobs = rendered.get("ConfigMap", full_name("-jobs"))["data"]
    pod = rendered.get("Deployment", full_name("-jobmanager"))["spec"]["template"]["spec"]
    (sidecar,) = [c for c in pod["containers"] if c["name"] == "job-submitter"]

    assert jobs["submit_jobs.py"] == (CHART / "files/submit_jobs.py").read_text().rstrip("\n")
    assert jobs["job-0.py"].strip() == "print('hello')"
    mounts = {m["mountPath"]: m["name"] for m in sidecar["volumeMounts"]}
    assert sidecar["command"] == ["python", "/etc/weir/jobs/submit_jobs.py",
                                  "/etc/weir/jobs/jobs.json"]
    assert mounts["/etc/weir/jobs"] == "jobs"
    assert render({}).of_kind("ConfigMap") and not [
        c for c in render({}).of_kind("ConfigMap") if c["metadata"]["name"] == full_name("-jobs")]


@pytest.mark.parametrize("tls", [False, True])
def test_the_submitter_reaches_the_jobmanager_with_its_token(tls: bool) -> None:
    values = {**VALUE_SETS["embedded-everything"],
              "tls": {"enabled": tls, "secretName": "jobmanager-tls"}}
    pod = render(values).get("Deployment", full_name("-jobmanager"))["spec"]["template"]["spec"]
    (sidecar,) = [c for c in pod["containers"] if c["name"] == "job-submitter"]
    env = {e["name"]: e.get("value") for e in sidecar["env"]}

    assert env["WEIR_TOKEN_FILE"] == "/etc/weir/token/token"
    port = values["jobmanager"]["port"]
    assert env["WEIR_JOBMANAGER"] == (f"{full_name('-jobmanager')}.streams.svc:{port}" if tls
                                      else f"127.0.0.1:{port}")
    assert ("WEIR_TLS_CA" in env) == tls
