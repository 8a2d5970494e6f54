"""Scoped metric groups and the registry they register into (Flink's ``MetricGroup`` and
``MetricRegistry``).

A group has a *logical scope* — the kinds of groups above it, e.g. ``taskmanager``,
``job``, ``task``, ``operator`` — and *variables* that say which one it is (``job_id``,
``task_name``, ``subtask_index``, …). A reporter names a metric after the scope and exports
the variables as labels, as Flink's Prometheus reporter does: the operator counter
``numRecordsIn`` becomes ``weir_taskmanager_job_task_operator_numRecordsIn{job_id=…}``.

Groups are created and closed on the owner's thread (a task's event loop); the registry
takes a lock for that and for a reporter's snapshot, never on an update.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from typing import TypeVar

from weir.metrics.types import Counter, Distribution, Gauge, Histogram, Meter, Metric

__all__ = ["MetricGroup", "MetricRegistry", "RegisteredMetric", "metric_name"]

M = TypeVar("M", bound=Metric)
_INVALID = re.compile(r"[^a-zA-Z0-9_:]")


def metric_name(prefix: str, scope: tuple[str, ...], name: str) -> str:
    """The exported name: prefix, logical scope and name joined by ``_``, every character
    Prometheus does not allow replaced by ``_`` (``records-lag-max`` → ``records_lag_max``)."""
    return _INVALID.sub("_", "_".join((prefix, *scope, name)))


class RegisteredMetric:
    """One metric as a reporter sees it: its name, labels and the metric itself."""

    __slots__ = ("labels", "metric", "name")

    def __init__(self, name: str, labels: dict[str, str], metric: Metric) -> None:
        self.name = name
        self.labels = labels
        self.metric = metric


class MetricRegistry:
    """Every metric registered in one process; reporters read ``snapshot()``."""

    def __init__(self, prefix: str = "weir") -> None:
        self.prefix = prefix
        self._lock = threading.Lock()
        self._metrics: dict[tuple[str, tuple[tuple[str, str], ...]], RegisteredMetric] = {}

    def register(self, scope: tuple[str, ...], variables: Mapping[str, str], name: str,
                 metric: Metric) -> tuple[str, tuple[tuple[str, str], ...]]:
        """Add ``metric``; one registered under the same name and labels is replaced (a
        restarted task's metric takes over from the attempt before it). Returns its key."""
        exported = metric_name(self.prefix, scope, name)
        labels = tuple(sorted(variables.items()))
        key = (exported, labels)
        with self._lock:
            self._metrics[key] = RegisteredMetric(exported, dict(labels), metric)
        return key

    def unregister(self, keys: list[tuple[str, tuple[tuple[str, str], ...]]],
                   metrics: list[Metric]) -> None:
        """Remove these metrics, unless another took their key since."""
        with self._lock:
            for key, metric in zip(keys, metrics):
                current = self._metrics.get(key)
                if current is not None and current.metric is metric:
                    del self._metrics[key]

    def snapshot(self) -> list[RegisteredMetric]:
        with self._lock:
            return list(self._metrics.values())


class MetricGroup:
    """A named container of metrics and subgroups (PyFlink's ``pyflink.metrics.MetricGroup``).

    Without a registry (``MetricGroup.unregistered()``) metrics work but go nowhere, as
    Flink's ``UnregisteredMetricsGroup``: operators need not check whether metrics are on.
    """

    def __init__(self, registry: MetricRegistry | None, scope: tuple[str, ...] = (),
                 variables: Mapping[str, str] | None = None,
                 parent: MetricGroup | None = None) -> None:
        self._registry = registry
        self._parent = parent
        self.scope = scope
        self.variables = dict(variables or {})
        self._keys: list[tuple[str, tuple[tuple[str, str], ...]]] = []
        self._metrics: list[Metric] = []
        self._children: list[MetricGroup] = []
        self._closed = False

    @classmethod
    def unregistered(cls) -> MetricGroup:
        return cls(None)

    def add_group(self, name: str, extra: str | None = None) -> MetricGroup:
        """A subgroup ``name``; with ``extra``, a key-value group: ``name`` joins the scope
        and ``name=extra`` becomes a label (Flink's ``addGroup(key, value)``)."""
        variables = dict(self.variables)
        if extra is not None:
            variables[name] = str(extra)
        return self.add_scoped_group(name, variables)

    def add_scoped_group(self, scope: str, variables: Mapping[str, str]) -> MetricGroup:
        """A subgroup with scope component ``scope`` and exactly these ``variables`` (the
        runtime's job, task and operator groups)."""
        child = MetricGroup(self._registry, (*self.scope, scope), variables, self)
        self._children.append(child)
        return child

    def counter(self, name: str) -> Counter:
        return self._register(name, Counter())

    def gauge(self, name: str, obj: Callable[[], float | int | bool | None]) -> Gauge:
        return self._register(name, Gauge(obj))

    def meter(self, name: str, time_span_in_seconds: int = 60) -> Meter:
        return self._register(name, Meter(time_span_in_seconds))

    def distribution(self, name: str) -> Distribution:
        return self._register(name, Distribution())

    def histogram(self, name: str, window_size: int = 1024) -> Histogram:
        return self._register(name, Histogram(window_size))

    def register(self, name: str, metric: Metric) -> Metric:
        """Register a metric made elsewhere (a ``MeterView`` over a runtime count)."""
        return self._register(name, metric)

    def _register(self, name: str, metric: M) -> M:
        if self._registry is not None and not self._closed:
            self._keys.append(self._registry.register(self.scope, self.variables, name, metric))
            self._metrics.append(metric)
        return metric

    def close(self) -> None:
        """Unregister this group's metrics and its subgroups' (the task or job ended)."""
        if self._closed:
            return
        self._closed = True
        for child in list(self._children):
            child.close()
        if self._parent is not None and self in self._parent._children:
            self._parent._children.remove(self)
        if self._registry is not None:
            self._registry.unregister(self._keys, self._metrics)
        self._keys.clear()
        self._metrics.clear()
