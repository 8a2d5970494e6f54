"""The import-linter contracts in pyproject.toml hold (``lint-imports`` exits 0).

``weir`` is assembled from several top-level folders (setuptools ``package-dir``),
which import-linter cannot follow: it only walks the folder of the root package.
So the check runs on a copy of the package laid out as it is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = REPO / "pyproject.toml"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def installed_layout(target: Path) -> Path:
    """Copy the package folders to ``target`` as their import names lay them out."""
    package_dir = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["package-dir"]
    for name, folder in sorted(package_dir.items(), key=lambda item: item[0].count(".")):
        shutil.copytree(REPO / folder, target.joinpath(*name.split(".")),
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def lint_imports(layout: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(layout))
    return subprocess.run([str(LINT_IMPORTS), "--config", str(PYPROJECT), "--no-cache"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
                          check=False)


def contract_names() -> list[str]:
    contracts = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    return [contract["name"] for contract in contracts]


def test_the_import_contracts_hold(tmp_path):
    result = lint_imports(installed_layout(tmp_path / "site"), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(contract_names())} kept, 0 broken." in result.stdout


@pytest.mark.parametrize(("module", "source", "contract"), [
    ("weir/datastream/_violation.py", "from weir.taskmanager import task\n",
     "The client never imports the runtime"),
    ("weir/keygroups.py", "import weir.jobmanager.scheduler\n",
     "The client never imports the runtime"),
    ("weir/jobmanager/_violation.py", "import weir.taskmanager.actor\n",
     "JobManager and TaskManager never import each other"),
    ("weir/proto/_violation.py", "from weir.graph import generator\n",
     "Generated protocol code depends on nothing of weir"),
])
def test_a_forbidden_import_breaks_its_contract(tmp_path, module, source, contract):
    layout = installed_layout(tmp_path / "site")
    with (layout / module).open("a") as file:
        file.write(source)
    result = lint_imports(layout, tmp_path)
    assert result.returncode != 0
    assert f"{contract} BROKEN" in result.stdout
