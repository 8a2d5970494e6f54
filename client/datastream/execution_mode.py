"""``RuntimeExecutionMode`` (``pyflink.datastream.execution_mode``) and how a job's mode is
decided: Flink's ``execution.runtime-mode`` key and its rules.

In BATCH mode (every source bounded) keyed ``reduce`` emits only the final value per key at
the end of input, processing-time timers fire at the end of input, and no checkpoints are
taken; event-time windows and timers fire with the final watermark as in STREAMING.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum

from weir.graph.generator import InvalidJobError

__all__ = ["RUNTIME_MODE", "RuntimeExecutionMode", "is_batch", "resolve_runtime_mode"]

RUNTIME_MODE = "execution.runtime-mode"


class RuntimeExecutionMode(Enum):
    """How a job runs: STREAMING (the default), BATCH (bounded input, results at the end) or
    AUTOMATIC (BATCH when every source is bounded, else STREAMING)."""

    STREAMING = 0
    BATCH = 1
    AUTOMATIC = 2

    @staticmethod
    def from_string(value: str) -> RuntimeExecutionMode:
        """The mode a configuration value names (any case); raises ValueError otherwise."""
        try:
            return RuntimeExecutionMode[str(value).strip().upper()]
        except KeyError:
            raise ValueError(f"configuration '{RUNTIME_MODE}' must be STREAMING, BATCH or "
                             f"AUTOMATIC, got {value!r}") from None


def resolve_runtime_mode(mode: RuntimeExecutionMode,
                         bounded_sources: Iterable[bool]) -> RuntimeExecutionMode:
    """STREAMING or BATCH: what ``mode`` means for a job whose sources are bounded or not.

    Raises:
        InvalidJobError: BATCH with an unbounded source (Flink's message).
    """
    all_bounded = all(bounded_sources)
    if mode is RuntimeExecutionMode.AUTOMATIC:
        return RuntimeExecutionMode.BATCH if all_bounded else RuntimeExecutionMode.STREAMING
    if mode is RuntimeExecutionMode.BATCH and not all_bounded:
        raise InvalidJobError(
            f"Detected an UNBOUNDED source with the '{RUNTIME_MODE}' set to 'BATCH'. This "
            f"combination is not allowed, please set the '{RUNTIME_MODE}' to STREAMING or "
            "AUTOMATIC")
    return mode


def is_batch(configuration: Mapping[str, str]) -> bool:
    """Whether a deployed job runs in BATCH mode (the client wrote the resolved mode)."""
    value = configuration.get(RUNTIME_MODE)
    return value is not None and RuntimeExecutionMode.from_string(value) is \
        RuntimeExecutionMode.BATCH
