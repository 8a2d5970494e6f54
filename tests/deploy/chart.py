"""The Helm chart in deploy/helm/weir, rendered with Helm's Go SDK (helm-python-sdk: no helm
binary), and the value sets the tests render it with."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "weir"
RELEASE = "demo"
NAMESPACE = "streams"
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion: gRPC probes are GA in 1.27)
# is what every manifest must validate against.
KUBERNETES_VERSION = "1.27.0"

# The value sets the issue asks for, and a few more: each must render to valid manifests
# with every safety property.
VALUE_SETS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "embedded-ray": {"ray": {"mode": "embedded"}},
    "service-monitor": {"metrics": {"serviceMonitor": {"enabled": True,
                                                       "labels": {"release": "prom"}},
                                    "grafanaDashboard": {"enabled": True},
                                    "prometheusRule": {"enabled": True,
                                                       "labels": {"release": "prom"}}}},
    "existing-secrets": {
        "auth": {"existingSecret": "weir-token", "secretKey": "jm-token"},
        "ray": {"existingSecret": "ray-token", "secretKey": "token"},
        "s3": {"endpoint": "http://minio.storage.svc:9000", "pathStyleAccess": True,
               "credentials": {"existingSecret": "minio-keys", "accessKeyIdKey": "user",
                               "secretAccessKeyKey": "password"}},
        "checkpointing": {"dir": "s3://weir/checkpoints", "savepointsDir": "s3://weir/sp"},
        "highAvailability": {"storageDir": "s3://weir/ha"},
    },
    "tls": {"tls": {"enabled": True, "secretName": "jobmanager-tls"},
            "internalTls": {"enabled": True, "secretName": "data-plane-tls"}},
    "network-policy": {"networkPolicy": {
        "enabled": True,
        "clients": [{"namespaceSelector": {"matchLabels": {"team": "streams"}}}],
        "prometheus": [{"namespaceSelector": {
            "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]}},
    "embedded-everything": {
        "ray": {"mode": "embedded", "head": {"dashboard": False}},
        "networkPolicy": {"enabled": True},
        "metrics": {"serviceMonitor": {"enabled": True}},
        "tls": {"enabled": True, "secretName": "jobmanager-tls", "caKey": ""},
        "s3": {"credentials": {"create": True, "accessKey": "minio", "secretKey": "minio123"}},
        "stateBackend": {"type": "rocksdb", "incremental": True},
        "restartStrategy": {"type": "failure-rate"},
        "taskmanager": {"replicas": 4, "numberOfTaskSlots": 3, "memoryProcessSize": "1536m"},
        "jobmanager": {"extraArgs": ["--max-message-size", "1048576"], "port": 7000},
        "jobs": [{"name": "word_count", "file": "print('hello')\n", "args": ["--events", 10],
                  "parallelism": 2}],
        "extraConfig": {"execution.buffer-timeout": "50 ms"},
    },
    "metrics-off": {"metrics": {"enabled": False}, "podDisruptionBudget": {"enabled": False},
                    "restartStrategy": {"type": "fixed-delay"}, "checkpointing": {"interval": ""}},
}


@dataclass(frozen=True)
class Rendered:
    """One rendering of the chart: its manifests by (kind, name), and NOTES.txt."""

    manifests: list[dict[str, Any]]
    notes: str

    def get(self, kind: str, name: str) -> dict[str, Any]:
        found = [m for m in self.manifests
                 if m["kind"] == kind and m["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
        return found[0]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.manifests if m["kind"] == kind]


def full_name(suffix: str = "") -> str:
    return f"{RELEASE}-weir{suffix}"


@functools.cache
def _chart() -> helm.Chart:
    return helm.Chart.load(CHART)


def render_raw(values: dict[str, Any], chart_dir: Path = CHART) -> dict[str, str]:
    if chart_dir == CHART:
        return _chart().render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    with helm.Chart.load(chart_dir) as chart:
        return chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)


def render(values: dict[str, Any], chart_dir: Path = CHART) -> Rendered:
    manifests: list[dict[str, Any]] = []
    notes = ""
    for path, text in render_raw(values, chart_dir).items():
        if path.endswith("NOTES.txt"):
            notes = text
            continue
        manifests += [doc for doc in yaml.safe_load_all(text) if doc]
    return Rendered(manifests, notes)


def validate_values(values: dict[str, Any]) -> None:
    """Raises helm_python.HelmValuesError when values.schema.json refuses ``values``."""
    _chart().validate_schema(values)


def pod_specs(rendered: Rendered) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every pod template the chart renders (Deployments, StatefulSets, RayCluster groups),
    with a label saying where it is."""
    for manifest in rendered.manifests:
        kind, name = manifest["kind"], manifest["metadata"]["name"]
        if kind in ("Deployment", "StatefulSet"):
            yield f"{kind} {name}", manifest["spec"]["template"]
        elif kind == "RayCluster":
            yield f"RayCluster {name} head", manifest["spec"]["headGroupSpec"]["template"]
            for group in manifest["spec"]["workerGroupSpecs"]:
                yield f"RayCluster {name} {group['groupName']}", group["template"]
