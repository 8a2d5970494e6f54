"""Plain-text tables and the human-readable times shown in them.

What a table shows comes partly from users (job names, paths, failure messages), so
every cell is made safe for a terminal: control characters are escaped and long cells
are cut (``escape_control``, ``truncate``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

__all__ = [
    "MAX_CELL_WIDTH",
    "escape_control",
    "format_bytes",
    "format_count",
    "format_duration",
    "format_timestamp",
    "render_table",
    "truncate",
]

LEFT = "<"
RIGHT = ">"
MAX_CELL_WIDTH = 64
ELLIPSIS = "\u2026"
_GAP = "  "
# C0 and C1 controls, DEL, and the bidirectional overrides and isolates that reorder what
# a terminal shows ("Trojan Source"); ordinary text keeps its non-ASCII letters.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def escape_control(text: str) -> str:
    """``text`` with each control character shown as an escape (``\\x1b``, ``\\u202e``),
    so that it cannot move the cursor, recolour or rewrite the terminal."""
    return _CONTROL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def truncate(text: str, width: int) -> str:
    """``text`` cut to at most ``width`` characters, ending in an ellipsis when cut."""
    if len(text) <= width:
        return text
    return text[:max(width - 1, 0)] + ELLIPSIS


def render_table(headers: Sequence[str], rows: Sequence[Sequence[object]],
                 align: Sequence[str] | None = None,
                 max_widths: Sequence[int | None] | None = None) -> str:
    """Render ``rows`` under ``headers`` as columns padded to their widest cell.

    Args:
        headers: one title per column.
        rows: the cells of each row, one per column; each is shown with ``str()``
            (newlines become spaces, other control characters escapes).
        align: ``"<"`` (left, the default) or ``">"`` (right) per column.
        max_widths: the widest a cell may be, per column (None: as wide as it is); longer
            cells are cut and end in an ellipsis. Default: ``MAX_CELL_WIDTH`` for all.

    Returns:
        The table without a trailing newline; lines carry no trailing spaces.

    Raises:
        ValueError: when a row, ``align`` or ``max_widths`` does not have one entry per
            column.
    """
    columns = len(headers)
    alignment = list(align) if align is not None else [LEFT] * columns
    if len(alignment) != columns or any(a not in (LEFT, RIGHT) for a in alignment):
        raise ValueError(f"align needs one of '<' or '>' per column ({columns}), got {align!r}")
    limits = list(max_widths) if max_widths is not None else [MAX_CELL_WIDTH] * columns
    if len(limits) != columns:
        raise ValueError(f"max_widths needs one entry per column ({columns}), got {max_widths!r}")
    for index, row in enumerate(rows):
        if len(row) != columns:
            raise ValueError(f"row {index} has {len(row)} cells, the table has {columns} columns")
    cells = [[_cell(value, limit) for value, limit in zip(row, limits)] for row in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    lines = [_line(list(headers), widths, [LEFT] * columns)]
    lines.extend(_line(row, widths, alignment) for row in cells)
    return "\n".join(lines)


def _cell(value: object, max_width: int | None) -> str:
    text = escape_control(" ".join(str(value).splitlines()))
    return text if max_width is None else truncate(text, max_width)


def _line(cells: list[str], widths: list[int], alignment: list[str]) -> str:
    padded = [cell.rjust(width) if a == RIGHT else cell.ljust(width)
              for cell, width, a in zip(cells, widths, alignment)]
    return _GAP.join(padded).rstrip()


def format_timestamp(epoch_seconds: float) -> str:
    """A point in time as local ``YYYY-MM-DD HH:MM:SS``; ``-`` when unset (0)."""
    if epoch_seconds <= 0:
        return "-"
    return datetime.fromtimestamp(epoch_seconds).strftime("%Y-%m-%d %H:%M:%S")


def format_duration(seconds: float) -> str:
    """A length of time for people: ``850 ms``, ``12.3 s``, ``4m 05s``, ``2h 07m``, ``3d 04h``."""
    if seconds < 0:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"


def format_count(count: int) -> str:
    """A record count with thousands separators."""
    return f"{count:,}"


def format_bytes(size: int) -> str:
    """A size for people, in powers of 1024: ``512 B``, ``1.5 KiB``, ``12.0 MiB``."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"
