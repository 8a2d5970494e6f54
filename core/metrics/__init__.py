"""Metrics as in PyFlink's ``pyflink.metrics``: a user function registers them on
``get_runtime_context().get_metrics_group()``; the runtime registers Flink's own metrics
on the same scoped groups, and the Prometheus reporter (``weir.metrics.prometheus``)
exports them all."""

from weir.metrics.group import MetricGroup
from weir.metrics.types import Counter, Distribution, Gauge, Histogram, Meter, Metric

__all__ = ["Counter", "Distribution", "Gauge", "Histogram", "Meter", "Metric", "MetricGroup"]
