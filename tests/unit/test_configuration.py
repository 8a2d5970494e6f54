"""Configuration with Flink's option keys: typed getters and setters, clear errors."""

from __future__ import annotations

import pytest

from weir.common import ConfigError, Configuration
from weir.datastream import StreamExecutionEnvironment


def test_typed_values_round_trip_under_flink_keys():
    config = (Configuration()
              .set_integer("parallelism.default", 4)
              .set_boolean("execution.checkpointing.unaligned", True)
              .set_float("taskmanager.memory.network.fraction", 0.25)
              .set_string("state.backend", "rocksdb"))
    assert config.get_integer("parallelism.default") == 4
    assert config.get_boolean("execution.checkpointing.unaligned") is True
    assert config.get_float("taskmanager.memory.network.fraction") == 0.25
    assert config.get_string("state.backend") == "rocksdb"
    # Values travel as strings in the job graph.
    assert config.to_dict() == {"parallelism.default": "4",
                                "execution.checkpointing.unaligned": "true",
                                "taskmanager.memory.network.fraction": "0.25",
                                "state.backend": "rocksdb"}


def test_missing_keys_give_the_default():
    config = Configuration()
    assert config.get_integer("parallelism.default", 1) == 1
    assert config.get_boolean("pipeline.object-reuse", False) is False
    assert config.get_float("x", 1.5) == 1.5
    assert config.get_string("state.checkpoints.dir") is None
    assert config.get_string("state.checkpoints.dir", "file:///tmp/c") == "file:///tmp/c"


def test_string_values_from_a_flink_conf_are_parsed_by_the_getters():
    config = Configuration({"parallelism.default": "8", "pipeline.object-reuse": "TRUE",
                            "a": "false", "b": "1", "c": "no", "ratio": "1e-3",
                            "state.backend.incremental": True, "taskmanager.numberOfTaskSlots": 2})
    assert config.get_integer("parallelism.default") == 8
    assert [config.get_boolean(k) for k in ("pipeline.object-reuse", "a", "b", "c")] == [
        True, False, True, False]
    assert config.get_float("ratio") == 0.001
    assert config.get_string("state.backend.incremental") == "true"
    assert config.get_integer("taskmanager.numberOfTaskSlots") == 2


@pytest.mark.parametrize(("raw", "getter", "message"), [
    ("four", "get_integer", "configuration 'k' must be an integer, got 'four'"),
    ("1.5", "get_integer", "configuration 'k' must be an integer, got '1.5'"),
    ("100 ms", "get_integer", "configuration 'k' must be an integer, got '100 ms'"),
    ("maybe", "get_boolean", "configuration 'k' must be true or false, got 'maybe'"),
    ("", "get_boolean", "configuration 'k' must be true or false, got ''"),
    ("half", "get_float", "configuration 'k' must be a number, got 'half'"),
])
def test_a_bad_value_names_its_key_and_the_expected_type(raw, getter, message):
    config = Configuration().set_string("k", raw)
    with pytest.raises(ConfigError) as error:
        getattr(config, getter)("k")
    assert str(error.value) == message
    assert isinstance(error.value, ValueError)


@pytest.mark.parametrize(("setter", "value", "message"), [
    ("set_integer", 2.7, "configuration 'k' must be set to an integer, got 2.7"),
    ("set_integer", "4", "configuration 'k' must be set to an integer, got '4'"),
    ("set_integer", True, "configuration 'k' must be set to an integer, got True"),
    ("set_float", "0.5", "configuration 'k' must be set to a number, got '0.5'"),
])
def test_a_setter_refuses_a_value_of_the_wrong_type(setter, value, message):
    config = Configuration()
    with pytest.raises(ConfigError, match=f"^{message}$"):
        getattr(config, setter)("k", value)
    assert not config.contains_key("k")


def test_keys_can_be_listed_removed_merged_and_copied():
    config = Configuration().set_string("a", "1").set_string("b", "2")
    assert config.key_set() == {"a", "b"}
    assert config.remove_config("a") is True and config.remove_config("a") is False
    copy = Configuration(config)
    copy.set_string("b", "changed")
    assert config.get_string("b") == "2"  # the copy is independent
    config.add_all(Configuration({"c": "3", "b": "3"}))
    assert config.to_dict() == {"b": "3", "c": "3"}
    config.to_dict()["c"] = "mutated"
    assert config.get_string("c") == "3"
    assert config == Configuration({"b": 3, "c": 3}) and config != copy


def test_the_environment_reads_its_settings_from_configuration():
    env = StreamExecutionEnvironment(Configuration({"parallelism.default": 3,
                                                    "pipeline.max-parallelism": 64,
                                                    "execution.buffer-timeout": 0}))
    assert (env.get_parallelism(), env.get_max_parallelism(), env.get_buffer_timeout()) == (
        3, 64, 0)
    env.set_parallelism(5)
    assert env.get_config().get_integer("parallelism.default") == 5

    broken = StreamExecutionEnvironment(Configuration({"parallelism.default": "lots"}))
    with pytest.raises(ConfigError, match="'parallelism.default' must be an integer"):
        broken.get_parallelism()
