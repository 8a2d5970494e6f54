"""Memory sizes in Flink's configuration syntax ("64 mb", "8m", "1 gb", "512")."""

from __future__ import annotations

import re

from weir.config.configuration import ConfigError

__all__ = ["parse_memory_size"]

_UNIT_BYTES: dict[str, int] = {
    **dict.fromkeys(("", "b", "bytes"), 1),
    **dict.fromkeys(("k", "kb", "kibibytes"), 1 << 10),
    **dict.fromkeys(("m", "mb", "mebibytes"), 1 << 20),
    **dict.fromkeys(("g", "gb", "gibibytes"), 1 << 30),
    **dict.fromkeys(("t", "tb", "tebibytes"), 1 << 40),
}
_SIZE = re.compile(r"\s*(\d+)\s*([a-zA-Z]*)\s*")


def parse_memory_size(value: str, key: str) -> int:
    """Bytes of a memory size: a non-negative integer and an optional unit (b, kb, mb, gb,
    tb, powers of 1024 as in Flink); a plain number is bytes.

    Raises:
        ConfigError: naming ``key``, when ``value`` is not such a size.
    """
    match = _SIZE.fullmatch(str(value))
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNIT_BYTES:
        raise ConfigError(f"configuration '{key}' must be a memory size such as '64 mb' or "
                          f"'1 gb' (a plain number is bytes), got {value!r}")
    return int(match.group(1)) * _UNIT_BYTES[unit]
