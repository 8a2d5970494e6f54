"""The window join and co-group of two streams, as Java Flink has them (PyFlink has none):
``ds1.join(ds2).where(k1).equal_to(k2).window(assigner).apply(JoinFunction)`` and
``ds1.co_group(ds2)...apply(CoGroupFunction)``.

Composed from the runtime's primitives, as Flink composes them: each input's elements
tagged with their side, the union keyed by the side's key selector and windowed; the window
function splits a window's elements by side and calls the co-group function (for a join,
the join function on every pair). Results carry the window's max timestamp.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NoReturn

from weir.common.time import Duration, Time
from weir.common.typeinfo import TypeInformation
from weir.datastream.data_stream import DataStream
from weir.datastream.functions import (
    CoGroupFunction,
    FlatJoinFunction,
    Function,
    JoinFunction,
    KeySelector,
    RuntimeContext,
    WindowFunction,
    function_call,
)
from weir.datastream.window import Trigger, Window, WindowAssigner

__all__ = ["CoGroupedStreams", "EqualTo", "JoinedStreams", "Where", "WithWindow"]


class _Step:
    """A step of building a join or co-group: a method of another step called on it fails
    saying how the steps go (say ``apply`` before ``window``)."""

    _operation: str  # "join" or "co_group"

    def __getattr__(self, name: str) -> NoReturn:
        if name.startswith("_"):
            raise AttributeError(name)
        operation = self._operation
        raise AttributeError(f"{type(self).__name__} has no {name}(): build a {operation} as "
                             f"ds1.{operation}(ds2).where(key_selector1)"
                             ".equal_to(key_selector2).window(assigner).apply(function)")


class _WindowedTwoStreams(_Step):
    """What ``JoinedStreams`` and ``CoGroupedStreams`` share: the two inputs, and how the
    function given to ``apply`` becomes one co-group call per key and window."""

    def __init__(self, input1: DataStream, input2: DataStream) -> None:
        if not isinstance(input2, DataStream):
            raise TypeError(f"{self._operation}() takes a DataStream, got "
                            f"{type(input2).__name__}")
        if input1._env is not input2._env:
            raise ValueError(f"cannot {self._operation} streams of different execution "
                             "environments")
        self.input1 = input1
        self.input2 = input2

    def where(self, key_selector: Callable[[Any], Any] | KeySelector,
              key_type: TypeInformation | None = None) -> Where:
        """The key of the first input's elements."""
        return Where(self, _key_selector(key_selector), key_type)

    def co_group_call(self, function: Any) -> Callable[[list[Any], list[Any]],
                                                        Iterable[Any] | None]:
        """``function`` as a call on one window's elements of each input."""
        raise NotImplementedError


class JoinedStreams(_WindowedTwoStreams):
    """``ds1.join(ds2)``: pairs of elements of the two streams with equal keys in the same
    window, built as ``.where(key_selector1).equal_to(key_selector2).window(assigner)
    .apply(JoinFunction or FlatJoinFunction)``."""

    _operation = "join"

    def co_group_call(self, function: Any) -> Callable[[list[Any], list[Any]],
                                                        Iterable[Any] | None]:
        if isinstance(function, FlatJoinFunction):
            return _JoinPairs(function.join, flat=True)
        if isinstance(function, JoinFunction) or (callable(function)
                                                  and not isinstance(function, Function)):
            return _JoinPairs(function_call(function, "join"), flat=False)
        raise TypeError("apply() takes a JoinFunction or a FlatJoinFunction, got "
                        f"{type(function).__name__}")


class CoGroupedStreams(_WindowedTwoStreams):
    """``ds1.co_group(ds2)``: per key and window, the elements of both streams (either side
    may be empty), built as ``.where(key_selector1).equal_to(key_selector2)
    .window(assigner).apply(CoGroupFunction)``."""

    _operation = "co_group"

    def co_group_call(self, function: Any) -> Callable[[list[Any], list[Any]],
                                                        Iterable[Any] | None]:
        if isinstance(function, CoGroupFunction) or (callable(function)
                                                     and not isinstance(function, Function)):
            return function_call(function, "co_group")
        raise TypeError(f"apply() takes a CoGroupFunction, got {type(function).__name__}")


class Where(_Step):
    """A join or co-group with the first input's key; ``equal_to`` gives the second's."""

    def __init__(self, streams: _WindowedTwoStreams, key_selector1: Callable[[Any], Any],
                 key_type1: TypeInformation | None) -> None:
        self._operation = streams._operation
        self._streams = streams
        self._key_selector1 = key_selector1
        self._key_type1 = key_type1

    def equal_to(self, key_selector: Callable[[Any], Any] | KeySelector,
                 key_type: TypeInformation | None = None) -> EqualTo:
        """The key of the second input's elements (compared with the first's by ``==``)."""
        if self._key_type1 is not None and key_type is not None and key_type != self._key_type1:
            raise TypeError(f"The keys for the two inputs are not equal: first key = "
                            f"{self._key_type1}, second key = {key_type}")
        return EqualTo(self._streams, self._key_selector1, _key_selector(key_selector))


class EqualTo(_Step):
    """A join or co-group with both keys; ``window`` gives its windows."""

    def __init__(self, streams: _WindowedTwoStreams, key_selector1: Callable[[Any], Any],
                 key_selector2: Callable[[Any], Any]) -> None:
        self._operation = streams._operation
        self._streams = streams
        self._key_selectors = (key_selector1, key_selector2)

    def window(self, assigner: WindowAssigner) -> WithWindow:
        if not isinstance(assigner, WindowAssigner):
            raise TypeError(f"window() takes a WindowAssigner, got {type(assigner).__name__}")
        return WithWindow(self._streams, self._key_selectors, assigner)


class WithWindow:
    """A join or co-group with its keys and windows; ``apply`` gives the result stream."""

    def __init__(self, streams: _WindowedTwoStreams,
                 key_selectors: tuple[Callable[[Any], Any], Callable[[Any], Any]],
                 assigner: WindowAssigner) -> None:
        self._streams = streams
        self._key_selectors = key_selectors
        self._assigner = assigner
        self._trigger: Trigger | None = None
        self._allowed_lateness: int | Time | Duration = 0

    def trigger(self, trigger: Trigger) -> WithWindow:
        """Evaluate the windows when ``trigger`` says (default: the assigner's trigger)."""
        if not isinstance(trigger, Trigger):
            raise TypeError(f"trigger() takes a Trigger, got {type(trigger).__name__}")
        self._trigger = trigger
        return self

    def allowed_lateness(self, time_ms: int | Time | Duration) -> WithWindow:
        """Keep event-time windows for elements up to ``time_ms`` late (as
        ``WindowedStream.allowed_lateness``: a late element re-evaluates its window)."""
        self._allowed_lateness = time_ms
        return self

    def apply(self, function: Any, output_type: TypeInformation | None = None) -> DataStream:
        """Evaluate each key's window with ``function``: a ``JoinFunction`` or
        ``FlatJoinFunction`` for ``join``, a ``CoGroupFunction`` for ``co_group`` (or a
        plain function taking what their method takes)."""
        streams = self._streams
        evaluation = _CoGroupWindowFunction(streams.co_group_call(function), function)
        union = _tagged(streams.input1, _tag_first).union(_tagged(streams.input2, _tag_second))
        windowed = union.key_by(_UnionKeySelector(*self._key_selectors)).window(self._assigner)
        if self._trigger is not None:
            windowed.trigger(self._trigger)
        windowed.allowed_lateness(self._allowed_lateness)
        return windowed.apply(evaluation)


def _key_selector(key_selector: Any) -> Callable[[Any], Any]:
    if isinstance(key_selector, Function) and not isinstance(key_selector, KeySelector):
        raise TypeError(f"expected a function or a KeySelector, got {type(key_selector).__name__}")
    return function_call(key_selector, "get_key")


def _tag_first(value: Any) -> tuple[int, Any]:
    return 0, value


def _tag_second(value: Any) -> tuple[int, Any]:
    return 1, value


def _tagged(stream: DataStream, tag: Callable[[Any], tuple[int, Any]]) -> DataStream:
    """``stream`` with its side tagged on; the tagging runs at the stream's operator's
    parallelism, so it chains to it (as Flink's ``Input1Tagger``)."""
    tagged = stream.map(tag)
    inputs = stream._inputs
    if len(inputs) == 1 and inputs[0].partitioner is None:
        parallelism = inputs[0].upstream.fixed_parallelism or inputs[0].upstream.parallelism
        if parallelism is not None:
            tagged.set_parallelism(parallelism)
    return tagged


class _UnionKeySelector:
    """The key of a tagged element: the key selector of its side."""

    def __init__(self, key_selector1: Callable[[Any], Any],
                 key_selector2: Callable[[Any], Any]) -> None:
        self._key_selectors = (key_selector1, key_selector2)

    def __call__(self, tagged: tuple[int, Any]) -> Any:
        return self._key_selectors[tagged[0]](tagged[1])


class _JoinPairs:
    """A join as a co-group: the join function on every pair of a window's elements."""

    def __init__(self, join: Callable[[Any, Any], Any], flat: bool) -> None:
        self._join = join
        self._flat = flat

    def __call__(self, first: list[Any], second: list[Any]) -> Iterable[Any]:
        join = self._join
        if not self._flat:
            return [join(left, right) for left in first for right in second]
        results: list[Any] = []
        for left in first:
            for right in second:
                produced = join(left, right)
                if produced is not None:
                    results.extend(produced)
        return results


class _CoGroupWindowFunction(WindowFunction):
    """Splits a window's tagged elements by side and calls the co-group on both lists (as
    Flink's ``CoGroupWindowFunction``); opens and closes the user's function."""

    def __init__(self, co_group: Callable[[list[Any], list[Any]], Iterable[Any] | None],
                 user_function: Any) -> None:
        self._co_group = co_group
        self._user_function = user_function

    def open(self, runtime_context: RuntimeContext) -> None:
        if isinstance(self._user_function, Function):
            self._user_function.open(runtime_context)

    def close(self) -> None:
        if isinstance(self._user_function, Function):
            self._user_function.close()

    def apply(self, key: Any, window: Window, inputs: Iterable[tuple[int, Any]]
              ) -> Iterable[Any] | None:
        first: list[Any] = []
        second: list[Any] = []
        add = (first.append, second.append)
        for side, value in inputs:
            add[side](value)
        return self._co_group(first, second)
