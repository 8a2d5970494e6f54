"""Restart strategies against Flink's documented behaviour, on an injected clock and random
source; and PyFlink's ``RestartStrategies`` API writing Flink's keys."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from weir.common import ConfigError, RestartStrategies
from weir.common.restart_strategy import (
    UNLIMITED,
    ExponentialDelayRestartStrategyConfiguration,
    FallbackRestartStrategyConfiguration,
    FixedDelayRestartStrategyConfiguration,
    NoRestartStrategyConfiguration,
    restart_strategy_configuration,
)
from weir.datastream import StreamExecutionEnvironment
from weir.jobmanager.restart_strategy import (
    ExponentialDelayRestartStrategy,
    FailureRateRestartStrategy,
    FixedDelayRestartStrategy,
    NoRestartStrategy,
    restart_strategy_from_configuration,
)


def delays(config: dict[str, str], failure_times: list[float],
           seed: int = 0) -> list[float | None]:
    strategy = restart_strategy_from_configuration(config, random.Random(seed))
    return [strategy.on_failure(t) for t in failure_times]


# ------------------------------------------------------------------ defaults


def test_without_a_type_jobs_restart_only_when_checkpointing_is_on() -> None:
    assert isinstance(restart_strategy_from_configuration({}), NoRestartStrategy)
    assert delays({}, [0.0]) == [None]
    # Checkpointing on: fixed-delay, unlimited attempts, 1 s apart.
    with_checkpoints = {"execution.checkpointing.interval": "10 s"}
    assert restart_strategy_configuration(with_checkpoints) == \
        FixedDelayRestartStrategyConfiguration(UNLIMITED, 1000)
    assert delays(with_checkpoints, [float(t) for t in range(1000)]) == [1.0] * 1000


@pytest.mark.parametrize("name", ["none", "off", "disable", "NONE", " Off "])
def test_none_never_restarts(name: str) -> None:
    config = {"restart-strategy.type": name, "execution.checkpointing.interval": "1 s"}
    assert delays(config, [0.0, 100.0]) == [None, None]


# --------------------------------------------------------------- fixed-delay


def test_fixed_delay_defaults_to_one_attempt_after_one_second() -> None:
    assert delays({"restart-strategy.type": "fixed-delay"}, [0.0, 50.0]) == [1.0, None]


def test_fixed_delay_counts_attempts_over_the_jobs_life() -> None:
    config = {"restart-strategy.type": "fixeddelay", "restart-strategy.fixed-delay.attempts": "3",
              "restart-strategy.fixed-delay.delay": "10 s"}
    assert delays(config, [0.0, 1000.0, 5000.0, 90000.0]) == [10.0, 10.0, 10.0, None]
    zero = {"restart-strategy.type": "fixed-delay", "restart-strategy.fixed-delay.attempts": "0"}
    assert delays(zero, [0.0]) == [None]


# -------------------------------------------------------------- failure-rate


def test_failure_rate_fails_the_job_on_one_failure_more_than_allowed_per_interval() -> None:
    config = {"restart-strategy.type": "failure-rate",
              "restart-strategy.failure-rate.max-failures-per-interval": "3",
              "restart-strategy.failure-rate.failure-rate-interval": "5 min",
              "restart-strategy.failure-rate.delay": "2 s"}
    assert delays(config, [0.0, 10.0, 20.0, 30.0]) == [2.0, 2.0, 2.0, None]
    # Four failures spread over more than the interval: the oldest has left the window.
    assert delays(config, [0.0, 100.0, 200.0, 301.0, 302.0]) == [2.0, 2.0, 2.0, 2.0, None]


def test_failure_rate_defaults_allow_one_failure_per_minute_one_second_apart() -> None:
    config = {"restart-strategy.type": "failurerate"}
    assert delays(config, [0.0, 30.0]) == [1.0, None]
    assert delays(config, [0.0, 61.0, 122.0]) == [1.0, 1.0, 1.0]
    assert isinstance(restart_strategy_from_configuration(config), FailureRateRestartStrategy)


# --------------------------------------------------------- exponential-delay


EXPONENTIAL = {"restart-strategy.type": "exponential-delay",
               "restart-strategy.exponential-delay.initial-backoff": "1 s",
               "restart-strategy.exponential-delay.max-backoff": "10 s",
               "restart-strategy.exponential-delay.backoff-multiplier": "2.0",
               "restart-strategy.exponential-delay.reset-backoff-threshold": "1 min",
               "restart-strategy.exponential-delay.jitter-factor": "0"}


def test_exponential_delay_doubles_up_to_the_maximum() -> None:
    # Each failure comes after the previous restart was due.
    assert delays(EXPONENTIAL, [0.0, 2.0, 5.0, 10.0, 20.0, 31.0]) == \
        [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_exponential_delay_merges_failures_before_the_restart_is_due() -> None:
    strategy = restart_strategy_from_configuration(EXPONENTIAL)
    assert strategy.on_failure(0.0) == 1.0
    assert strategy.on_failure(0.25) == 0.75  # the same failure: what is left of the delay
    assert strategy.on_failure(2.0) == 2.0  # counted once: the second backoff, not the third


def test_exponential_delay_resets_after_running_smoothly_for_the_threshold() -> None:
    # Restart due at 1, 4, 9; the failure at 68 is 59 s after 9: no reset; at 200, reset.
    assert delays(EXPONENTIAL, [0.0, 2.0, 5.0, 68.0, 200.0]) == [1.0, 2.0, 4.0, 8.0, 1.0]


def test_exponential_delay_gives_up_after_the_attempts_before_reset() -> None:
    config = {**EXPONENTIAL, "restart-strategy.exponential-delay.attempts-before-reset-backoff":
              "2"}
    assert delays(config, [0.0, 2.0, 5.0]) == [1.0, 2.0, None]


def test_exponential_delay_jitter_is_within_the_factor_and_reproducible() -> None:
    config = {**EXPONENTIAL, "restart-strategy.exponential-delay.jitter-factor": "0.25",
              "restart-strategy.exponential-delay.max-backoff": "1 h"}
    times = [0.0, 10.0, 30.0, 70.0]  # backoffs 1, 2, 4, 8 s before jitter
    runs = [delays(config, times, seed) for seed in range(40)]
    for run in runs:
        for delay, base in zip(run, [1.0, 2.0, 4.0, 8.0], strict=True):
            assert delay is not None
            assert max(1.0, base * 0.75) <= delay <= base * 1.25
    assert len({tuple(run) for run in runs}) > 1
    assert delays(config, times, seed=7) == delays(config, times, seed=7)


def test_exponential_delay_defaults_are_flinks() -> None:
    config = restart_strategy_configuration({"restart-strategy.type": "exponentialdelay"})
    assert config == ExponentialDelayRestartStrategyConfiguration(
        initial_backoff_ms=1000, max_backoff_ms=60_000, backoff_multiplier=2.0,
        reset_backoff_threshold_ms=3_600_000, jitter_factor=0.1,
        attempts_before_reset_backoff=UNLIMITED)
    assert isinstance(restart_strategy_from_configuration({"restart-strategy.type":
                                                           "exponential-delay"}),
                      ExponentialDelayRestartStrategy)


# -------------------------------------------------------------------- errors


@pytest.mark.parametrize(("config", "message"), [
    ({"restart-strategy.type": "sometimes"},
     r"'restart-strategy.type' must be one of none, .*exponential-delay; got 'sometimes'"),
    ({"restart-strategy.type": "fixed-delay", "restart-strategy.fixed-delay.delay": "soon"},
     r"'restart-strategy.fixed-delay.delay' must be a duration"),
    ({"restart-strategy.type": "fixed-delay", "restart-strategy.fixed-delay.attempts": "-1"},
     r"'restart-strategy.fixed-delay.attempts' must be at least 0"),
    ({"restart-strategy.type": "fixed-delay", "restart-strategy.fixed-delay.attempts": "three"},
     r"'restart-strategy.fixed-delay.attempts' must be an integer"),
    ({"restart-strategy.type": "failure-rate",
      "restart-strategy.failure-rate.max-failures-per-interval": "0"},
     r"max-failures-per-interval' must be at least 1"),
    ({"restart-strategy.type": "failure-rate",
      "restart-strategy.failure-rate.failure-rate-interval": "0 s"},
     r"failure-rate-interval' must be at least 1"),
    ({"restart-strategy.type": "exponential-delay",
      "restart-strategy.exponential-delay.backoff-multiplier": "1.0"},
     r"backoff-multiplier' must be greater than 1"),
    ({"restart-strategy.type": "exponential-delay",
      "restart-strategy.exponential-delay.jitter-factor": "1.5"},
     r"jitter-factor' must be between 0 and 1"),
    ({"restart-strategy.type": "exponential-delay",
      "restart-strategy.exponential-delay.initial-backoff": "2 min"},
     r"max-backoff' must be at least the initial backoff"),
    ({"restart-strategy.type": "exponential-delay",
      "restart-strategy.exponential-delay.attempts-before-reset-backoff": "0"},
     r"attempts-before-reset-backoff' must be at least 1"),
])
def test_bad_configuration_names_the_key(config: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        restart_strategy_from_configuration(config)


# ---------------------------------------------------------------- PyFlink API


def test_restart_strategies_travel_as_flink_keys_and_drive_the_policy() -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    assert env.get_restart_strategy() == FallbackRestartStrategyConfiguration()
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(2, timedelta(seconds=3)))
    assert env.get_config().to_dict() == {
        "restart-strategy.type": "fixed-delay", "restart-strategy.fixed-delay.attempts": "2",
        "restart-strategy.fixed-delay.delay": "3000 ms"}
    strategy = env.get_restart_strategy()
    assert isinstance(strategy, FixedDelayRestartStrategyConfiguration)
    assert strategy.get_restart_attempts() == 2
    assert strategy.get_delay_between_attempts_interval() == timedelta(seconds=3)
    assert delays(env.get_config().to_dict(), [0.0, 10.0, 20.0]) == [3.0, 3.0, None]

    # Replacing the strategy removes the old strategy's keys.
    env.set_restart_strategy(RestartStrategies.failure_rate_restart(2, 60_000, 500))
    assert sorted(env.get_config().to_dict()) == [
        "restart-strategy.failure-rate.delay",
        "restart-strategy.failure-rate.failure-rate-interval",
        "restart-strategy.failure-rate.max-failures-per-interval", "restart-strategy.type"]
    assert delays(env.get_config().to_dict(), [0.0, 1.0, 2.0]) == [0.5, 0.5, None]

    env.set_restart_strategy(RestartStrategies.exponential_delay_restart(
        timedelta(milliseconds=100), timedelta(seconds=1), 3.0, timedelta(minutes=5), 0.0))
    assert delays(env.get_config().to_dict(), [0.0, 1.0, 2.0, 3.0]) == [0.1, 0.3, 0.9, 1.0]

    env.set_restart_strategy(RestartStrategies.no_restart())
    assert env.get_restart_strategy() == NoRestartStrategyConfiguration()
    env.set_restart_strategy(RestartStrategies.fall_back_restart())
    assert env.get_config().to_dict() == {}


def test_restart_strategies_reject_wrong_argument_types() -> None:
    with pytest.raises(TypeError, match="delay_between_attempts must be an int"):
        RestartStrategies.fixed_delay_restart(3, "1 s")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="attempts' must be at least 0"):
        RestartStrategies.fixed_delay_restart(-2, 1000)
    with pytest.raises(TypeError, match="takes a RestartStrategies"):
        StreamExecutionEnvironment().set_restart_strategy("fixed-delay")  # type: ignore[arg-type]


def test_fixed_delay_policy_objects_are_independent() -> None:
    strategy = FixedDelayRestartStrategy(attempts=1, delay_ms=250)
    assert [strategy.on_failure(0.0), strategy.on_failure(1.0)] == [0.25, None]
    assert FixedDelayRestartStrategy(1, 250).on_failure(0.0) == 0.25
