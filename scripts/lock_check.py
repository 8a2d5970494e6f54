"""What a fresh resolve of pyproject.toml's ranges would change in a committed lock.

``make lock-check`` runs it (a scheduled-style check, not part of ``make test``): it
resolves from scratch into a temporary file, ignoring the pins already committed, and
prints every package whose pinned version would change, appear or go.

Usage: python scripts/lock_check.py UV LOCK -- COMPILE_ARGS...   (exit code 1 on changes)
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)(?:\s*;\s*([^\\]+?))?\s*\\?$")

__all__ = ["lock_changes", "pins"]


def pins(lock_text: str) -> dict[str, str]:
    """``name[; marker]`` -> version for every pin in a lock file's text."""
    found = {}
    for line in lock_text.splitlines():
        match = _PIN.match(line)
        if match:
            name, version, marker = match.groups()
            key = name.lower().replace("_", "-") + (f"; {marker}" if marker else "")
            found[key] = version
    return found


def lock_changes(locked: dict[str, str], fresh: dict[str, str]) -> list[str]:
    """One line per package whose pin differs between the committed and a fresh lock."""
    changes = []
    for name in sorted(locked.keys() | fresh.keys()):
        old, new = locked.get(name), fresh.get(name)
        if old != new:
            changes.append(f"{name}: {old or '(absent)'} -> {new or '(removed)'}")
    return changes


def main(argv: list[str]) -> int:
    uv, lock, separator, *compile_args = argv
    if separator != "--":
        print(__doc__, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / "fresh.txt"
        subprocess.run([uv, "pip", "compile", *compile_args, "-o", str(output)], check=True)
        changes = lock_changes(pins(Path(lock).read_text()), pins(output.read_text()))
    if not changes:
        print(f"{lock}: a fresh resolve pins the same versions")
        return 0
    print(f"{lock}: a fresh resolve would change {len(changes)} pin(s) "
          "(`make lock UPGRADE=1` takes them):")
    for change in changes:
        print(f"  {change}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
