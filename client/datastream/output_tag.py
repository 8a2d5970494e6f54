"""``OutputTag`` (``pyflink.datastream.output_tag``): names a side output of an operator."""

from __future__ import annotations

from weir.common.typeinfo import TypeInformation

__all__ = ["OutputTag"]


class OutputTag:
    """Identifies a side output stream; tags are equal when their ids are.

    A function emits to it with ``ctx.output(tag, value)`` or, as in PyFlink,
    by yielding ``(tag, value)``; ``DataStream.get_side_output(tag)`` reads it.
    """

    def __init__(self, tag_id: str, type_info: TypeInformation | None = None) -> None:
        if not isinstance(tag_id, str) or not tag_id:
            raise ValueError("OutputTag tag_id cannot be an empty string")
        self.tag_id = tag_id
        self.type_info = type_info

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OutputTag) and other.tag_id == self.tag_id

    def __hash__(self) -> int:
        return hash(self.tag_id)

    def __repr__(self) -> str:
        return f"OutputTag({self.tag_id!r})"
