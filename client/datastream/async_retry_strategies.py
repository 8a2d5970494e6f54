"""Retry strategies for async I/O (``pyflink.datastream.async_retry_strategies``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from weir.datastream.functions import AsyncRetryPredicate, AsyncRetryStrategy

__all__ = [
    "NO_RETRY_STRATEGY",
    "ExponentialBackoffDelayRetryStrategy",
    "FixedDelayRetryStrategy",
    "NoRetryStrategy",
    "RetryPredicate",
]

OUT = TypeVar("OUT")


class RetryPredicate(AsyncRetryPredicate[OUT], Generic[OUT]):
    """Retry on results ``result_predicate`` accepts and on exceptions
    ``exception_predicate`` accepts (None: never)."""

    def __init__(self, result_predicate: Callable[[list[OUT]], bool] | None,
                 exception_predicate: Callable[[Exception], bool] | None) -> None:
        self._result_predicate = result_predicate
        self._exception_predicate = exception_predicate

    def result_predicate(self) -> Callable[[list[OUT]], bool] | None:
        return self._result_predicate

    def exception_predicate(self) -> Callable[[Exception], bool] | None:
        return self._exception_predicate


class NoRetryStrategy(AsyncRetryStrategy[OUT], Generic[OUT]):
    def can_retry(self, current_attempts: int) -> bool:
        return False

    def get_backoff_time_millis(self, current_attempts: int) -> int:
        return -1

    def get_retry_predicate(self) -> AsyncRetryPredicate[OUT]:
        return RetryPredicate(None, None)


class FixedDelayRetryStrategy(AsyncRetryStrategy[OUT], Generic[OUT]):
    """Up to ``max_attempts`` retries, ``backoff_time_millis`` apart."""

    def __init__(self, max_attempts: int, backoff_time_millis: int,
                 result_predicate: Callable[[list[OUT]], bool] | None,
                 exception_predicate: Callable[[Exception], bool] | None) -> None:
        _check_positive(max_attempts=max_attempts, backoff_time_millis=backoff_time_millis)
        self._max_attempts = max_attempts
        self._backoff_time_millis = backoff_time_millis
        self._predicate: RetryPredicate[OUT] = RetryPredicate(result_predicate,
                                                              exception_predicate)

    def can_retry(self, current_attempts: int) -> bool:
        return current_attempts <= self._max_attempts

    def get_backoff_time_millis(self, current_attempts: int) -> int:
        return self._backoff_time_millis

    def get_retry_predicate(self) -> AsyncRetryPredicate[OUT]:
        return self._predicate


class ExponentialBackoffDelayRetryStrategy(AsyncRetryStrategy[OUT], Generic[OUT]):
    """Up to ``max_attempts`` retries; the first after ``initial_delay`` ms, each next one
    ``multiplier`` times later, at most ``max_retry_delay`` ms."""

    def __init__(self, max_attempts: int, initial_delay: int, max_retry_delay: int,
                 multiplier: float, result_predicate: Callable[[list[OUT]], bool] | None,
                 exception_predicate: Callable[[Exception], bool] | None) -> None:
        _check_positive(max_attempts=max_attempts, initial_delay=initial_delay,
                        max_retry_delay=max_retry_delay, multiplier=multiplier)
        self._max_attempts = max_attempts
        self._initial_delay = initial_delay
        self._max_retry_delay = max_retry_delay
        self._multiplier = multiplier
        self._predicate: RetryPredicate[OUT] = RetryPredicate(result_predicate,
                                                              exception_predicate)

    def can_retry(self, current_attempts: int) -> bool:
        return current_attempts <= self._max_attempts

    def get_backoff_time_millis(self, current_attempts: int) -> int:
        """A function of the attempt alone (requests in flight together share the strategy)."""
        delay = self._initial_delay * self._multiplier ** (max(current_attempts, 1) - 1)
        return int(min(delay, self._max_retry_delay))

    def get_retry_predicate(self) -> AsyncRetryPredicate[OUT]:
        return self._predicate


def _check_positive(**values: Any) -> None:
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f"{name} must be greater than zero, got {value!r}")


NO_RETRY_STRATEGY: NoRetryStrategy[Any] = NoRetryStrategy()
