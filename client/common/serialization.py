"""Record encoders for row-format file sinks and the (de)serialization schemas of message
connectors such as Kafka (``pyflink.common.serialization``)."""

from __future__ import annotations

import abc
from typing import Any

__all__ = ["DeserializationSchema", "Encoder", "SerializationSchema", "SimpleStringEncoder",
           "SimpleStringSchema"]


class Encoder(abc.ABC):
    """Turns records into the bytes a row-format ``FileSink`` appends to its part files.

    Subclass it and implement ``encode`` for your own row format; override
    ``encode_batch`` when a whole batch can be encoded faster at once.
    """

    @abc.abstractmethod
    def encode(self, element: Any) -> bytes:
        """The bytes of one record, including its delimiter."""

    def encode_batch(self, elements: list[Any]) -> bytes:
        """The bytes of the records, in order: the same as joining ``encode`` of each."""
        return b"".join(map(self.encode, elements))

    @staticmethod
    def simple_string_encoder(charset_name: str = "UTF-8") -> Encoder:
        """Writes ``str(record)`` followed by a newline, in ``charset_name``."""
        return SimpleStringEncoder(charset_name)


class SimpleStringEncoder(Encoder):
    """``str(record) + "\\n"`` in the given charset (Flink's ``SimpleStringEncoder``)."""

    def __init__(self, charset_name: str = "UTF-8") -> None:
        # An unknown charset fails here, when the job is built. A charset that marks
        # each encoding (a UTF-16 byte order mark) cannot encode a batch in one go.
        self._joinable = "ab".encode(charset_name) == (
            "a".encode(charset_name) + "b".encode(charset_name))
        self.charset_name = charset_name

    def encode(self, element: Any) -> bytes:
        return f"{element}\n".encode(self.charset_name)

    def encode_batch(self, elements: list[Any]) -> bytes:
        if not self._joinable:
            return super().encode_batch(elements)
        return "".join([f"{element}\n" for element in elements]).encode(self.charset_name)


class DeserializationSchema(abc.ABC):
    """Turns the bytes of a message (e.g. a Kafka record's value) into a record.

    It raises on bytes it cannot read; the connector decides what happens then
    (the Kafka source fails the job by default, naming the record's topic,
    partition and offset).
    """

    @abc.abstractmethod
    def deserialize(self, message: bytes) -> Any: ...


class SerializationSchema(abc.ABC):
    """Turns a record into the bytes of a message."""

    @abc.abstractmethod
    def serialize(self, element: Any) -> bytes: ...


class SimpleStringSchema(DeserializationSchema, SerializationSchema):
    """Messages are strings in ``charset`` (Flink's ``SimpleStringSchema``); ``serialize``
    writes ``str(element)``."""

    def __init__(self, charset: str = "UTF-8") -> None:
        "".encode(charset)  # an unknown charset fails when the job is built
        self.charset = charset

    def deserialize(self, message: bytes) -> str:
        return message.decode(self.charset)

    def serialize(self, element: Any) -> bytes:
        return str(element).encode(self.charset)
