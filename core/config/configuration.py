"""Configuration with Flink's option names (``pyflink.common.Configuration``)."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

__all__ = ["ConfigError", "Configuration"]


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message says which key and why."""


class Configuration:
    """String key/value configuration, as in PyFlink.

    Values are stored as strings so they travel unchanged in the job graph.
    """

    def __init__(self, other: Configuration | Mapping[str, Any] | None = None) -> None:
        self._data: dict[str, str] = {}
        if isinstance(other, Configuration):
            self._data.update(other._data)
        elif other is not None:
            for key, value in other.items():
                self.set_string(key, _to_str(value))

    def set_string(self, key: str, value: str) -> Configuration:
        self._data[key] = str(value)
        return self

    def get_string(self, key: str, default_value: str | None = None) -> str | None:
        return self._data.get(key, default_value)

    def set_integer(self, key: str, value: int) -> Configuration:
        # int() would truncate a float and accept a string unchecked.
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ConfigError(f"configuration '{key}' must be set to an integer, got {value!r}")
        return self.set_string(key, str(int(value)))

    def get_integer(self, key: str, default_value: int = 0) -> int:
        raw = self._data.get(key)
        if raw is None:
            return default_value
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"configuration '{key}' must be an integer, got {raw!r}") from None

    def set_boolean(self, key: str, value: bool) -> Configuration:
        return self.set_string(key, "true" if value else "false")

    def get_boolean(self, key: str, default_value: bool = False) -> bool:
        raw = self._data.get(key)
        if raw is None:
            return default_value
        if raw.lower() in ("true", "1", "yes"):
            return True
        if raw.lower() in ("false", "0", "no"):
            return False
        raise ConfigError(f"configuration '{key}' must be true or false, got {raw!r}")

    def set_float(self, key: str, value: float) -> Configuration:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ConfigError(f"configuration '{key}' must be set to a number, got {value!r}")
        return self.set_string(key, repr(float(value)))

    def get_float(self, key: str, default_value: float = 0.0) -> float:
        raw = self._data.get(key)
        if raw is None:
            return default_value
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"configuration '{key}' must be a number, got {raw!r}") from None

    def contains_key(self, key: str) -> bool:
        return key in self._data

    def remove_config(self, key: str) -> bool:
        return self._data.pop(key, None) is not None

    def add_all(self, other: Configuration) -> Configuration:
        self._data.update(other._data)
        return self

    def key_set(self) -> set[str]:
        return set(self._data)

    def to_dict(self) -> dict[str, str]:
        return dict(self._data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Configuration) and other._data == self._data

    def __repr__(self) -> str:
        return f"Configuration({self._data!r})"


def _to_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
