"""One keyed state suite over every backend (heap and RocksDB): every state kind, TTL,
timers, snapshot and restore (also across backends and key-group ranges)."""

from __future__ import annotations

import os
import pickle

import pytest

import weir.datastream  # noqa: F401 - import order of weir
from tests.fixtures.operator_harness import ManualClock
from tests.fixtures.state_backends import BACKENDS
from tests.fixtures.window_functions import Mean
from weir.common import Time
from weir.datastream import (
    EmbeddedRocksDBStateBackend,
    HashMapStateBackend,
    StreamExecutionEnvironment,
)
from weir.datastream.state import (
    AggregatingStateDescriptor,
    ListStateDescriptor,
    MapStateDescriptor,
    ReducingStateDescriptor,
    StateTtlConfig,
    ValueStateDescriptor,
)
from weir.taskmanager.state.backend import KeyedStateBackend
from weir.taskmanager.state.factory import create_keyed_state_backend
from weir.taskmanager.state.rocksdb import StateBackendError

KEYS = [f"user-{i}" for i in range(40)] + list(range(40))


def states(backend: KeyedStateBackend) -> dict[str, object]:
    return {
        "value": backend.get_state("value", ValueStateDescriptor("value")),
        "list": backend.get_state("list", ListStateDescriptor("list")),
        "map": backend.get_state("map", MapStateDescriptor("map")),
        "reducing": backend.get_state("reducing",
                                      ReducingStateDescriptor("reducing", lambda a, b: a + b)),
        "aggregating": backend.get_state("aggregating", AggregatingStateDescriptor("agg", Mean())),
        "window": backend.get_state("list", ListStateDescriptor("panes"), namespaced=True),
    }


def fill(backend: KeyedStateBackend) -> None:
    s = states(backend)
    for n, key in enumerate(KEYS):
        backend.current_key = key
        s["value"].update(f"v{n}")
        s["list"].add_all([n, n + 1])
        s["map"].put("n", n)
        s["map"].put(("k", n % 3), [n])
        for v in (n, n + 2):
            s["reducing"].add(v)
            s["aggregating"].add(v)
        for window in ("w1", "w2"):
            backend.current_namespace = window
            s["window"].add((window, n))
    backend.keyed_table("reduce").update({key: len(str(key)) for key in KEYS})
    timers = backend.timer_queue("event-timers")
    for n, key in enumerate(KEYS):
        timers.register(key, 1000 + n % 5)


def answers(backend: KeyedStateBackend, keys: list = KEYS) -> dict:
    s = states(backend)
    found = {}
    for key in keys:
        backend.current_key = key
        per_window = {}
        for window in ("w1", "w2"):
            backend.current_namespace = window
            per_window[window] = s["window"].get()
        found[key] = (s["value"].value(), s["list"].get(), sorted(s["map"].items(), key=repr),
                      s["reducing"].get(), s["aggregating"].get(), per_window,
                      backend.keyed_table("reduce").get(key))
    timers = backend.timer_queue("event-timers")
    found["timers"] = sorted(timers.snapshot(), key=repr)
    return found


def test_every_state_kind_is_scoped_to_the_current_key(make_backend, backend_kind):
    backend = make_backend(backend_kind)
    fill(backend)
    got = answers(backend, ["user-3", 7])
    assert got["user-3"] == ("v3", [3, 4], [("n", 3), (("k", 0), [3])], 8, 4.0,
                             {"w1": [("w1", 3)], "w2": [("w2", 3)]}, 6)
    assert got[7][0] == "v47" and got[7][3] == 47 + 49
    s = states(backend)
    backend.current_key = "user-3"
    s["map"].remove("n")
    s["list"].update([])
    s["value"].clear()
    assert (list(s["map"].keys()), s["list"].get(), s["value"].value()) == ([("k", 0)], [], None)
    assert s["map"].contains(("k", 0)) and not s["map"].contains("n")
    s["map"].remove(("k", 0))
    assert s["map"].is_empty()


@pytest.mark.parametrize("target_kind", BACKENDS)
def test_snapshot_restores_the_same_answers_on_either_backend(make_backend, backend_kind,
                                                              target_kind):
    source = make_backend(backend_kind)
    fill(source)
    expected = answers(source)
    snapshot = pickle.loads(pickle.dumps(source.snapshot()))  # as a checkpoint stores it
    target = make_backend(target_kind)
    target.timer_queue("event-timers")
    target.restore([snapshot])
    assert answers(target) == expected


def test_a_small_rocksdb_write_buffer_flushes_without_changing_answers(make_backend):
    reference = make_backend("hashmap")
    fill(reference)
    backend = make_backend("rocksdb", **{"state.backend.rocksdb.cache.entries": "3"})
    fill(backend)
    assert answers(backend) == answers(reference)
    target = make_backend("hashmap")
    target.timer_queue("event-timers")
    target.restore([pickle.loads(pickle.dumps(backend.snapshot()))])
    assert answers(target) == answers(reference)


def test_the_rocksdb_write_buffer_size_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="'state.backend.rocksdb.cache.entries' must be"):
        create_keyed_state_backend({"state.backend": "rocksdb",
                                    "state.backend.rocksdb.localdir": str(tmp_path),
                                    "state.backend.rocksdb.cache.entries": "0"},
                                   "op", lambda: 0, 0, 1, 128)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("target_kind", BACKENDS)
def test_restore_takes_only_the_key_groups_of_the_subtask(make_backend, backend_kind,
                                                          target_kind):
    source = make_backend(backend_kind, max_parallelism=16)
    fill(source)
    expected = answers(source)
    snapshot = pickle.loads(pickle.dumps(source.snapshot()))
    halves = []
    for subtask in (0, 1):
        target = make_backend(target_kind, subtask=subtask, parallelism=2, max_parallelism=16)
        target.timer_queue("event-timers")
        target.restore([snapshot])
        owned = [key for key in KEYS if target.key_group_of(key) in target.key_groups]
        got = answers(target, owned)
        assert {k: v for k, v in got.items() if k != "timers"} == {k: expected[k] for k in owned}
        halves.append((owned, got["timers"]))
    assert sorted(halves[0][0] + halves[1][0], key=repr) == sorted(KEYS, key=repr)
    assert sorted(halves[0][1] + halves[1][1], key=repr) == expected["timers"]


def ttl_state(backend: KeyedStateBackend, kind: str, update_type=None, visibility=None):
    builder = StateTtlConfig.new_builder(Time.seconds(10))
    if update_type is not None:
        builder.set_update_type(update_type)
    if visibility is not None:
        builder.set_state_visibility(visibility)
    descriptors = {"value": ValueStateDescriptor("v"), "map": MapStateDescriptor("m"),
                   "list": ListStateDescriptor("l")}
    descriptor = descriptors[kind]
    descriptor.enable_time_to_live(builder.build())
    return backend.get_state(kind, descriptor)


def test_ttl_hides_expired_state_and_refreshes_on_write(make_backend, backend_kind):
    clock = ManualClock(0)
    backend = make_backend(backend_kind, clock=clock)
    value, mapping = ttl_state(backend, "value"), ttl_state(backend, "map")
    backend.current_key = "k"
    value.update(1)
    mapping.put("a", 1)
    clock.now_ms = 9_000
    mapping.put("b", 2)
    assert value.value() == 1  # a read does not refresh OnCreateAndWrite
    clock.now_ms = 10_000
    assert value.value() is None and dict(mapping.items()) == {"b": 2}
    clock.now_ms = 19_000
    assert mapping.get("b") is None


def test_ttl_on_read_and_write_refreshes_on_read(make_backend, backend_kind):
    clock = ManualClock(0)
    backend = make_backend(backend_kind, clock=clock)
    value = ttl_state(backend, "value", StateTtlConfig.UpdateType.OnReadAndWrite)
    mapping = ttl_state(backend, "map", StateTtlConfig.UpdateType.OnReadAndWrite)
    backend.current_key = "k"
    value.update(1)
    mapping.put("a", 1)
    clock.now_ms = 9_000
    assert value.value() == 1 and mapping.get("a") == 1
    clock.now_ms = 18_000
    assert value.value() == 1 and mapping.get("a") == 1


def test_ttl_return_expired_if_not_cleaned_up_returns_it_once(make_backend, backend_kind):
    clock = ManualClock(0)
    backend = make_backend(backend_kind, clock=clock)
    value = ttl_state(backend, "value",
                      visibility=StateTtlConfig.StateVisibility.ReturnExpiredIfNotCleanedUp)
    backend.current_key = "k"
    value.update(1)
    clock.now_ms = 10_000
    assert value.value() == 1  # expired, not cleaned up yet: returned, and cleaned up
    assert value.value() is None


def test_ttl_survives_a_snapshot_across_backends(make_backend, backend_kind):
    clock = ManualClock(0)
    source = make_backend(backend_kind, clock=clock)
    source.current_key = "k"
    ttl_state(source, "value").update(5)
    snapshot = pickle.loads(pickle.dumps(source.snapshot()))
    for kind in BACKENDS:
        target = make_backend(kind, clock=clock)
        target.restore([snapshot])
        target.current_key = "k"
        clock.now_ms = 9_999
        assert ttl_state(target, "value").value() == 5
        clock.now_ms = 10_000
        assert ttl_state(target, "value").value() is None
        clock.now_ms = 0


def test_a_state_name_keeps_its_kind(make_backend, backend_kind):
    backend = make_backend(backend_kind)
    backend.get_state("value", ValueStateDescriptor("s"))
    with pytest.raises(ValueError, match="registered as value state per key"):
        backend.get_state("list", ListStateDescriptor("s"))


def test_rocksdb_uses_a_fresh_directory_per_backend_and_deletes_it(tmp_path):
    configuration = {"state.backend": "rocksdb", "state.backend.rocksdb.localdir": str(tmp_path)}
    first = create_keyed_state_backend(configuration, "op", lambda: 0, 0, 1, 128)
    first.keyed_table("t")["k"] = 1
    second = create_keyed_state_backend(configuration, "op", lambda: 0, 0, 1, 128)
    assert second.keyed_table("t").get("k") is None  # a new attempt never sees old files
    [working_directory] = tmp_path.iterdir()  # this process's
    assert working_directory.name.startswith("weir-taskmanager-")
    assert len(os.listdir(working_directory)) == 5  # the lock; per backend: state, timers
    first.dispose()
    second.dispose()
    assert os.listdir(working_directory) == [".lock"]


def test_an_unwritable_rocksdb_directory_fails_with_the_key_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    configuration = {"state.backend": "rocksdb",
                     "state.backend.rocksdb.localdir": str(blocker / "sub")}
    with pytest.raises(StateBackendError, match=r"^state.backend.rocksdb.localdir: cannot"):
        create_keyed_state_backend(configuration, "op", lambda: 0, 0, 1, 128)


def test_an_unknown_backend_is_refused(tmp_path):
    with pytest.raises(ValueError, match="'state.backend' must be 'hashmap' or 'rocksdb'"):
        create_keyed_state_backend({"state.backend": "memory"}, "op", lambda: 0, 0, 1, 128)


def cleanup_config(builder_step) -> StateTtlConfig:
    builder = StateTtlConfig.new_builder(Time.seconds(10)).disable_cleanup_in_background()
    return builder_step(builder).build()


def stored_keys(backend: KeyedStateBackend) -> set:
    return {entry[2] for entries in backend.snapshot().entries.values() for entry in entries}


def test_cleanup_full_snapshot_leaves_expired_entries_out(make_backend, backend_kind):
    clock = ManualClock(0)
    backend = make_backend(backend_kind, clock=clock)
    descriptor = ValueStateDescriptor("v")
    descriptor.enable_time_to_live(cleanup_config(lambda b: b.cleanup_full_snapshot()))
    mapping = MapStateDescriptor("m")
    mapping.enable_time_to_live(cleanup_config(lambda b: b.cleanup_full_snapshot()))
    value, entries = backend.get_state("value", descriptor), backend.get_state("map", mapping)
    for key in ("old", "new"):
        backend.current_key = key
        value.update(key)
        entries.put("a", 1)
        clock.now_ms = 5_000
        entries.put("b", 2)
    clock.now_ms = 12_000  # what was written at 0 expired: "old"'s value and its "a"
    snapshot = backend.snapshot()
    kept = {(e[0], e[2]): e[3] for group in snapshot.entries.values() for e in group}
    assert sorted(kept) == [("m", "new"), ("m", "old"), ("v", "new")]
    assert set(kept["m", "old"]) == {"b"} and set(kept["m", "new"]) == {"a", "b"}


def test_cleanup_incrementally_drops_expired_entries_on_access(make_backend):
    clock = ManualClock(0)
    backend = make_backend("hashmap", clock=clock)
    descriptor = ValueStateDescriptor("v")
    descriptor.enable_time_to_live(cleanup_config(lambda b: b.cleanup_incrementally(10, False)))
    value = backend.get_state("value", descriptor)
    for n in range(30):
        backend.current_key = n
        value.update(n)
    clock.now_ms = 10_000
    backend.current_key = "fresh"
    value.update(1)  # each access checks the next 10 keys
    assert len(stored_keys(backend)) == 31 - 10
    for _ in range(6):  # a whole round over the keys
        value.value()
    assert stored_keys(backend) == {"fresh"}
    backend.cleanup_for_records(0)
    assert not backend.cleans_up_per_record


def test_cleanup_for_every_record_runs_per_batch(make_backend):
    clock = ManualClock(0)
    backend = make_backend("hashmap", clock=clock)
    descriptor = ValueStateDescriptor("v")
    descriptor.enable_time_to_live(cleanup_config(lambda b: b.cleanup_incrementally(2, True)))
    value = backend.get_state("value", descriptor)
    for n in range(10):
        backend.current_key = n
        value.update(n)
    clock.now_ms = 10_000
    assert backend.cleans_up_per_record
    backend.cleanup_for_records(3)  # 3 records × 2 keys
    assert len(stored_keys(backend)) == 4


def test_rocksdb_cleans_up_expired_entries_in_the_background(make_backend):
    clock = ManualClock(0)
    backend = make_backend("rocksdb", clock=clock)
    descriptor = MapStateDescriptor("m")
    descriptor.enable_time_to_live(
        cleanup_config(lambda b: b.cleanup_in_rocksdb_compact_filter(5)))
    entries = backend.get_state("map", descriptor)
    for n in range(5):
        backend.current_key = n
        entries.put("x", n)  # the fifth write runs a cleanup pass over 5 keys: none expired
    assert len(stored_keys(backend)) == 5
    clock.now_ms = 10_000
    backend.current_key = "fresh"
    for n in range(10):
        entries.put(n, n)  # every fifth write scans the next 5 keys, drops the expired ones
    assert stored_keys(backend) == {"fresh"}


def test_cleanup_strategies_are_described_as_in_pyflink():
    config = (StateTtlConfig.new_builder(Time.days(7))
              .set_update_type(StateTtlConfig.UpdateType.OnReadAndWrite)
              .set_state_visibility(StateTtlConfig.StateVisibility.ReturnExpiredIfNotCleanedUp)
              .cleanup_full_snapshot().cleanup_incrementally(10, True)
              .cleanup_in_rocksdb_compact_filter(1000).build())
    strategies = config.get_cleanup_strategies()
    assert config.ttl_ms == 7 * 86_400_000 and strategies.in_full_snapshot()
    incremental = strategies.get_incremental_cleanup_strategy()
    assert (incremental.get_cleanup_size(), incremental.run_cleanup_for_every_record()) == \
        (10, True)
    assert strategies.get_rocksdb_compact_filter_cleanup_strategy() \
        .get_query_time_after_num_entries() == 1000
    bare = StateTtlConfig.new_builder(Time.days(1)).disable_cleanup_in_background().build()
    assert not bare.get_cleanup_strategies().is_cleanup_in_background()
    with pytest.raises(ValueError, match="cleanup_size must be positive"):
        StateTtlConfig.new_builder(Time.days(1)).cleanup_incrementally(0, False)


def test_the_user_api_selects_the_backend_as_pyflink_does():
    env = StreamExecutionEnvironment.get_execution_environment()
    assert isinstance(env.get_state_backend(), HashMapStateBackend)
    rocksdb = EmbeddedRocksDBStateBackend(enable_incremental_checkpointing=True)
    rocksdb.set_db_storage_paths("/data/a", "/data/b")
    env.set_state_backend(rocksdb)
    config = env.get_config()
    assert (config.get_string("state.backend"), config.get_string("state.backend.incremental"),
            config.get_string("state.backend.rocksdb.localdir")) == \
        ("rocksdb", "true", "/data/a,/data/b")
    chosen = env.get_state_backend()
    assert isinstance(chosen, EmbeddedRocksDBStateBackend)
    assert chosen.is_incremental_checkpoints_enabled()
    assert chosen.get_db_storage_paths() == ["/data/a", "/data/b"]
    env.set_state_backend(HashMapStateBackend())
    assert config.get_string("state.backend") == "hashmap"
    assert config.get_string("state.backend.rocksdb.localdir") is None
    with pytest.raises(TypeError, match="set_state_backend"):
        env.set_state_backend("rocksdb")


def test_rocksdb_directories_are_taken_in_turn_by_subtasks(tmp_path):
    configuration = {"state.backend": "rocksdb",
                     "state.backend.rocksdb.localdir": f"{tmp_path / 'a'}, {tmp_path / 'b'}"}
    backends = [create_keyed_state_backend(configuration, "op", lambda: 0, i, 2, 128)
                for i in range(2)]
    assert sorted(os.listdir(tmp_path)) == ["a", "b"]
    for localdir in ("a", "b"):  # in this process's working directory there: state, timers
        [working_directory] = (tmp_path / localdir).iterdir()
        names = os.listdir(working_directory)
        assert ".lock" in names and len(names) == 3
    for backend in backends:
        backend.dispose()


def test_keyed_state_of_another_format_is_refused_clearly(make_backend, backend_kind):
    with pytest.raises(TypeError, match="cannot restore keyed state from a dict"):
        make_backend(backend_kind).restore([{"keyed": {}}])
