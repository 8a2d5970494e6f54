"""Schemas for the custom resources the chart renders, cut down from their CRDs (KubeRay
ray.io/v1 RayCluster, Prometheus Operator monitoring.coreos.com/v1) to the fields the chart
uses, with their types: kubernetes-validate knows only built-in kinds. A field the chart sets
that is not here fails validation (additionalProperties: false), so a typo cannot pass.
Pod templates inside a RayCluster are validated as built-in PodTemplates instead."""

from __future__ import annotations

from typing import Any

import jsonschema

__all__ = ["CUSTOM_RESOURCES", "validate_custom_resource"]


def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": properties,
            "required": list(required)}


_STRING = {"type": "string"}
_INT = {"type": "integer"}
_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
_METADATA = _object({"name": _STRING, "namespace": _STRING, "labels": _LABELS,
                     "annotations": _LABELS}, ("name",))
_LABEL_SELECTOR = _object({"matchLabels": _LABELS, "matchExpressions": {"type": "array"}})
_NAMESPACE_SELECTOR = _object({"any": {"type": "boolean"},
                               "matchNames": {"type": "array", "items": _STRING}})
# KubeRay: rayStartParams is map[string]string (an unquoted number or boolean is refused).
_RAY_START_PARAMS = {"type": "object", "additionalProperties": {"type": "string"}}
_POD_TEMPLATE = {"type": "object", "required": ["spec"]}  # validated as a PodTemplate


def _resource(api_version: str, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return _object({"apiVersion": {"const": api_version}, "kind": {"const": kind},
                    "metadata": _METADATA, "spec": spec},
                   ("apiVersion", "kind", "metadata", "spec"))


_ENDPOINT = _object({"port": _STRING, "path": _STRING,
                     "interval": {"type": "string", "pattern": r"^\d+(ms|s|m|h)$"},
                     "scheme": {"enum": ["http", "https"]}}, ("port",))

CUSTOM_RESOURCES: dict[tuple[str, str], dict[str, Any]] = {
    ("ray.io/v1", "RayCluster"): _resource("ray.io/v1", "RayCluster", _object({
        "rayVersion": _STRING,
        "enableInTreeAutoscaling": {"type": "boolean"},
        "headGroupSpec": _object({
            "serviceType": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
            "rayStartParams": _RAY_START_PARAMS, "template": _POD_TEMPLATE,
        }, ("template",)),
        "workerGroupSpecs": {"type": "array", "items": _object({
            "groupName": _STRING, "replicas": _INT, "minReplicas": _INT, "maxReplicas": _INT,
            "rayStartParams": _RAY_START_PARAMS, "template": _POD_TEMPLATE,
        }, ("groupName", "template"))},
    }, ("headGroupSpec",))),
    ("monitoring.coreos.com/v1", "ServiceMonitor"): _resource(
        "monitoring.coreos.com/v1", "ServiceMonitor", _object({
            "selector": _LABEL_SELECTOR, "namespaceSelector": _NAMESPACE_SELECTOR,
            "endpoints": {"type": "array", "items": _ENDPOINT, "minItems": 1},
        }, ("selector", "endpoints"))),
    ("monitoring.coreos.com/v1", "PodMonitor"): _resource(
        "monitoring.coreos.com/v1", "PodMonitor", _object({
            "selector": _LABEL_SELECTOR, "namespaceSelector": _NAMESPACE_SELECTOR,
            "podMetricsEndpoints": {"type": "array", "items": _ENDPOINT, "minItems": 1},
        }, ("selector", "podMetricsEndpoints"))),
    ("monitoring.coreos.com/v1", "PrometheusRule"): _resource(
        "monitoring.coreos.com/v1", "PrometheusRule", _object({
            "groups": {"type": "array", "items": {
                "type": "object", "required": ["name", "rules"],
                "properties": {"name": _STRING, "interval": _STRING, "rules": {
                    "type": "array", "items": {
                        "type": "object", "required": ["expr"],
                        "properties": {"alert": _STRING, "record": _STRING,
                                       "expr": {"type": ["string", "integer"]},
                                       "for": _STRING, "labels": _LABELS,
                                       "annotations": _LABELS}}}}}},
        }, ("groups",))),
}


def validate_custom_resource(manifest: dict[str, Any]) -> None:
    """Raises jsonschema.ValidationError (or KeyError for an unknown kind)."""
    schema = CUSTOM_RESOURCES[(manifest["apiVersion"], manifest["kind"])]
    jsonschema.validate(manifest, schema)
