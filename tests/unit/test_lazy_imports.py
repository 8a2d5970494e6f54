"""What a process loads at import time: a job script pays for every module ``import weir``
pulls in, and each TaskManager for what its actor module pulls in, before any record flows.
Clients, state backends and reporters a job may not use load when first used."""

import json
import subprocess
import sys

import pytest

# Loaded only by the jobs (or the processes) that use them.
ON_DEMAND = ["aiokafka", "boto3", "botocore", "obstore", "prometheus_client", "rocksdict"]


def _loaded_after(*imports: str) -> set[str]:
    """The top-level packages loaded in a fresh interpreter by ``imports``."""
    code = ";".join([*(f"import {name}" for name in imports),
                     "import sys, json",
                     "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"])
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout
    return set(json.loads(output))


def test_the_user_api_loads_no_runtime_and_no_optional_client():
    loaded = _loaded_after("weir.datastream", "weir.common")
    assert loaded.isdisjoint([*ON_DEMAND, "ray"]), sorted(loaded & {*ON_DEMAND, "ray"})


@pytest.mark.parametrize("module", ["weir.taskmanager.actor", "weir.jobmanager.runner"])
def test_the_runtime_loads_no_optional_client_until_used(module):
    loaded = _loaded_after(module)
    assert loaded.isdisjoint(ON_DEMAND), sorted(loaded & set(ON_DEMAND))


def test_s3_storage_loads_its_client_when_a_job_uses_s3():
    code = ("import sys; from weir.checkpoint import storage_for; "
            "storage_for('s3://bucket/prefix', {'s3.region': 'us-east-1'}); "
            "print('obstore' in sys.modules)")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout
    assert output.strip() == "True"
