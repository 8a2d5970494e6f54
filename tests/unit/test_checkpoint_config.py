"""Checkpointing settings: PyFlink's ``CheckpointConfig`` writes Flink's keys into the
environment's configuration, ``checkpoint_settings`` reads them the way the JobManager will,
and durations use Flink's syntax."""

from __future__ import annotations

import pytest

from weir.checkpoint import CheckpointSettings, checkpoint_settings
from weir.common import ConfigError, Configuration
from weir.config import parse_duration_ms
from weir.datastream import CheckpointingMode, StreamExecutionEnvironment


def settings_of(env: StreamExecutionEnvironment) -> CheckpointSettings:
    """What the JobManager will see: the configuration that travels in the job graph."""
    return checkpoint_settings(env.get_config().to_dict())


@pytest.mark.parametrize(("text", "millis"), [
    ("1 s", 1000), ("500 ms", 500), ("10s", 10_000), ("1 min", 60_000), ("2 h", 7_200_000),
    ("250", 250), ("1 d", 86_400_000), ("3 minutes", 180_000), (" 5  s ", 5000),
    ("1MIN", 60_000), ("2m", 120_000), ("7 seconds", 7000), ("1500 us", 1), ("0", 0),
])
def test_durations_in_flink_syntax(text: str, millis: int) -> None:
    assert parse_duration_ms(text) == millis


@pytest.mark.parametrize("text", ["", "1.5 s", "-1 s", "10 parsecs", "s", "1 s 2 ms"])
def test_malformed_durations_name_the_key(text: str) -> None:
    with pytest.raises(ConfigError, match=r"'execution.checkpointing.timeout' must be a duration"):
        parse_duration_ms(text, "execution.checkpointing.timeout")


def test_checkpointing_is_off_by_default_with_flinks_defaults() -> None:
    env = StreamExecutionEnvironment()
    config = env.get_checkpoint_config()
    assert not config.is_checkpointing_enabled()
    assert env.get_checkpoint_interval() == -1
    assert env.get_checkpointing_mode() is CheckpointingMode.EXACTLY_ONCE
    assert config.get_checkpoint_timeout() == 10 * 60 * 1000
    assert config.get_min_pause_between_checkpoints() == 0
    assert config.get_max_concurrent_checkpoints() == 1
    assert config.get_tolerable_checkpoint_failure_number() == 0
    assert config.get_checkpoint_storage_dir() is None
    assert checkpoint_settings({}) == CheckpointSettings(
        interval_ms=None, mode=CheckpointingMode.EXACTLY_ONCE, timeout_ms=600_000,
        min_pause_ms=0, max_concurrent=1, tolerable_failures=0, dir=None, num_retained=1)
    assert not checkpoint_settings({}).enabled


def test_enable_checkpointing_writes_flink_keys() -> None:
    env = StreamExecutionEnvironment()
    assert env.enable_checkpointing(500) is env
    assert env.get_config().to_dict() == {"execution.checkpointing.interval": "500 ms"}
    assert settings_of(env).interval_ms == 500
    assert settings_of(env).mode is CheckpointingMode.EXACTLY_ONCE
    env.enable_checkpointing(200, CheckpointingMode.AT_LEAST_ONCE)
    assert env.get_config().get_string("execution.checkpointing.mode") == "AT_LEAST_ONCE"
    assert settings_of(env).mode is CheckpointingMode.AT_LEAST_ONCE
    assert env.get_checkpoint_config().is_checkpointing_enabled()
    assert env.get_checkpoint_interval() == 200


def test_every_setter_travels_in_the_configuration(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = StreamExecutionEnvironment()
    config = env.get_checkpoint_config()
    config.set_checkpoint_interval(1000)
    config.set_checkpointing_mode(CheckpointingMode.AT_LEAST_ONCE)
    config.set_checkpoint_timeout(30_000)
    config.set_min_pause_between_checkpoints(250)
    config.set_max_concurrent_checkpoints(2)
    config.set_tolerable_checkpoint_failure_number(3)
    config.set_checkpoint_storage_dir(str(tmp_path / "chk"))
    assert env.get_config().to_dict() == {
        "execution.checkpointing.interval": "1000 ms",
        "execution.checkpointing.mode": "AT_LEAST_ONCE",
        "execution.checkpointing.timeout": "30000 ms",
        "execution.checkpointing.min-pause": "250 ms",
        "execution.checkpointing.max-concurrent-checkpoints": "2",
        "execution.checkpointing.tolerable-failed-checkpoints": "3",
        "state.checkpoints.dir": f"file://{tmp_path}/chk",
    }
    assert settings_of(env) == CheckpointSettings(
        interval_ms=1000, mode=CheckpointingMode.AT_LEAST_ONCE, timeout_ms=30_000,
        min_pause_ms=250, max_concurrent=2, tolerable_failures=3, dir=f"file://{tmp_path}/chk",
        num_retained=1)
    assert config.get_checkpoint_interval() == 1000
    assert config.get_checkpoint_timeout() == 30_000
    assert config.get_min_pause_between_checkpoints() == 250
    assert config.get_max_concurrent_checkpoints() == 2
    assert config.get_tolerable_checkpoint_failure_number() == 3
    assert config.get_checkpoint_storage_dir() == f"file://{tmp_path}/chk"
    config.set_checkpoint_storage_dir("s3://bucket/checkpoints/")
    assert settings_of(env).dir == "s3://bucket/checkpoints"


def test_a_flink_configuration_given_to_the_environment_is_read_in_its_syntax() -> None:
    env = StreamExecutionEnvironment.get_execution_environment(Configuration({
        "execution.checkpointing.interval": "10 s", "execution.checkpointing.mode": "at-least-once",
        "execution.checkpointing.timeout": "1 min", "execution.checkpointing.min-pause": "500",
        "state.checkpoints.dir": "s3://bucket/chk", "state.checkpoints.num-retained": "3",
        "state.savepoints.dir": "file:///tmp/savepoints"}))
    assert env.get_checkpoint_interval() == 10_000
    assert env.get_checkpointing_mode() is CheckpointingMode.AT_LEAST_ONCE
    assert env.get_checkpoint_config().get_checkpoint_timeout() == 60_000
    settings = settings_of(env)
    assert (settings.min_pause_ms, settings.num_retained) == (500, 3)
    assert (settings.dir, settings.savepoint_dir) == ("s3://bucket/chk", "file:///tmp/savepoints")


@pytest.mark.parametrize(("key", "value", "message"), [
    ("execution.checkpointing.interval", "5 ms", "must be at least 10 ms"),
    ("execution.checkpointing.interval", "often", "must be a duration"),
    ("execution.checkpointing.mode", "MAYBE_ONCE", "must be EXACTLY_ONCE or AT_LEAST_ONCE"),
    ("execution.checkpointing.timeout", "0", "must be at least 10 ms"),
    ("execution.checkpointing.max-concurrent-checkpoints", "0", "must be at least 1"),
    ("execution.checkpointing.tolerable-failed-checkpoints", "-1", "must be at least 0"),
    ("execution.checkpointing.tolerable-failed-checkpoints", "many", "must be an integer"),
    ("state.checkpoints.num-retained", "0", "must be at least 1"),
    ("state.checkpoints.dir", "hdfs://nn/chk", "unsupported scheme 'hdfs'"),
    ("state.checkpoints.dir", "s3:///chk", "names no bucket"),
])
def test_unusable_values_raise_config_error_naming_the_key(key: str, value: str,
                                                           message: str) -> None:
    with pytest.raises(ConfigError, match=rf"'{key}'.*{message}"):
        checkpoint_settings({key: value})


def test_setters_reject_unusable_values_at_once() -> None:
    config = StreamExecutionEnvironment().get_checkpoint_config()
    with pytest.raises(ValueError, match="interval must be at least 10 ms"):
        config.set_checkpoint_interval(5)
    with pytest.raises(ValueError, match="max-concurrent-checkpoints must be at least 1"):
        config.set_max_concurrent_checkpoints(0)
    with pytest.raises(TypeError, match="must be an int"):
        config.set_checkpoint_timeout(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="CheckpointingMode.EXACTLY_ONCE"):
        config.set_checkpointing_mode("EXACTLY_ONCE")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unsupported scheme 'ftp'"):
        config.set_checkpoint_storage_dir("ftp://host/chk")
    assert not config.is_checkpointing_enabled()
