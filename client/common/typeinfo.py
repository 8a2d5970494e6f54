"""Type information (``pyflink.common.typeinfo.Types``).

weir accepts type information wherever PyFlink takes it and never requires
it: records are Python objects. The descriptors are kept so a job reads the
same as on PyFlink.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["TypeInformation", "Types"]


@dataclass(frozen=True)
class TypeInformation:
    """A named type descriptor; ``params`` holds nested types or field names."""

    name: str
    params: tuple = field(default=())

    def __repr__(self) -> str:
        return f"{self.name}{list(self.params) if self.params else ''}"


class Types:
    """Factory of type descriptors with PyFlink's names."""

    @staticmethod
    def STRING() -> TypeInformation:
        return TypeInformation("STRING")

    @staticmethod
    def BYTE() -> TypeInformation:
        return TypeInformation("BYTE")

    @staticmethod
    def BOOLEAN() -> TypeInformation:
        return TypeInformation("BOOLEAN")

    @staticmethod
    def SHORT() -> TypeInformation:
        return TypeInformation("SHORT")

    @staticmethod
    def INT() -> TypeInformation:
        return TypeInformation("INT")

    @staticmethod
    def LONG() -> TypeInformation:
        return TypeInformation("LONG")

    @staticmethod
    def FLOAT() -> TypeInformation:
        return TypeInformation("FLOAT")

    @staticmethod
    def DOUBLE() -> TypeInformation:
        return TypeInformation("DOUBLE")

    @staticmethod
    def CHAR() -> TypeInformation:
        return TypeInformation("CHAR")

    @staticmethod
    def BIG_INT() -> TypeInformation:
        return TypeInformation("BIG_INT")

    @staticmethod
    def BIG_DEC() -> TypeInformation:
        return TypeInformation("BIG_DEC")

    @staticmethod
    def SQL_DATE() -> TypeInformation:
        return TypeInformation("SQL_DATE")

    @staticmethod
    def SQL_TIME() -> TypeInformation:
        return TypeInformation("SQL_TIME")

    @staticmethod
    def SQL_TIMESTAMP() -> TypeInformation:
        return TypeInformation("SQL_TIMESTAMP")

    @staticmethod
    def INSTANT() -> TypeInformation:
        return TypeInformation("INSTANT")

    @staticmethod
    def PICKLED_BYTE_ARRAY() -> TypeInformation:
        return TypeInformation("PICKLED_BYTE_ARRAY")

    @staticmethod
    def PRIMITIVE_ARRAY(element_type: TypeInformation) -> TypeInformation:
        return TypeInformation("PRIMITIVE_ARRAY", (element_type,))

    @staticmethod
    def BASIC_ARRAY(element_type: TypeInformation) -> TypeInformation:
        return TypeInformation("BASIC_ARRAY", (element_type,))

    @staticmethod
    def OBJECT_ARRAY(element_type: TypeInformation) -> TypeInformation:
        return TypeInformation("OBJECT_ARRAY", (element_type,))

    @staticmethod
    def TUPLE(types: list[TypeInformation]) -> TypeInformation:
        return TypeInformation("TUPLE", tuple(types))

    @staticmethod
    def ROW(types: list[TypeInformation]) -> TypeInformation:
        return TypeInformation("ROW", tuple(types))

    @staticmethod
    def ROW_NAMED(names: list[str], types: list[TypeInformation]) -> TypeInformation:
        return TypeInformation("ROW_NAMED", tuple(zip(names, types)))

    @staticmethod
    def MAP(key_type: TypeInformation, value_type: TypeInformation) -> TypeInformation:
        return TypeInformation("MAP", (key_type, value_type))

    @staticmethod
    def LIST(element_type: TypeInformation) -> TypeInformation:
        return TypeInformation("LIST", (element_type,))
