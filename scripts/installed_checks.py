"""Checks that need ``weir`` laid out as it is installed (``make lint``; the import
contracts also in a unit test): the import-linter contracts in pyproject.toml, and mypy.

``weir`` is assembled from several top-level folders (setuptools ``package-dir``),
which neither import-linter nor mypy can follow: they walk the folder of the root
package. So both run on a temporary copy of the package laid out as it is installed.

Usage: python scripts/installed_checks.py   (exit code 0 when both pass)
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
MYPY = Path(sys.executable).with_name("mypy")

__all__ = ["installed_layout", "lint_imports", "type_check"]


def installed_layout(target: Path, repo: Path = REPO) -> Path:
    """Copy the package folders of the checkout at ``repo`` to ``target`` as their import
    names lay them out."""
    pyproject = tomllib.loads((repo / "pyproject.toml").read_text())
    package_dir = pyproject["tool"]["setuptools"]["package-dir"]
    for name, folder in sorted(package_dir.items(), key=lambda item: item[0].count(".")):
        shutil.copytree(repo / folder, target.joinpath(*name.split(".")),
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def lint_imports(layout: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run lint-imports with pyproject's contracts on the package copy at ``layout``."""
    env = dict(os.environ, PYTHONPATH=str(layout))
    return subprocess.run([str(LINT_IMPORTS), str(PYPROJECT), "--no-cache"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def type_check(layout: Path) -> subprocess.CompletedProcess[str]:
    """Run mypy over the package copy at ``layout`` (libraries without types are skipped)."""
    return subprocess.run([str(MYPY), "-p", "weir", "--ignore-missing-imports",
                           "--no-incremental"], cwd=layout, capture_output=True, text=True,
                          timeout=600, check=False)


def main() -> int:
    failed = False
    with tempfile.TemporaryDirectory() as scratch:
        layout = installed_layout(Path(scratch) / "site")
        for result in (lint_imports(layout, Path(scratch)), type_check(layout)):
            print(result.stdout, end="")
            print(result.stderr, end="", file=sys.stderr)
            failed |= result.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
