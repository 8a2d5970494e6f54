"""The Prometheus reporter: a collector over a ``MetricRegistry`` and the HTTP endpoint that
serves it (Flink's ``PrometheusReporter``, with Flink's keys).

As in Flink, counters, gauges and meters (their per-second rate) are exported as
Prometheus gauges and histograms as summaries with quantile labels; every value is read
when Prometheus scrapes, so nothing is pushed from the tasks. Options:

- ``metrics.reporter.prom.enabled``: serve at all (``true`` unless the caller defaults off);
- ``metrics.reporter.prom.host``: the address to bind, 127.0.0.1 unless configured;
- ``metrics.reporter.prom.port``: a port or a range ``9249-9259``; each process takes the
  first free one, so a JobManager and its TaskManagers on one host all fit.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from weir.config import ConfigError
from weir.metrics.group import MetricRegistry
from weir.metrics.types import Counter, Gauge, Histogram, MeterView

if TYPE_CHECKING:
    from prometheus_client.exposition import ThreadingWSGIServer
    from prometheus_client.metrics_core import Metric as PromMetric

__all__ = ["ENABLED", "HOST", "PORT", "MetricsServer", "PrometheusReporterOptions",
           "RegistryCollector", "parse_port_range"]

ENABLED = "metrics.reporter.prom.enabled"
HOST = "metrics.reporter.prom.host"
PORT = "metrics.reporter.prom.port"
DEFAULT_PORTS = "9249-9259"


def parse_port_range(text: str, key: str = PORT) -> range:
    """``"9249"`` or ``"9249-9259"`` (inclusive) as a range; 0 lets the OS choose.

    Raises:
        ConfigError: naming ``key``, when ``text`` is neither.
    """
    first, sep, last = text.strip().partition("-")
    try:
        low = int(first)
        high = int(last) if sep else low
    except ValueError:
        raise ConfigError(f"configuration '{key}' must be a port or a range like 9249-9259, "
                          f"got {text!r}") from None
    if not 0 <= low <= high <= 65535:
        raise ConfigError(f"configuration '{key}' must be ports within 0-65535 in increasing "
                          f"order, got {text!r}")
    return range(low, high + 1)


@dataclass(frozen=True)
class PrometheusReporterOptions:
    enabled: bool
    host: str = "127.0.0.1"
    ports: range = range(9249, 9260)

    @classmethod
    def from_configuration(cls, configuration: Mapping[str, str],
                           default_enabled: bool = True) -> PrometheusReporterOptions:
        """Read the ``metrics.reporter.prom.*`` keys.

        Raises:
            ConfigError: a value that cannot be used, naming its key.
        """
        raw = configuration.get(ENABLED)
        if raw is None:
            enabled = default_enabled
        elif raw.strip().lower() in ("true", "false"):
            enabled = raw.strip().lower() == "true"
        else:
            raise ConfigError(f"configuration '{ENABLED}' must be true or false, got {raw!r}")
        host = configuration.get(HOST, "127.0.0.1").strip()
        if not host:
            raise ConfigError(f"configuration '{HOST}' must name an address to bind")
        return cls(enabled, host, parse_port_range(configuration.get(PORT, DEFAULT_PORTS)))


class RegistryCollector:
    """Turns the registry's metrics into Prometheus families, one per exported name (a
    Prometheus ``Collector``; prometheus_client loads only when a process serves metrics)."""

    def __init__(self, registry: MetricRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[PromMetric]:
        from prometheus_client.metrics_core import Metric

        families: dict[str, PromMetric] = {}

        def family_of(name: str, kind: str) -> PromMetric:
            family = families.get(name)
            if family is None:
                family = families[name] = Metric(name, name, kind)
            return family

        for entry in self._registry.snapshot():
            metric = entry.metric
            if isinstance(metric, Histogram):
                family = family_of(entry.name, "summary")
                for quantile, sample in metric.quantiles().items():
                    family.add_sample(entry.name, {**entry.labels, "quantile": str(quantile)},
                                      sample)
                family.add_sample(entry.name + "_count", entry.labels, metric.get_count())
                family.add_sample(entry.name + "_sum", entry.labels, metric.get_sum())
                continue
            value = _value(metric)
            if value is not None:
                family_of(entry.name, "gauge").add_sample(entry.name, entry.labels, value)
        yield from families.values()


def _value(metric: Any) -> float | None:
    """A number for the metric, or None for a gauge that has no (numeric) value now."""
    if isinstance(metric, Counter):
        return float(metric.get_count())
    if isinstance(metric, MeterView):
        return metric.get_rate()
    if isinstance(metric, Gauge):
        value = metric.get_value()
        if isinstance(value, bool):
            return 1.0 if value else 0.0
        if isinstance(value, int | float) and not (isinstance(value, float)
                                                   and math.isnan(value)):
            return float(value)
    return None


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not worth a log line each."""


class MetricsServer:
    """Serves ``/metrics`` (and, given ``targets``, Prometheus ``http_sd`` JSON at
    ``/targets``) on a thread, bound to ``options.host`` on the first free port of
    ``options.ports``."""

    def __init__(self, registry: MetricRegistry, options: PrometheusReporterOptions,
                 targets: Callable[[], list[dict[str, Any]]] | None = None) -> None:
        from prometheus_client import CollectorRegistry, make_wsgi_app

        self._options = options
        self._targets = targets
        prometheus = CollectorRegistry(auto_describe=False)
        prometheus.register(RegistryCollector(registry))
        self._metrics_app = make_wsgi_app(prometheus)
        self._server: ThreadingWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def host(self) -> str:
        return self._options.host

    def start(self) -> int:
        """Bind and serve; returns the port.

        Raises:
            OSError: no port of the range is free on the host.
        """
        from prometheus_client.exposition import ThreadingWSGIServer

        last_error: OSError | None = None
        for port in self._options.ports:
            try:
                self._server = make_server(self._options.host, port, self._app,
                                           ThreadingWSGIServer, handler_class=_QuietHandler)
                break
            except OSError as error:
                last_error = error
        if self._server is None:
            ports = self._options.ports
            raise OSError(f"cannot serve metrics on {self._options.host} ports "
                          f"{ports.start}-{ports.stop - 1} ({PORT}): {last_error}")
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="weir-metrics", daemon=True)
        self._thread.start()
        return self.port

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") == "/targets" and self._targets is not None:
            body = json.dumps(self._targets()).encode()
            start_response("200 OK", [("Content-Type", "application/json"),
                                      ("Content-Length", str(len(body)))])
            return [body]
        return self._metrics_app(environ, start_response)
