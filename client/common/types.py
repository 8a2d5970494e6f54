"""``Row``: a tuple with optional field names (``pyflink.common.Row``)."""

from __future__ import annotations

from typing import Any, Self

__all__ = ["Row"]


class Row(tuple):
    """A record of positional values, optionally named.

    ``Row(1, "a")`` is positional; ``Row(id=1, name="a")`` also names its
    fields, readable as ``row.id`` or ``row["id"]``.
    """

    _fields: tuple[str, ...]

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        if args and kwargs:
            raise ValueError("Row takes positional or named values, not both")
        if kwargs:
            row = super().__new__(cls, kwargs.values())
            row._fields = tuple(kwargs)
        else:
            row = super().__new__(cls, args)
            row._fields = ()
        return row

    def __getnewargs_ex__(self) -> tuple[tuple, dict]:
        if self._fields:
            return (), dict(zip(self._fields, self))
        return tuple(self), {}

    def as_dict(self) -> dict[str, Any]:
        if not self._fields:
            raise ValueError("this Row has no field names")
        return dict(zip(self._fields, self))

    def get_fields_by_names(self) -> tuple[str, ...]:
        return self._fields

    def field_index(self, name: str) -> int:
        try:
            return self._fields.index(name)
        except ValueError:
            raise KeyError(f"Row has no field {name!r}; fields are {list(self._fields)}") from None

    def replace(self, index: int, value: Any) -> Row:
        values = list(self)
        values[index] = value
        if self._fields:
            return Row(**dict(zip(self._fields, values)))
        return Row(*values)

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, str):
            return tuple.__getitem__(self, self.field_index(item))
        return tuple.__getitem__(self, item)

    def __getattr__(self, name: str) -> Any:
        fields = self.__dict__.get("_fields", ())
        if name in fields:
            return tuple.__getitem__(self, fields.index(name))
        raise AttributeError(name)

    def __repr__(self) -> str:
        if self._fields:
            inner = ", ".join(f"{k}={v!r}" for k, v in zip(self._fields, self))
        else:
            inner = ", ".join(repr(v) for v in self)
        return f"Row({inner})"
