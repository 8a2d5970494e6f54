"""Restart strategies: whether, and after what delay, a failed job restarts (Flink's
``RestartBackoffTimeStrategy`` implementations).

Pure policy objects: the JobMaster calls ``on_failure(now_s)`` once per failure with its
clock's time and gets the delay before the restart, or None when the job must fail. Each
strategy is built from a ``RestartStrategyConfiguration`` (``weir.common.restart_strategy``,
which parses Flink's ``restart-strategy.*`` keys); the random source for jitter is injected.
Touched only on the JobManager's event loop.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Mapping

from weir.common.restart_strategy import (
    ExponentialDelayRestartStrategyConfiguration,
    FailureRateRestartStrategyConfiguration,
    FixedDelayRestartStrategyConfiguration,
    NoRestartStrategyConfiguration,
    RestartStrategyConfiguration,
    restart_strategy_configuration,
)

__all__ = [
    "ExponentialDelayRestartStrategy",
    "FailureRateRestartStrategy",
    "FixedDelayRestartStrategy",
    "NoRestartStrategy",
    "RestartStrategy",
    "restart_strategy_for",
    "restart_strategy_from_configuration",
]


class RestartStrategy(ABC):
    @abstractmethod
    def on_failure(self, now_s: float) -> float | None:
        """Record a failure at ``now_s`` (seconds, any monotonic clock): the delay in seconds
        before restarting, or None if the job must not restart."""

    def __str__(self) -> str:
        return f"{type(self).__name__}({self._describe()})"

    def _describe(self) -> str:
        return ""


class NoRestartStrategy(RestartStrategy):
    def on_failure(self, now_s: float) -> float | None:
        return None


class FixedDelayRestartStrategy(RestartStrategy):
    """Up to ``attempts`` restarts in the job's life, ``delay_ms`` after each failure."""

    def __init__(self, attempts: int, delay_ms: int) -> None:
        self.attempts = attempts
        self.delay_ms = delay_ms
        self.restarts = 0

    def on_failure(self, now_s: float) -> float | None:
        self.restarts += 1
        return self.delay_ms / 1000 if self.restarts <= self.attempts else None

    def _describe(self) -> str:
        return f"attempts={self.attempts}, delay={self.delay_ms} ms"


class FailureRateRestartStrategy(RestartStrategy):
    """Restart ``delay_ms`` after a failure, unless this failure is one more than
    ``max_failures`` within the last ``interval_ms`` (then the job fails)."""

    def __init__(self, max_failures: int, interval_ms: int, delay_ms: int) -> None:
        self.max_failures = max_failures
        self.interval_ms = interval_ms
        self.delay_ms = delay_ms
        self._failures: deque[float] = deque(maxlen=max_failures + 1)

    def on_failure(self, now_s: float) -> float | None:
        self._failures.append(now_s)
        window_full = len(self._failures) > self.max_failures
        if window_full and (now_s - self._failures[0]) * 1000 <= self.interval_ms:
            return None
        return self.delay_ms / 1000

    def _describe(self) -> str:
        return (f"max_failures={self.max_failures} per {self.interval_ms} ms, "
                f"delay={self.delay_ms} ms")


class ExponentialDelayRestartStrategy(RestartStrategy):
    """Flink's exponential-delay strategy (1.19 semantics).

    The n-th restart (counting from 0) waits ``initial * multiplier**n`` plus a uniform
    jitter of ±``jitter_factor`` of that, clamped to [initial, max]. A failure before the
    pending restart is due is the same failure (its remaining delay is returned, no attempt
    is counted). When ``reset_threshold`` has passed since the last restart was due, the
    count starts again from 0. The job fails when the count exceeds
    ``attempts_before_reset``.
    """

    def __init__(self, config: ExponentialDelayRestartStrategyConfiguration,
                 rng: random.Random | None = None) -> None:
        self.config = config
        self._rng = rng or random.Random()
        self.attempt = 0
        self._next_restart_ms: float | None = None

    def on_failure(self, now_s: float) -> float | None:
        now_ms = now_s * 1000
        if self._next_restart_ms is not None and now_ms <= self._next_restart_ms:
            return (self._next_restart_ms - now_ms) / 1000
        if (self._next_restart_ms is not None
                and now_ms - self._next_restart_ms >= self.config.reset_backoff_threshold_ms):
            self.attempt = 0
        delay_ms = self._backoff_ms(self.attempt)
        self.attempt += 1
        if self.attempt > self.config.attempts_before_reset_backoff:
            return None
        self._next_restart_ms = now_ms + delay_ms
        return delay_ms / 1000

    def _backoff_ms(self, attempt: int) -> int:
        c = self.config
        base = int(min(c.initial_backoff_ms * c.backoff_multiplier ** attempt,
                       float(c.max_backoff_ms)))
        offset = int(base * c.jitter_factor)
        jitter = self._rng.randint(-offset, offset) if offset else 0
        return max(c.initial_backoff_ms, min(base + jitter, c.max_backoff_ms))

    def _describe(self) -> str:
        return str(self.config)


def restart_strategy_for(config: RestartStrategyConfiguration,
                         rng: random.Random | None = None) -> RestartStrategy:
    """A fresh policy (no failures yet) for ``config``; ``rng`` draws exponential jitter."""
    if isinstance(config, FixedDelayRestartStrategyConfiguration):
        return FixedDelayRestartStrategy(config.restart_attempts, config.delay_ms)
    if isinstance(config, FailureRateRestartStrategyConfiguration):
        return FailureRateRestartStrategy(config.max_failure_rate, config.failure_interval_ms,
                                          config.delay_ms)
    if isinstance(config, ExponentialDelayRestartStrategyConfiguration):
        return ExponentialDelayRestartStrategy(config, rng)
    if isinstance(config, NoRestartStrategyConfiguration):
        return NoRestartStrategy()
    raise TypeError(f"no restart strategy for {config!r}")


def restart_strategy_from_configuration(configuration: Mapping[str, str],
                                        rng: random.Random | None = None) -> RestartStrategy:
    """The policy for a job's configuration (merged over the cluster's), with Flink's
    defaults; raises ConfigError for an unknown type or a bad value."""
    return restart_strategy_for(restart_strategy_configuration(configuration), rng)
