"""JSON rows (``pyflink.datastream.formats.json``).

``JsonRowDeserializationSchema`` reads a JSON object per message; with a
``Types.ROW_NAMED`` type it returns a ``Row`` of those fields in that order
(a missing field is None, or an error with ``fail_on_missing_field()``),
without one a ``dict``. ``JsonRowSerializationSchema`` writes a ``Row`` with
names, a ``dict``, or (given ``Types.ROW_NAMED``) a positional tuple as a JSON
object.
"""

from __future__ import annotations

import json
from typing import Any

from weir.common.serialization import DeserializationSchema, SerializationSchema
from weir.common.typeinfo import TypeInformation
from weir.common.types import Row

__all__ = ["JsonRowDeserializationSchema", "JsonRowSerializationSchema"]


def _field_names(type_info: TypeInformation | None) -> tuple[str, ...] | None:
    if type_info is None:
        return None
    if type_info.name != "ROW_NAMED":
        raise ValueError(f"JSON rows need Types.ROW_NAMED(...) type information, "
                         f"got {type_info!r}")
    return tuple(name for name, _ in type_info.params)


class JsonRowDeserializationSchema(DeserializationSchema):
    """A JSON object per message; build it with ``JsonRowDeserializationSchema.builder()``."""

    def __init__(self, type_info: TypeInformation | None = None,
                 fail_on_missing_field: bool = False, ignore_parse_errors: bool = False) -> None:
        if fail_on_missing_field and ignore_parse_errors:
            raise ValueError("JsonRowDeserializationSchema: fail_on_missing_field and "
                             "ignore_parse_errors cannot both be set")
        self.type_info = type_info
        self.fields = _field_names(type_info)
        self.fail_on_missing_field = fail_on_missing_field
        self.ignore_parse_errors = ignore_parse_errors

    def deserialize(self, message: bytes) -> Any:
        """The record; None for an unreadable message with ``ignore_parse_errors``."""
        try:
            value = json.loads(message)
            if not isinstance(value, dict):
                raise ValueError(  # noqa: TRY004 - a parse error, handled as one below
                    f"expected a JSON object, got {type(value).__name__}")
            if self.fields is None:
                return value
            if self.fail_on_missing_field:
                missing = [name for name in self.fields if name not in value]
                if missing:
                    raise ValueError(f"missing field(s) {', '.join(missing)}")
            return Row(**{name: value.get(name) for name in self.fields})
        except ValueError:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
            if self.ignore_parse_errors:
                return None
            raise

    @staticmethod
    def builder() -> JsonRowDeserializationSchema.Builder:
        return JsonRowDeserializationSchema.Builder()

    class Builder:
        def __init__(self) -> None:
            self._type_info: TypeInformation | None = None
            self._fail_on_missing_field = False
            self._ignore_parse_errors = False

        def type_info(self, type_info: TypeInformation) -> JsonRowDeserializationSchema.Builder:
            self._type_info = type_info
            return self

        def json_schema(self, json_schema: str) -> JsonRowDeserializationSchema.Builder:
            """The fields named by a JSON schema's ``properties``, all read as they come."""
            properties = json.loads(json_schema).get("properties", {})
            self._type_info = TypeInformation(
                "ROW_NAMED", tuple((name, TypeInformation("ANY")) for name in properties))
            return self

        def fail_on_missing_field(self) -> JsonRowDeserializationSchema.Builder:
            self._fail_on_missing_field = True
            return self

        def ignore_parse_errors(self) -> JsonRowDeserializationSchema.Builder:
            self._ignore_parse_errors = True
            return self

        def build(self) -> JsonRowDeserializationSchema:
            return JsonRowDeserializationSchema(self._type_info, self._fail_on_missing_field,
                                                self._ignore_parse_errors)


class JsonRowSerializationSchema(SerializationSchema):
    """A JSON object per record; build it with ``JsonRowSerializationSchema.builder()``."""

    def __init__(self, type_info: TypeInformation | None = None) -> None:
        self.type_info = type_info
        self.fields = _field_names(type_info)

    def serialize(self, element: Any) -> bytes:
        if isinstance(element, dict):
            value = element
        elif isinstance(element, Row) and element.get_fields_by_names():
            value = element.as_dict()
        elif self.fields is not None and isinstance(element, tuple | list):
            if len(element) != len(self.fields):
                raise ValueError(f"JsonRowSerializationSchema: {len(element)} values for "
                                 f"{len(self.fields)} fields {self.fields}")
            value = dict(zip(self.fields, element))
        else:
            raise TypeError(f"JsonRowSerializationSchema: cannot write a "
                            f"{type(element).__name__} as a JSON object (give "
                            f"Types.ROW_NAMED type information for positional rows)")
        return json.dumps(value, separators=(",", ":"), default=str).encode()

    @staticmethod
    def builder() -> JsonRowSerializationSchema.Builder:
        return JsonRowSerializationSchema.Builder()

    class Builder:
        def __init__(self) -> None:
            self._type_info: TypeInformation | None = None

        def with_type_info(self, type_info: TypeInformation) -> JsonRowSerializationSchema.Builder:
            self._type_info = type_info
            return self

        def build(self) -> JsonRowSerializationSchema:
            return JsonRowSerializationSchema(self._type_info)
