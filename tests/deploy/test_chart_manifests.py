"""The chart lints, and every value set renders manifests that Kubernetes would accept and that
keep the safety properties a user relies on: nothing runs as root or with capabilities, every
container has resources, secrets are mounted rather than spelled out, probes are wired to the
JobManager's gRPC health service, and ports agree everywhere they are named."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest

from tests.deploy.chart import (
    CHART,
    KUBERNETES_VERSION,
    NAMESPACE,
    VALUE_SETS,
    Rendered,
    full_name,
    pod_specs,
    render,
)
from tests.deploy.custom_resources import CUSTOM_RESOURCES, validate_custom_resource
from weir.jobmanager.server import JOBMANAGER_SERVICE

pytestmark = pytest.mark.timeout(120)

JOBMANAGER = full_name("-jobmanager")


@pytest.fixture(scope="module", params=sorted(VALUE_SETS))
def rendered(request: pytest.FixtureRequest) -> Rendered:
    return render(VALUE_SETS[request.param])


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_the_chart_lints_without_errors_or_warnings(value_set: str) -> None:
    result = helm.lint(CHART, VALUE_SETS[value_set], strict=True, namespace=NAMESPACE,
                       kube_version=f"v{KUBERNETES_VERSION}")

    assert result["errors"] == []
    # Severity 1 is INFO (e.g. "icon is recommended"); 2 WARNING, 3 ERROR.
    assert [m for m in result["messages"] if m["severity"] > 1] == []


def test_the_packaged_chart_carries_the_linked_files(tmp_path: Path) -> None:
    """`helm package` follows the links to deploy/grafana and deploy/prometheus."""
    archive = Path(helm.package(CHART, destination=str(tmp_path)))
    values = {**VALUE_SETS["service-monitor"], **VALUE_SETS["existing-secrets"]}
    packaged = render(values, archive)
    assert packaged.manifests == render(values).manifests  # no random tokens: same output
    assert packaged.get("ConfigMap", full_name("-dashboard"))["data"]["weir-dashboard.json"]
    assert packaged.get("PrometheusRule", full_name())["spec"]["groups"]


def test_every_manifest_validates(rendered: Rendered) -> None:
    for manifest in rendered.manifests:
        key = (manifest["apiVersion"], manifest["kind"])
        if key in CUSTOM_RESOURCES:
            validate_custom_resource(manifest)
        else:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    for where, template in pod_specs(rendered):  # RayCluster pod templates too
        kubernetes_validate.validate(
            {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"},
             "template": template}, KUBERNETES_VERSION, strict=True)


def test_a_typo_in_a_manifest_would_fail_validation() -> None:
    """The validators refuse what they should, so the test above can fail."""
    service = render({}).get("Service", JOBMANAGER)
    broken = {**service, "spec": {**service["spec"], "prots": service["spec"]["ports"]}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    ray = render({}).get("RayCluster", full_name("-ray"))
    group = {**ray["spec"]["workerGroupSpecs"][0], "replicas": "2"}
    with pytest.raises(Exception, match="is not of type 'integer'"):
        validate_custom_resource({**ray, "spec": {**ray["spec"], "workerGroupSpecs": [group]}})


# ------------------------------------------------------------------ safety


def test_no_container_runs_as_root_or_with_privileges(rendered: Rendered) -> None:
    for where, template in pod_specs(rendered):
        pod = template["spec"]
        context = pod["securityContext"]
        assert context["runAsNonRoot"] is True, where
        assert context["runAsUser"] != 0 and context["runAsGroup"] != 0, where
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert pod["automountServiceAccountToken"] is False, where
        assert pod["serviceAccountName"] == full_name(), where
        assert not pod.get("hostNetwork") and not pod.get("hostPID"), where
        for container in pod["containers"] + pod.get("initContainers", []):
            security = container["securityContext"]
            label = f"{where} container {container['name']}"
            assert security["allowPrivilegeEscalation"] is False, label
            assert security["readOnlyRootFilesystem"] is True, label
            assert security["capabilities"] == {"drop": ["ALL"]}, label
            assert security.get("runAsUser", 1) != 0 and not security.get("privileged"), label


def test_every_container_has_requests_and_limits(rendered: Rendered) -> None:
    for where, template in pod_specs(rendered):
        for container in template["spec"]["containers"]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), where
            assert "memory" in resources["limits"], where


def test_writable_paths_are_scratch_volumes_on_a_read_only_root(rendered: Rendered) -> None:
    """Ray writes /tmp/ray and uses /dev/shm; they are emptyDirs, not the image."""
    for where, template in pod_specs(rendered):
        volumes = {v["name"]: v for v in template["spec"]["volumes"]}
        for container in template["spec"]["containers"]:
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert "emptyDir" in volumes[mounts["/tmp"]], where


def test_the_service_account_has_no_api_access(rendered: Rendered) -> None:
    kinds = {m["kind"] for m in rendered.manifests}
    assert not kinds & {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}
    (account,) = rendered.of_kind("ServiceAccount")
    assert account["automountServiceAccountToken"] is False


def test_taskmanagers_have_a_disruption_budget() -> None:
    budget = render({}).get("PodDisruptionBudget", full_name("-taskmanager"))
    assert budget["spec"]["maxUnavailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] \
        == "taskmanager"
    for where, template in pod_specs(render({})):
        if "taskmanagers" in where:
            assert template["metadata"]["labels"]["app.kubernetes.io/component"] \
                == "taskmanager"


# ------------------------------------------------------------------ the JobManager


def _jobmanager(rendered: Rendered) -> dict[str, Any]:
    deployment = rendered.get("Deployment", JOBMANAGER)
    (container,) = [c for c in deployment["spec"]["template"]["spec"]["containers"]
                    if c["name"] == "jobmanager"]
    return container


def _port(container: dict[str, Any], name: str) -> int:
    (port,) = [p["containerPort"] for p in container.get("ports", []) if p["name"] == name]
    return port


def test_probes_ask_the_grpc_health_service() -> None:
    container = _jobmanager(render({}))
    grpc_port = _port(container, "grpc")

    assert container["livenessProbe"]["grpc"] == {"port": grpc_port}
    assert container["startupProbe"]["grpc"] == {"port": grpc_port}
    assert container["readinessProbe"]["grpc"] == {"port": grpc_port,
                                                   "service": JOBMANAGER_SERVICE}


def test_over_tls_probes_check_health_with_the_mounted_ca() -> None:
    container = _jobmanager(render(VALUE_SETS["tls"]))
    readiness = container["readinessProbe"]["exec"]["command"]

    assert readiness[:2] == ["python", "-c"] and readiness[-1] == JOBMANAGER_SERVICE
    assert "/etc/weir/tls/ca.crt" in readiness[2]
    assert f"{JOBMANAGER}.{NAMESPACE}.svc" in readiness[2]
    assert container["livenessProbe"]["exec"]["command"][-1] == ""
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    deployment = render(VALUE_SETS["tls"]).get("Deployment", JOBMANAGER)
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes[mounts["/etc/weir/tls"]]["secret"]["secretName"] == "jobmanager-tls"


def test_ports_agree_between_container_service_config_and_annotations(
        rendered: Rendered) -> None:
    container = _jobmanager(rendered)
    service = rendered.get("Service", JOBMANAGER)
    service_ports = {p["name"]: p for p in service["spec"]["ports"]}
    script = container["args"][0]

    assert service_ports["grpc"]["targetPort"] == "grpc"
    assert f"--port {_port(container, 'grpc')} " in script
    assert service_ports["grpc"]["port"] == _port(container, "grpc")
    config = _config(rendered)
    if config.get("metrics.reporter.prom.enabled") == "true":
        metrics = _port(container, "metrics")
        assert config["metrics.reporter.prom.port"] == str(metrics)
        assert config["metrics.reporter.prom.host"] == "0.0.0.0"
        assert service_ports["metrics"]["targetPort"] == "metrics"
        for where, template in pod_specs(rendered):
            annotations = template["metadata"].get("annotations", {})
            if template["metadata"]["labels"]["app.kubernetes.io/component"] in (
                    "jobmanager", "taskmanager"):
                assert annotations["prometheus.io/port"] == str(metrics), where
                (worker,) = template["spec"]["containers"][:1]
                assert metrics in [p["containerPort"] for p in worker["ports"]], where
    else:
        assert "metrics" not in service_ports


def _config(rendered: Rendered) -> dict[str, str]:
    text = rendered.get("ConfigMap", full_name("-config"))["data"]["config.yaml"]
    return dict(line.split(": ", 1) for line in text.splitlines()
                if line and not line.startswith("#"))


def test_the_token_reaches_the_jobmanager_as_a_mounted_file(rendered: Rendered) -> None:
    container = _jobmanager(rendered)
    deployment = rendered.get("Deployment", JOBMANAGER)
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    env = {e["name"]: e for e in container["env"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}

    token_file = env["WEIR_TOKEN_FILE"]["value"]
    directory, key = token_file.rsplit("/", 1)
    secret_name = volumes[mounts[directory]]["secret"]["secretName"]
    assert "--token " not in container["args"][0] and "WEIR_TOKEN" not in env
    secrets = {s["metadata"]["name"]: s for s in rendered.of_kind("Secret")}
    if secret_name in secrets:  # generated
        token = base64.b64decode(secrets[secret_name]["data"][key]).decode()
        assert len(token) >= 32 and token.isalnum()
    else:  # the user's
        assert (secret_name, key) == ("weir-token", "jm-token")


def test_existing_secrets_are_used_and_none_is_generated() -> None:
    rendered = render(VALUE_SETS["existing-secrets"])
    assert rendered.of_kind("Secret") == []
    for where, template in pod_specs(rendered):
        for container in template["spec"]["containers"]:
            refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]
                    if "secretKeyRef" in e.get("valueFrom", {})}
            assert refs["RAY_AUTH_TOKEN"] == {"name": "ray-token", "key": "token"}, where
            assert refs["AWS_ACCESS_KEY_ID"] == {"name": "minio-keys", "key": "user"}, where
            assert refs["AWS_SECRET_ACCESS_KEY"] == {"name": "minio-keys",
                                                     "key": "password"}, where
            assert [e for e in container["env"] if "value" in e
                    and "minio" in str(e["value"])] == [], where
    assert "s3.access-key" not in _config(rendered)  # never in the ConfigMap


def test_ray_runs_with_token_authentication_everywhere(rendered: Rendered) -> None:
    for where, template in pod_specs(rendered):
        for container in template["spec"]["containers"]:
            if container["name"] == "job-submitter":
                continue  # not a Ray process
            env = {e["name"]: e for e in container["env"]}
            assert env["RAY_AUTH_MODE"]["value"] == "token", where
            assert "secretKeyRef" in env["RAY_AUTH_TOKEN"]["valueFrom"], where


# ------------------------------------------------------------------ Ray


def test_kuberay_cluster_runs_one_taskmanager_per_worker() -> None:
    values = {"taskmanager": {"replicas": 3, "numberOfTaskSlots": 4}}
    rendered = render(values)
    ray = rendered.get("RayCluster", full_name("-ray"))
    (group,) = ray["spec"]["workerGroupSpecs"]
    script = _jobmanager(rendered)["args"][0]

    assert group["replicas"] == group["minReplicas"] == group["maxReplicas"] == 3
    assert group["rayStartParams"]["resources"] == '"{\\"weir-taskmanager\\": 1}"'
    assert ray["spec"]["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
    assert "--taskmanagers 3 --slots 4" in script
    assert _config(rendered)["taskmanager.ray.resources"] == "weir-taskmanager:1"
    assert f"--ray-address {full_name('-ray')}-head-svc.{NAMESPACE}.svc:6379" in script
    assert rendered.of_kind("StatefulSet") == []


def test_embedded_ray_is_a_statefulset_head_and_a_worker_deployment() -> None:
    rendered = render({"ray": {"mode": "embedded"}, "taskmanager": {"replicas": 3}})
    head = rendered.get("StatefulSet", full_name("-ray-head"))
    workers = rendered.get("Deployment", full_name("-taskmanager"))
    service = rendered.get("Service", full_name("-ray-head"))
    worker_args = workers["spec"]["template"]["spec"]["containers"][0]["args"][0]

    assert rendered.of_kind("RayCluster") == []
    assert head["spec"]["serviceName"] == service["metadata"]["name"]
    assert workers["spec"]["replicas"] == 3
    assert "--resources='{\"weir-taskmanager\": 1}'" in worker_args
    assert f"--address={full_name('-ray-head')}.{NAMESPACE}.svc:6379" in worker_args
    assert "--num-cpus=0" in head["spec"]["template"]["spec"]["containers"][0]["args"][0]


def test_taskmanagers_bind_their_data_plane_beyond_loopback() -> None:
    script = _jobmanager(render({}))["args"][0]
    assert "--taskmanager-bind-host 0.0.0.0" in script
    assert f"--advertised-host {JOBMANAGER}-internal.{NAMESPACE}.svc" in script
    internal = render({}).get("Service", f"{JOBMANAGER}-internal")
    assert internal["spec"]["clusterIP"] == "None"
    assert internal["spec"]["publishNotReadyAddresses"] is True


# ------------------------------------------------------------------ Prometheus and network


def test_service_and_pod_monitors_point_at_the_metrics_ports() -> None:
    rendered = render(VALUE_SETS["service-monitor"])
    monitor = rendered.get("ServiceMonitor", JOBMANAGER)
    pods = rendered.get("PodMonitor", full_name("-taskmanager"))
    service = rendered.get("Service", JOBMANAGER)

    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["endpoints"][0]["port"] in [p["name"] for p in service["spec"]["ports"]]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert pods["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    for where, template in pod_specs(rendered):
        labels = template["metadata"]["labels"]
        if pods["spec"]["selector"]["matchLabels"].items() <= labels.items():
            ports = [p["name"] for p in template["spec"]["containers"][0]["ports"]]
            assert "metrics" in ports, where
    assert render({}).of_kind("ServiceMonitor") == []


def test_network_policies_open_only_grpc_to_clients_and_metrics_to_prometheus() -> None:
    rendered = render(VALUE_SETS["network-policy"])
    policies = {p["metadata"]["name"]: p["spec"] for p in rendered.of_kind("NetworkPolicy")}
    clients = policies[full_name("-clients")]
    metrics = policies[full_name("-metrics")]
    internal = policies[full_name("-internal")]
    values = VALUE_SETS["network-policy"]["networkPolicy"]

    assert clients["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "jobmanager"
    assert clients["ingress"] == [{"ports": [{"port": "grpc", "protocol": "TCP"}],
                                   "from": values["clients"]}]
    assert metrics["ingress"] == [{"ports": [{"port": "metrics", "protocol": "TCP"}],
                                   "from": values["prometheus"]}]
    # Everything else only from the release's own pods (Ray and the data plane).
    assert internal["ingress"] == [{"from": [{"podSelector": {"matchLabels": {
        "app.kubernetes.io/name": "weir", "app.kubernetes.io/instance": "demo"}}}]}]
    assert all(p["policyTypes"] == ["Ingress"] for p in policies.values())
    assert render({}).of_kind("NetworkPolicy") == []


def test_every_long_running_container_has_its_own_probes(rendered: Rendered) -> None:
    """KubeRay adds probes only where none are set, and its defaults run wget, which the slim
    image lacks: every Ray container brings its own."""
    for where, template in pod_specs(rendered):
        for container in template["spec"]["containers"]:
            if container["name"] == "job-submitter":
                continue
            assert "livenessProbe" in container, f"{where} {container['name']}"
            probes = json.dumps([container.get(p) for p in ("livenessProbe", "readinessProbe",
                                                            "startupProbe")])
            assert "wget" not in probes and "curl" not in probes, where
