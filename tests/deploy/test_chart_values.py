"""The chart's values: every one is typed in values.schema.json and documented in the chart's
README; a wrong one is refused before anything renders, with a message naming it; and the
configuration the chart renders is what ``weir jobmanager`` accepts, key for key."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from tests.deploy.chart import (
    CHART,
    REPO,
    VALUE_SETS,
    Rendered,
    full_name,
    render,
    validate_values,
)
from weir.checkpoint.s3_storage import S3Options
from weir.common.restart_strategy import restart_strategy_configuration
from weir.config.durations import parse_duration_ms
from weir.config.memory_sizes import parse_memory_size
from weir.jobmanager.__main__ import _parser as jobmanager_parser
from weir.jobmanager.resource_manager import taskmanager_memory, taskmanager_ray_resources
from weir.metrics.prometheus import PrometheusReporterOptions

pytestmark = pytest.mark.timeout(120)

VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
SCHEMA = json.loads((CHART / "values.schema.json").read_text())
README = (CHART / "README.md").read_text()


def _leaves(values: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of the values a user sets: nested sections are walked as far as the
    schema declares their properties; free-form maps (resources, annotations, ...) are one
    value."""
    paths = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        declared = schema.get("properties", {}).get(key)
        assert declared is not None, f"values.yaml has {path}, values.schema.json does not"
        if isinstance(value, dict) and "properties" in declared and key != "resources":
            paths += _leaves(value, declared, f"{path}.")
        else:
            paths.append(path)
    return paths


LEAVES = _leaves(VALUES, SCHEMA)


def test_every_value_is_in_the_schema_and_the_readme() -> None:
    undocumented = [path for path in LEAVES if f"`{path}`" not in README]
    assert len(LEAVES) > 60
    assert undocumented == []


def test_the_readme_documents_no_value_that_does_not_exist() -> None:
    table = re.findall(r"^\| `([A-Za-z][\w.]*)` \|", README, re.MULTILINE)
    assert sorted(table) == sorted(LEAVES)


def test_the_readme_states_each_default() -> None:
    stated = dict(re.findall(r"^\| `([A-Za-z][\w.]*)` \| `(.*?)` \|", README, re.MULTILINE))
    for path in LEAVES:
        value: Any = VALUES
        for part in path.split("."):
            value = value[part]
        assert json.loads(stated[path]) == value, path


def test_the_default_values_pass_the_schema() -> None:
    validate_values(VALUES)
    for values in VALUE_SETS.values():
        validate_values(values)


@pytest.mark.parametrize(("values", "message"), [
    ({"taskmanager": {"replicas": "two"}}, "at '/taskmanager/replicas': got string, want integer"),
    ({"taskmanager": {"numberOfTaskSlots": 0}}, "at '/taskmanager/numberOfTaskSlots'"),
    ({"ray": {"mode": "operator"}}, "at '/ray/mode': value must be one of 'kuberay', 'embedded'"),
    ({"taskmanagers": 3}, "additional properties 'taskmanagers' not allowed"),
    ({"checkpointing": {"interval": "often"}}, "at '/checkpointing/interval'"),
    ({"checkpointing": {"mode": "exactly_once"}}, "at '/checkpointing/mode'"),
    ({"checkpointing": {"dir": "/data/checkpoints"}}, "at '/checkpointing/dir'"),
    ({"s3": {"endpoint": "minio:9000"}}, "at '/s3/endpoint'"),
    ({"jobmanager": {"port": 70000}}, "at '/jobmanager/port'"),
    ({"metrics": {"enabled": "yes"}}, "at '/metrics/enabled': got string, want boolean"),
    ({"restartStrategy": {"type": "fixed"}}, "at '/restartStrategy/type'"),
    ({"jobs": [{"name": "x"}]}, "missing property 'file'"),
    ({"ray": {"version": "2.40.0"}}, "at '/ray/version'"),
])
def test_a_wrong_value_is_refused_naming_it(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmValuesError) as refused:
        render(values)
    assert message in str(refused.value)


# ------------------------------------------------------------------ the rendered configuration


def _config_text(rendered: Rendered) -> str:
    return rendered.get("ConfigMap", full_name("-config"))["data"]["config.yaml"]


def _jobmanager_argv(rendered: Rendered, tmp_path: Path) -> list[str]:
    """Run the JobManager container's start script with the rendered ConfigMap mounted and
    stand-ins for ``ray`` and ``weir`` that record their arguments: the argv ``weir`` gets."""
    deployment = rendered.get("Deployment", full_name("-jobmanager"))
    (container,) = [c for c in deployment["spec"]["template"]["spec"]["containers"]
                    if c["name"] == "jobmanager"]
    config = tmp_path / "config.yaml"
    config.write_text(_config_text(rendered))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("ray", "weir"):
        stub = bin_dir / tool
        stub.write_text(f'#!/bin/sh\nfor a in "$@"; do printf "%s\\0" "$a"; done '
                        f'> "{tmp_path}/{tool}.argv"\n')
        stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    script = container["args"][0].replace("/etc/weir/conf/config.yaml", str(config))
    subprocess.run([*container["command"], script], check=True, timeout=30,
                   env={"PATH": f"{bin_dir}:/usr/bin:/bin", "POD_IP": "10.1.2.3"})
    return (tmp_path / "weir.argv").read_text().split("\0")[:-1]


def _keys_weir_reads() -> set[str]:
    sources = "\n".join(path.read_text() for folder in
                        ("client", "core", "connectors", "jobmanager", "taskmanager")
                        for path in (REPO / folder).rglob("*.py"))
    return set(re.findall(r"""["']([a-z][a-z0-9-]*(?:\.[A-Za-z0-9-]+)+)["']""", sources))


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_weir_jobmanager_accepts_the_rendered_configuration(value_set: str,
                                                            tmp_path: Path) -> None:
    rendered = render(VALUE_SETS[value_set])
    argv = _jobmanager_argv(rendered, tmp_path)

    assert argv[0] == "jobmanager"
    args = jobmanager_parser().parse_args(argv[1:])
    configuration = dict(item.split("=", 1) for item in args.dynamic_properties)
    # Every line of the ConfigMap arrives whole, and nothing else does.
    lines = [line for line in _config_text(rendered).splitlines()
             if line and not line.startswith("#")]
    assert [f"{k}={v}" for k, v in (line.split(": ", 1) for line in lines)] \
        == args.dynamic_properties
    unknown = set(configuration) - _keys_weir_reads()
    assert unknown == set(), f"keys weir never reads (typos?): {sorted(unknown)}"
    _validate(configuration)
    assert args.host == "0.0.0.0" and args.token is None and not args.insecure
    values = VALUE_SETS[value_set]
    assert args.port == values.get("jobmanager", {}).get("port", 6123)
    assert args.taskmanagers == values.get("taskmanager", {}).get("replicas", 2)
    assert args.slots == values.get("taskmanager", {}).get("numberOfTaskSlots", 2)
    if "extraArgs" in values.get("jobmanager", {}):
        assert args.max_message_size == 1048576


def _validate(configuration: dict[str, str]) -> None:
    """What weir checks at start or at the first job, run on the chart's configuration."""
    restart_strategy_configuration(configuration)
    S3Options.from_configuration(configuration)
    taskmanager_ray_resources(configuration)
    taskmanager_memory(configuration)
    PrometheusReporterOptions.from_configuration(configuration)
    for key, value in configuration.items():
        if key.startswith("execution.checkpointing.") and key.split(".")[-1] in (
                "interval", "timeout", "min-pause"):
            parse_duration_ms(value, key)
        if key == "taskmanager.memory.process.size":
            parse_memory_size(value, key)
    assert configuration.get("state.backend", "hashmap") in ("hashmap", "rocksdb")


def test_a_misspelt_key_is_caught() -> None:
    """extraConfig passes keys through: the key check above is what catches a typo."""
    rendered = render({"extraConfig": {"execution.checkpointing.intervall": "1 s"}})
    lines = dict(line.split(": ", 1) for line in _config_text(rendered).splitlines()
                 if line and not line.startswith("#"))
    assert "execution.checkpointing.intervall" in lines
    assert "execution.checkpointing.intervall" not in _keys_weir_reads()
    assert "execution.checkpointing.interval" in _keys_weir_reads()


def test_values_reach_the_configuration() -> None:
    values = VALUE_SETS["existing-secrets"]
    configuration = dict(line.split(": ", 1) for line in
                         _config_text(render(values)).splitlines()
                         if line and not line.startswith("#"))
    assert configuration["state.checkpoints.dir"] == "s3://weir/checkpoints"
    assert configuration["state.savepoints.dir"] == "s3://weir/sp"
    assert configuration["high-availability.storageDir"] == "s3://weir/ha"
    assert configuration["s3.endpoint"] == "http://minio.storage.svc:9000"
    assert configuration["s3.path.style.access"] == "true"
    assert configuration["execution.checkpointing.interval"] == "1 min"
    assert configuration["restart-strategy.type"] == "exponential-delay"


# ------------------------------------------------------------------ dashboard and alert rules

DASHBOARD = REPO / "deploy" / "grafana" / "weir-dashboard.json"
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yml"


@pytest.mark.parametrize(("source", "in_chart", "values"), [
    (DASHBOARD, "files/grafana/weir-dashboard.json", {"grafanaDashboard": {"enabled": True}}),
    (ALERTS, "files/prometheus/alerts.yml", {"prometheusRule": {"enabled": True}}),
])
def test_the_dashboard_and_alert_rules_ship_from_deploy(source: Path, in_chart: str,
                                                        values: dict[str, Any]) -> None:
    """The chart links deploy/grafana and deploy/prometheus into files/ (Helm reads only the
    chart's own files); until they exist, turning the feature on says what is missing."""
    if not source.exists():
        assert not (CHART / in_chart).exists()
        with pytest.raises(helm.HelmRenderError, match=re.escape(f"no {in_chart}")):
            render({"metrics": values})
        return
    linked = CHART / in_chart
    assert linked.is_symlink() and linked.resolve() == source.resolve(), (
        f"link it: ln -s {os.path.relpath(source, linked.parent)} {linked}")
    rendered = render({"metrics": values})
    if source == DASHBOARD:
        dashboard = rendered.get("ConfigMap", full_name("-dashboard"))
        assert json.loads(dashboard["data"]["weir-dashboard.json"]) \
            == json.loads(source.read_text())
    else:
        rule = rendered.get("PrometheusRule", full_name())
        assert rule["spec"]["groups"] == yaml.safe_load(source.read_text())["groups"]
