"""Check the import-linter contracts in pyproject.toml (``make lint``, and a unit test).

``weir`` is assembled from several top-level folders (setuptools ``package-dir``),
which import-linter cannot follow: it only walks the folder of the root package.
So the check runs on a temporary copy of the package laid out as it is installed.

Usage: python scripts/lint_imports.py   (exit code: lint-imports')
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = REPO / "pyproject.toml"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

__all__ = ["installed_layout", "lint_imports"]


def installed_layout(target: Path) -> Path:
    """Copy the package folders to ``target`` as their import names lay them out."""
    package_dir = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["package-dir"]
    for name, folder in sorted(package_dir.items(), key=lambda item: item[0].count(".")):
        shutil.copytree(REPO / folder, target.joinpath(*name.split(".")),
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def lint_imports(layout: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run lint-imports with pyproject's contracts on the package copy at ``layout``."""
    env = dict(os.environ, PYTHONPATH=str(layout))
    return subprocess.run([str(LINT_IMPORTS), "--config", str(PYPROJECT), "--no-cache"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        result = lint_imports(installed_layout(Path(scratch) / "site"), Path(scratch))
    print(result.stdout, end="")
    print(result.stderr, end="", file=sys.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
