"""Namespaced keyed state of every backend: per (key, window) values, merging of windows."""

from __future__ import annotations

import weir.datastream  # noqa: F401 - import order of weir
from tests.fixtures.window_functions import Mean
from weir.datastream.state import (
    AggregatingStateDescriptor,
    ListStateDescriptor,
    MapStateDescriptor,
    ReducingStateDescriptor,
    ValueStateDescriptor,
)
from weir.taskmanager.state.backend import KeyedStateBackend


def at(backend: KeyedStateBackend, key: str, namespace: str) -> KeyedStateBackend:
    backend.current_key, backend.current_namespace = key, namespace
    return backend


def test_every_kind_is_scoped_to_key_and_namespace(make_backend, backend_kind):
    backend = make_backend(backend_kind)
    value = backend.get_state("value", ValueStateDescriptor("v"), namespaced=True)
    elements = backend.get_state("list", ListStateDescriptor("l"), namespaced=True)
    mapping = backend.get_state("map", MapStateDescriptor("m"), namespaced=True)
    for key in ("a", "b"):
        for window in ("w1", "w2"):
            at(backend, key, window)
            value.update(f"{key}{window}")
            elements.add_all([key, window])
            mapping.put(window, key)
    at(backend, "a", "w2")
    assert value.value() == "aw2" and elements.get() == ["a", "w2"]
    assert dict(mapping.items()) == {"w2": "a"}
    assert set(backend.namespaced_table("v")) == {"w1", "w2"}  # table[namespace][key]
    value.clear()
    at(backend, "b", "w2")
    value.clear()
    assert set(backend.namespaced_table("v")) == {"w1"}  # an emptied namespace is dropped
    at(backend, "a", "w1")
    assert value.value() == "aw1"


def test_merging_namespaces_folds_sources_into_the_target_and_clears_them(make_backend,
                                                                         backend_kind):
    backend = make_backend(backend_kind)
    total = backend.get_state("reducing", ReducingStateDescriptor("r", lambda a, b: a + b),
                              namespaced=True)
    mean = backend.get_state("aggregating", AggregatingStateDescriptor("g", Mean()),
                             namespaced=True)
    elements = backend.get_state("list", ListStateDescriptor("l"), namespaced=True)
    for window, values in {"s1": [1, 2], "s2": [3], "s3": [10]}.items():
        at(backend, "k", window)
        for v in values:
            total.add(v)
            mean.add(v)
            elements.add(v)
    at(backend, "other", "s2")
    total.add(100)
    at(backend, "k", "s1")
    for state in (total, mean, elements):
        state.merge_namespaces("s1", ["s2", "s4"])  # s4 holds nothing
    assert (total.get(), mean.get(), sorted(elements.get())) == (6, 2.0, [1, 2, 3])
    at(backend, "k", "s2")
    assert total.get() is None and mean.get() is None and elements.get() == []
    at(backend, "other", "s2")
    assert total.get() == 100  # another key's state in the merged namespace is untouched
