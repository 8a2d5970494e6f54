"""Kafka client properties (Java / librdkafka names, as ``set_property`` takes them) turned
into aiokafka's keyword arguments; security settings pass straight through."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["client_kwargs", "consumer_kwargs", "producer_kwargs"]

# Kafka property name -> (aiokafka argument, converter)
_PASS_THROUGH: dict[str, tuple[str, Any]] = {
    "client.id": ("client_id", str),
    "security.protocol": ("security_protocol", str),
    "sasl.mechanism": ("sasl_mechanism", str),
    "sasl.username": ("sasl_plain_username", str),
    "sasl.password": ("sasl_plain_password", str),
    "sasl.plain.username": ("sasl_plain_username", str),
    "sasl.plain.password": ("sasl_plain_password", str),
    "sasl.kerberos.service.name": ("sasl_kerberos_service_name", str),
    "sasl.kerberos.domain.name": ("sasl_kerberos_domain_name", str),
    "request.timeout.ms": ("request_timeout_ms", int),
    "retry.backoff.ms": ("retry_backoff_ms", int),
    "metadata.max.age.ms": ("metadata_max_age_ms", int),
    "connections.max.idle.ms": ("connections_max_idle_ms", int),
}
_CONSUMER: dict[str, tuple[str, Any]] = {
    "fetch.max.bytes": ("fetch_max_bytes", int),
    "max.partition.fetch.bytes": ("max_partition_fetch_bytes", int),
    "fetch.min.bytes": ("fetch_min_bytes", int),
    "fetch.max.wait.ms": ("fetch_max_wait_ms", int),
    "isolation.level": ("isolation_level", str),
}
_PRODUCER: dict[str, tuple[str, Any]] = {
    "linger.ms": ("linger_ms", int),
    "batch.size": ("max_batch_size", int),
    "compression.type": ("compression_type", str),
    "max.request.size": ("max_request_size", int),
    "transaction.timeout.ms": ("transaction_timeout_ms", int),
}
_SSL_FILES = {"ssl.ca.location": "cafile", "ssl.truststore.location": "cafile",
              "ssl.certificate.location": "certfile", "ssl.key.location": "keyfile",
              "ssl.key.password": "password", "ssl.cafile": "cafile",
              "ssl.certfile": "certfile", "ssl.keyfile": "keyfile"}


def client_kwargs(bootstrap_servers: str, properties: Mapping[str, str]) -> dict[str, Any]:
    """aiokafka keyword arguments shared by consumers, producers and admin clients."""
    kwargs: dict[str, Any] = {"bootstrap_servers": bootstrap_servers.split(",")}
    for key, value in properties.items():
        if key in _PASS_THROUGH:
            name, convert = _PASS_THROUGH[key]
            kwargs[name] = convert(value)
    ssl_files = {arg: properties[key] for key, arg in _SSL_FILES.items() if key in properties}
    if ssl_files or kwargs.get("security_protocol", "").upper().endswith("SSL"):
        from aiokafka.helpers import create_ssl_context

        kwargs["ssl_context"] = create_ssl_context(**ssl_files)
    return kwargs


def _only(table: Mapping[str, tuple[str, Any]], properties: Mapping[str, str]) -> dict[str, Any]:
    return {table[key][0]: table[key][1](value) for key, value in properties.items()
            if key in table}


def consumer_kwargs(bootstrap_servers: str, properties: Mapping[str, str]) -> dict[str, Any]:
    """``client_kwargs`` and the consumer's own settings (``fetch.*``, ``isolation.level``)."""
    return {**client_kwargs(bootstrap_servers, properties), **_only(_CONSUMER, properties)}


def producer_kwargs(bootstrap_servers: str, properties: Mapping[str, str]) -> dict[str, Any]:
    """``client_kwargs`` and the producer's own settings (``linger.ms``, ``batch.size``,
    ``compression.type``, …)."""
    return {**client_kwargs(bootstrap_servers, properties), **_only(_PRODUCER, properties)}
