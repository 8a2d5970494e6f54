"""``RestartStrategies`` (``pyflink.common.restart_strategy``) and the restart options.

A restart strategy configuration is a value that writes Flink's ``restart-strategy.*`` keys
(``to_configuration``), so it travels in the job graph; ``restart_strategy_configuration``
reads the effective one back from a configuration, with Flink's defaults. The JobManager
turns it into the policy that decides each restart (``weir.jobmanager.restart_strategy``).
Delays are milliseconds (an int) or a ``datetime.timedelta``, as in PyFlink.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from weir.config import ConfigError, Configuration, parse_duration_ms

__all__ = [
    "RESTART_STRATEGY_TYPE",
    "UNLIMITED",
    "ExponentialDelayRestartStrategyConfiguration",
    "FailureRateRestartStrategyConfiguration",
    "FallbackRestartStrategyConfiguration",
    "FixedDelayRestartStrategyConfiguration",
    "NoRestartStrategyConfiguration",
    "RestartStrategies",
    "RestartStrategyConfiguration",
    "is_restart_strategy_key",
    "job_restart_strategy",
    "restart_strategy_configuration",
]

RESTART_STRATEGY_TYPE = "restart-strategy.type"
_PREFIX = "restart-strategy."
FIXED_DELAY_ATTEMPTS = "restart-strategy.fixed-delay.attempts"
FIXED_DELAY_DELAY = "restart-strategy.fixed-delay.delay"
FAILURE_RATE_MAX_FAILURES = "restart-strategy.failure-rate.max-failures-per-interval"
FAILURE_RATE_INTERVAL = "restart-strategy.failure-rate.failure-rate-interval"
FAILURE_RATE_DELAY = "restart-strategy.failure-rate.delay"
EXPONENTIAL_INITIAL_BACKOFF = "restart-strategy.exponential-delay.initial-backoff"
EXPONENTIAL_MAX_BACKOFF = "restart-strategy.exponential-delay.max-backoff"
EXPONENTIAL_MULTIPLIER = "restart-strategy.exponential-delay.backoff-multiplier"
EXPONENTIAL_RESET_THRESHOLD = "restart-strategy.exponential-delay.reset-backoff-threshold"
EXPONENTIAL_JITTER = "restart-strategy.exponential-delay.jitter-factor"
EXPONENTIAL_ATTEMPTS = "restart-strategy.exponential-delay.attempts-before-reset-backoff"

UNLIMITED = 2**31 - 1  # Flink's Integer.MAX_VALUE: "unlimited" attempts
_CHECKPOINTING_INTERVAL = "execution.checkpointing.interval"
_TYPES = {"none": "none", "off": "none", "disable": "none",
          "fixed-delay": "fixed-delay", "fixeddelay": "fixed-delay",
          "failure-rate": "failure-rate", "failurerate": "failure-rate",
          "exponential-delay": "exponential-delay", "exponentialdelay": "exponential-delay"}


class RestartStrategyConfiguration:
    """A restart strategy, as the ``restart-strategy.*`` keys it stands for."""

    def to_configuration(self) -> dict[str, str]:
        raise NotImplementedError

    def get_description(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.to_configuration().items()) or "cluster's"


@dataclass(frozen=True)
class NoRestartStrategyConfiguration(RestartStrategyConfiguration):
    def to_configuration(self) -> dict[str, str]:
        return {RESTART_STRATEGY_TYPE: "none"}


@dataclass(frozen=True)
class FallbackRestartStrategyConfiguration(RestartStrategyConfiguration):
    """Use the cluster's restart strategy: the job sets no ``restart-strategy.*`` key."""

    def to_configuration(self) -> dict[str, str]:
        return {}


@dataclass(frozen=True)
class FixedDelayRestartStrategyConfiguration(RestartStrategyConfiguration):
    restart_attempts: int
    delay_ms: int

    def __post_init__(self) -> None:
        _check(FIXED_DELAY_ATTEMPTS, self.restart_attempts, 0)
        _check(FIXED_DELAY_DELAY, self.delay_ms, 0)

    def get_restart_attempts(self) -> int:
        return self.restart_attempts

    def get_delay_between_attempts_interval(self) -> timedelta:
        return timedelta(milliseconds=self.delay_ms)

    def to_configuration(self) -> dict[str, str]:
        return {RESTART_STRATEGY_TYPE: "fixed-delay",
                FIXED_DELAY_ATTEMPTS: str(self.restart_attempts),
                FIXED_DELAY_DELAY: f"{self.delay_ms} ms"}


@dataclass(frozen=True)
class FailureRateRestartStrategyConfiguration(RestartStrategyConfiguration):
    max_failure_rate: int
    failure_interval_ms: int
    delay_ms: int

    def __post_init__(self) -> None:
        _check(FAILURE_RATE_MAX_FAILURES, self.max_failure_rate, 1)
        _check(FAILURE_RATE_INTERVAL, self.failure_interval_ms, 1)
        _check(FAILURE_RATE_DELAY, self.delay_ms, 0)

    def get_max_failure_rate(self) -> int:
        return self.max_failure_rate

    def get_failure_interval(self) -> timedelta:
        return timedelta(milliseconds=self.failure_interval_ms)

    def get_delay_between_attempts_interval(self) -> timedelta:
        return timedelta(milliseconds=self.delay_ms)

    def to_configuration(self) -> dict[str, str]:
        return {RESTART_STRATEGY_TYPE: "failure-rate",
                FAILURE_RATE_MAX_FAILURES: str(self.max_failure_rate),
                FAILURE_RATE_INTERVAL: f"{self.failure_interval_ms} ms",
                FAILURE_RATE_DELAY: f"{self.delay_ms} ms"}


@dataclass(frozen=True)
class ExponentialDelayRestartStrategyConfiguration(RestartStrategyConfiguration):
    initial_backoff_ms: int = 1000
    max_backoff_ms: int = 60_000
    backoff_multiplier: float = 2.0
    reset_backoff_threshold_ms: int = 3_600_000
    jitter_factor: float = 0.1
    attempts_before_reset_backoff: int = UNLIMITED

    def __post_init__(self) -> None:
        _check(EXPONENTIAL_INITIAL_BACKOFF, self.initial_backoff_ms, 1)
        _check(EXPONENTIAL_MAX_BACKOFF, self.max_backoff_ms, self.initial_backoff_ms,
               "at least the initial backoff")
        if not self.backoff_multiplier > 1:
            raise ConfigError(f"configuration '{EXPONENTIAL_MULTIPLIER}' must be greater than "
                              f"1, got {self.backoff_multiplier}")
        _check(EXPONENTIAL_RESET_THRESHOLD, self.reset_backoff_threshold_ms, 1)
        if not 0 <= self.jitter_factor <= 1:
            raise ConfigError(f"configuration '{EXPONENTIAL_JITTER}' must be between 0 and 1, "
                              f"got {self.jitter_factor}")
        _check(EXPONENTIAL_ATTEMPTS, self.attempts_before_reset_backoff, 1)

    def to_configuration(self) -> dict[str, str]:
        return {RESTART_STRATEGY_TYPE: "exponential-delay",
                EXPONENTIAL_INITIAL_BACKOFF: f"{self.initial_backoff_ms} ms",
                EXPONENTIAL_MAX_BACKOFF: f"{self.max_backoff_ms} ms",
                EXPONENTIAL_MULTIPLIER: repr(float(self.backoff_multiplier)),
                EXPONENTIAL_RESET_THRESHOLD: f"{self.reset_backoff_threshold_ms} ms",
                EXPONENTIAL_JITTER: repr(float(self.jitter_factor)),
                EXPONENTIAL_ATTEMPTS: str(self.attempts_before_reset_backoff)}


class RestartStrategies:
    """Factories of restart strategy configurations, as in PyFlink (whose configuration
    classes, nested there, are module-level here)."""

    @staticmethod
    def no_restart() -> NoRestartStrategyConfiguration:
        return NoRestartStrategyConfiguration()

    @staticmethod
    def fall_back_restart() -> FallbackRestartStrategyConfiguration:
        return FallbackRestartStrategyConfiguration()

    @staticmethod
    def fixed_delay_restart(restart_attempts: int, delay_between_attempts: int | timedelta,
                            ) -> FixedDelayRestartStrategyConfiguration:
        """``restart_attempts`` restarts, ``delay_between_attempts`` (ms or timedelta) apart."""
        return FixedDelayRestartStrategyConfiguration(
            _count(restart_attempts, "restart_attempts"),
            _millis(delay_between_attempts, "delay_between_attempts"))

    @staticmethod
    def failure_rate_restart(failure_rate: int, failure_interval: int | timedelta,
                             delay_interval: int | timedelta,
                             ) -> FailureRateRestartStrategyConfiguration:
        """Fail the job after more than ``failure_rate`` failures within ``failure_interval``."""
        return FailureRateRestartStrategyConfiguration(
            _count(failure_rate, "failure_rate"), _millis(failure_interval, "failure_interval"),
            _millis(delay_interval, "delay_interval"))

    @staticmethod
    def exponential_delay_restart(
            initial_backoff: int | timedelta, max_backoff: int | timedelta,
            backoff_multiplier: float, reset_backoff_threshold: int | timedelta,
            jitter_factor: float) -> ExponentialDelayRestartStrategyConfiguration:
        """As Flink's ``RestartStrategies.exponentialDelayRestart``: unlimited attempts."""
        return ExponentialDelayRestartStrategyConfiguration(
            _millis(initial_backoff, "initial_backoff"), _millis(max_backoff, "max_backoff"),
            float(backoff_multiplier), _millis(reset_backoff_threshold, "reset_backoff_threshold"),
            float(jitter_factor))


def restart_strategy_configuration(configuration: Mapping[str, str],
                                   ) -> RestartStrategyConfiguration:
    """The restart strategy ``configuration`` asks for, with Flink's defaults.

    Unset ``restart-strategy.type``: fixed-delay with unlimited attempts 1 s apart when
    checkpointing is on (``execution.checkpointing.interval`` set), else none.

    Raises:
        ConfigError: an unknown type, or a value that is not usable (naming its key).
    """
    raw_type = configuration.get(RESTART_STRATEGY_TYPE)
    if raw_type is None:
        if configuration.get(_CHECKPOINTING_INTERVAL) is not None:
            return FixedDelayRestartStrategyConfiguration(UNLIMITED, 1000)
        return NoRestartStrategyConfiguration()
    kind = _TYPES.get(raw_type.strip().lower())
    config = Configuration(configuration)
    if kind == "none":
        return NoRestartStrategyConfiguration()
    if kind == "fixed-delay":
        return FixedDelayRestartStrategyConfiguration(
            config.get_integer(FIXED_DELAY_ATTEMPTS, 1),
            _duration(configuration, FIXED_DELAY_DELAY, 1000))
    if kind == "failure-rate":
        return FailureRateRestartStrategyConfiguration(
            config.get_integer(FAILURE_RATE_MAX_FAILURES, 1),
            _duration(configuration, FAILURE_RATE_INTERVAL, 60_000),
            _duration(configuration, FAILURE_RATE_DELAY, 1000))
    if kind == "exponential-delay":
        return ExponentialDelayRestartStrategyConfiguration(
            _duration(configuration, EXPONENTIAL_INITIAL_BACKOFF, 1000),
            _duration(configuration, EXPONENTIAL_MAX_BACKOFF, 60_000),
            config.get_float(EXPONENTIAL_MULTIPLIER, 2.0),
            _duration(configuration, EXPONENTIAL_RESET_THRESHOLD, 3_600_000),
            config.get_float(EXPONENTIAL_JITTER, 0.1),
            config.get_integer(EXPONENTIAL_ATTEMPTS, UNLIMITED))
    raise ConfigError(f"configuration '{RESTART_STRATEGY_TYPE}' must be one of none, off, "
                      f"disable, fixed-delay, failure-rate, exponential-delay; got {raw_type!r}")


def job_restart_strategy(configuration: Mapping[str, str]) -> RestartStrategyConfiguration:
    """The job's own restart strategy: Fallback when it sets no ``restart-strategy.type``."""
    if configuration.get(RESTART_STRATEGY_TYPE) is None:
        return FallbackRestartStrategyConfiguration()
    return restart_strategy_configuration(configuration)


def is_restart_strategy_key(key: str) -> bool:
    return key.startswith(_PREFIX)


def _duration(configuration: Mapping[str, str], key: str, default_ms: int) -> int:
    raw = configuration.get(key)
    return default_ms if raw is None else parse_duration_ms(raw, key)


def _check(key: str, value: int, minimum: int, bound: str = "") -> None:
    if value < minimum:
        raise ConfigError(f"configuration '{key}' must be {bound or f'at least {minimum}'}, "
                          f"got {value}")


def _count(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    return value


def _millis(value: int | timedelta, name: str) -> int:
    if isinstance(value, timedelta):
        return int(value / timedelta(milliseconds=1))
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int (milliseconds) or a datetime.timedelta, got "
                        f"{type(value).__name__}")
    return value
