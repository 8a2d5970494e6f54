"""The committed locks pin what pyproject.toml asks for, and ``make lock-check`` reports
exactly the pins a fresh resolve would change."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from scripts.lock_check import lock_changes, pins

REPO = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _requirements(*extras: str) -> list[Requirement]:
    declared = PROJECT["dependencies"] + [
        spec for extra in extras for spec in PROJECT["optional-dependencies"][extra]]
    return [Requirement(spec) for spec in declared]


@pytest.mark.parametrize(("lock", "extras"), [("runtime.txt", ()), ("test.txt", ("test",))])
def test_every_declared_dependency_is_pinned_within_its_range(lock, extras):
    pinned = pins((REPO / "requirements" / lock).read_text())
    for requirement in _requirements(*extras):
        name = requirement.name.lower().replace("_", "-")
        assert name in pinned, f"{name} is not in requirements/{lock}: run `make lock`"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"requirements/{lock} pins {name}=={pinned[name]} outside {requirement}: "
            "run `make lock`")


def test_the_runtime_lock_pins_the_same_versions_as_the_test_lock():
    runtime = pins((REPO / "requirements" / "runtime.txt").read_text())
    test = pins((REPO / "requirements" / "test.txt").read_text())
    assert {name: test.get(name) for name in runtime} == runtime


def test_lock_changes_names_each_changed_added_and_removed_pin():
    locked = pins("ray==2.60.0 \\\n    --hash=sha256:00\ncolorama==0.4.6 ; sys_platform == 'win32' \\\n"
                  "six==1.16.0\n")
    fresh = pins("ray==2.61.0 \\\ncolorama==0.4.6 ; sys_platform == 'win32'\nidna==3.10\n")
    assert locked["colorama; sys_platform == 'win32'"] == "0.4.6"
    assert lock_changes(locked, fresh) == [
        "idna: (absent) -> 3.10", "ray: 2.60.0 -> 2.61.0", "six: 1.16.0 -> (removed)"]
    assert lock_changes(locked, locked) == []
