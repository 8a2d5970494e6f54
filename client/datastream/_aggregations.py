"""Reduce functions behind ``KeyedStream.sum/min/max/min_by/max_by``.

A field is a position (tuples, lists, Rows) or a name (named Rows, dicts).
``min``/``max`` keep the first record and replace only the field (Flink's
semantics); ``min_by``/``max_by`` keep the whole record that holds the extreme,
the earlier one on ties.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from weir.common.types import Row

__all__ = ["field_extreme", "record_extreme", "summing"]


def _getter(field: int | str) -> Callable[[Any], Any]:
    def get(record: Any) -> Any:
        if isinstance(record, (int, float)) and field == 0:
            return record
        try:
            return record[field]
        except (KeyError, IndexError, TypeError):
            raise TypeError(f"cannot read field {field!r} of record {record!r}") from None
    return get


def _setter(field: int | str) -> Callable[[Any, Any], Any]:
    def put(record: Any, value: Any) -> Any:
        if isinstance(record, (int, float)) and field == 0:
            return value
        if isinstance(record, Row):
            index = field if isinstance(field, int) else record.field_index(field)
            return record.replace(index, value)
        if isinstance(record, tuple) and isinstance(field, int):
            return record[:field] + (value,) + record[field + 1:]
        if isinstance(record, list):
            copy = list(record)
            copy[field] = value  # type: ignore[index]
            return copy
        if isinstance(record, dict):
            return {**record, field: value}
        raise TypeError(f"cannot set field {field!r} of record {record!r}")
    return put


def summing(field: int | str) -> Callable[[Any, Any], Any]:
    get, put = _getter(field), _setter(field)
    return lambda acc, value: put(acc, get(acc) + get(value))


def field_extreme(field: int | str, smallest: bool) -> Callable[[Any, Any], Any]:
    get, put = _getter(field), _setter(field)

    def reduce(acc: Any, value: Any) -> Any:
        a, b = get(acc), get(value)
        better = b < a if smallest else b > a
        return put(acc, b) if better else acc
    return reduce


def record_extreme(field: int | str, smallest: bool) -> Callable[[Any, Any], Any]:
    get = _getter(field)

    def reduce(acc: Any, value: Any) -> Any:
        a, b = get(acc), get(value)
        better = b < a if smallest else b > a
        return value if better else acc
    return reduce
