"""Async I/O on a stream (``pyflink.datastream.async_data_stream``)."""

from __future__ import annotations

import inspect
from typing import Any

from weir.common.time import Duration, Time
from weir.common.typeinfo import TypeInformation
from weir.datastream import async_retry_strategies
from weir.datastream.data_stream import DataStream, KeyedStream
from weir.datastream.functions import AsyncFunction, AsyncRetryStrategy
from weir.graph.operators import AsyncWaitSpec

__all__ = ["AsyncDataStream"]


class AsyncDataStream:
    """Applies an ``AsyncFunction`` to a stream: up to ``capacity`` requests in flight at a
    time on the TaskManager's event loop; when they are all taken, the operator takes no
    more input (backpressure). Requests in flight are part of checkpoints and are made
    again after a restore."""

    @staticmethod
    def unordered_wait(data_stream: DataStream, async_function: AsyncFunction,
                       timeout: Time, capacity: int = 100,
                       output_type: TypeInformation | None = None) -> DataStream:
        """Results as they complete (never across a watermark)."""
        return AsyncDataStream.unordered_wait_with_retry(
            data_stream, async_function, timeout, async_retry_strategies.NO_RETRY_STRATEGY,
            capacity, output_type)

    @staticmethod
    def unordered_wait_with_retry(data_stream: DataStream, async_function: AsyncFunction,
                                  timeout: Time, async_retry_strategy: AsyncRetryStrategy,
                                  capacity: int = 100,
                                  output_type: TypeInformation | None = None) -> DataStream:
        """As ``unordered_wait``, retrying requests as ``async_retry_strategy`` says."""
        return _async_wait(data_stream, async_function, timeout, async_retry_strategy,
                           capacity, ordered=False)

    @staticmethod
    def ordered_wait(data_stream: DataStream, async_function: AsyncFunction,
                     timeout: Time, capacity: int = 100,
                     output_type: TypeInformation | None = None) -> DataStream:
        """Results in the order of their inputs."""
        return AsyncDataStream.ordered_wait_with_retry(
            data_stream, async_function, timeout, async_retry_strategies.NO_RETRY_STRATEGY,
            capacity, output_type)

    @staticmethod
    def ordered_wait_with_retry(data_stream: DataStream, async_function: AsyncFunction,
                                timeout: Time, async_retry_strategy: AsyncRetryStrategy,
                                capacity: int = 100,
                                output_type: TypeInformation | None = None) -> DataStream:
        """As ``ordered_wait``, retrying requests as ``async_retry_strategy`` says."""
        return _async_wait(data_stream, async_function, timeout, async_retry_strategy,
                           capacity, ordered=True)


def _async_wait(data_stream: DataStream, function: AsyncFunction, timeout: Time,
                retry_strategy: AsyncRetryStrategy, capacity: int, ordered: bool
                ) -> DataStream:
    if not isinstance(data_stream, DataStream):
        raise TypeError(f"AsyncDataStream takes a DataStream, got {type(data_stream).__name__}")
    timeout_ms = _check(function, timeout, retry_strategy, capacity)
    key_selector = (data_stream.get_key_selector() if isinstance(data_stream, KeyedStream)
                    else None)
    spec = AsyncWaitSpec("Async Wait", "", function, timeout_ms, capacity, retry_strategy,
                         ordered, key_selector)
    return data_stream._stream(spec)


def _check(function: Any, timeout: Any, retry_strategy: Any, capacity: Any) -> int:
    """The timeout in ms, after checking the arguments as PyFlink does."""
    if not isinstance(function, AsyncFunction):
        raise TypeError(f"AsyncDataStream takes an AsyncFunction, got {type(function).__name__}")
    if not inspect.iscoroutinefunction(function.async_invoke):
        raise TypeError(f"method 'async_invoke' of class '{type(function).__name__}' must be "
                        "declared as 'async def'")
    if not isinstance(timeout, (Time, Duration)):
        raise TypeError(f"timeout must be a Time, got {type(timeout).__name__}")
    if type(capacity) is not int or capacity < 1:
        raise ValueError(f"capacity must be a positive integer, got {capacity!r}")
    if not isinstance(retry_strategy, AsyncRetryStrategy):
        raise TypeError("async_retry_strategy must be an AsyncRetryStrategy (e.g. "
                        f"AsyncRetryStrategy.fixed_delay(...)), got {retry_strategy!r}")
    if retry_strategy.get_retry_predicate() is None:
        raise ValueError(f"the retry predicate of {type(retry_strategy).__name__} is None")
    timeout_ms = timeout.to_milliseconds()
    if retry_strategy is not async_retry_strategies.NO_RETRY_STRATEGY and timeout_ms <= 0:
        raise ValueError("async I/O with retries needs a timeout: pass a positive timeout")
    return max(timeout_ms, 0)
