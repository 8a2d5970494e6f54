"""Plain-text tables and the human-readable times shown in them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

__all__ = ["format_bytes", "format_count", "format_duration", "format_timestamp", "render_table"]

LEFT = "<"
RIGHT = ">"
_GAP = "  "


def render_table(headers: Sequence[str], rows: Sequence[Sequence[object]],
                 align: Sequence[str] | None = None) -> str:
    """Render ``rows`` under ``headers`` as columns padded to their widest cell.

    Args:
        headers: one title per column.
        rows: the cells of each row, one per column; each is shown with ``str()``
            (newlines become spaces).
        align: ``"<"`` (left, the default) or ``">"`` (right) per column.

    Returns:
        The table without a trailing newline; lines carry no trailing spaces.

    Raises:
        ValueError: when a row or ``align`` does not have one entry per column.
    """
    columns = len(headers)
    alignment = list(align) if align is not None else [LEFT] * columns
    if len(alignment) != columns or any(a not in (LEFT, RIGHT) for a in alignment):
        raise ValueError(f"align needs one of '<' or '>' per column ({columns}), got {align!r}")
    cells = [[_cell(value) for value in row] for row in rows]
    for index, row in enumerate(cells):
        if len(row) != columns:
            raise ValueError(f"row {index} has {len(row)} cells, the table has {columns} columns")
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    lines = [_line(list(headers), widths, [LEFT] * columns)]
    lines.extend(_line(row, widths, alignment) for row in cells)
    return "\n".join(lines)


def _cell(value: object) -> str:
    return " ".join(str(value).splitlines())


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
