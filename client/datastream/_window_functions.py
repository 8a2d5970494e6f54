"""How a window's contents become its output: the user's window function, adapted.

The window operator keeps one of three kinds of contents per (key, window): a
reduced value, an aggregate accumulator (read through ``get_result``) or the
list of elements. ``WindowEvaluation`` turns those contents into output records
with the function the user chose, so the runtime has one call to make:
``evaluate(key, window, context, contents)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from weir.datastream.functions import (
    AllWindowFunction,
    Function,
    ProcessAllWindowFunction,
    ProcessWindowFunction,
    RuntimeContext,
    WindowFunction,
)

__all__ = ["WindowEvaluation"]


class WindowEvaluation:
    """Evaluates a window: pass the contents through, or call the user's window function.

    Args:
        function: None (emit the reduced/aggregated value itself), a
            ``WindowFunction``/``AllWindowFunction`` or a
            ``ProcessWindowFunction``/``ProcessAllWindowFunction``.
        single_value: the contents are one pre-aggregated value (reduce or
            aggregate), handed to the function as a one-element iterable.
    """

    def __init__(self, function: Any, single_value: bool) -> None:
        if function is not None and not isinstance(
                function, (WindowFunction, AllWindowFunction, ProcessWindowFunction,
                           ProcessAllWindowFunction)):
            raise TypeError("window_function must be a WindowFunction, AllWindowFunction, "
                            "ProcessWindowFunction or ProcessAllWindowFunction, got "
                            f"{type(function).__name__}")
        self.function = function
        self.single_value = single_value
        self.has_clear = isinstance(function, (ProcessWindowFunction, ProcessAllWindowFunction))

    def open(self, runtime_context: RuntimeContext) -> None:
        if isinstance(self.function, Function):
            self.function.open(runtime_context)

    def close(self) -> None:
        if isinstance(self.function, Function):
            self.function.close()

    def evaluate(self, key: Any, window: Any, context: Any,
                 contents: Any) -> Iterable[Any] | None:
        """The outputs of one firing; ``context`` is a ProcessWindowFunction.Context."""
        function = self.function
        if function is None:
            return (contents,)
        inputs = (contents,) if self.single_value else contents
        if isinstance(function, ProcessWindowFunction):
            return function.process(key, context, inputs)
        if isinstance(function, ProcessAllWindowFunction):
            return function.process(context, inputs)
        if isinstance(function, WindowFunction):
            return function.apply(key, window, inputs)
        return function.apply(window, inputs)

    def clear(self, context: Any) -> None:
        """The window is discarded: process window functions drop their window state."""
        if isinstance(self.function, (ProcessWindowFunction, ProcessAllWindowFunction)):
            self.function.clear(context)
