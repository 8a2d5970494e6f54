"""The import-linter contracts in pyproject.toml hold, and a forbidden import breaks its
contract (on the installed layout that ``scripts/installed_checks.py`` builds)."""

from __future__ import annotations

import tomllib

import pytest

from scripts.installed_checks import PYPROJECT, installed_layout, lint_imports


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
    ("weir/cli/_violation.py", "import weir.jobmanager.scheduler\n",
     "The client never imports the runtime"),
    ("weir/keygroups/__init__.py", "import weir.jobmanager.scheduler\n",
     "Core imports neither the API, the runtime nor connectors"),
    ("weir/graph/_violation.py", "from weir.datastream import functions\n",
     "Core imports neither the API, the runtime nor connectors"),
    ("weir/checkpoint/_violation.py", "from weir.datastream.connectors import file_system\n",
     "Core imports neither the API, the runtime nor connectors"),
    ("weir/jobmanager/_violation.py", "from weir.datastream.connectors.file_system import sink\n",
     "The JobManager never imports connectors"),
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
