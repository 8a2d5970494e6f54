"""The container image (deploy/Dockerfile), tested without a container engine: its build
stage's own instructions run here — the lock installed into a clean virtualenv with hashes
and wheels only, weir built as a wheel and installed without resolving anything — and the
result must be complete (``pip check``) and run ``weir --version`` and ``weir jobmanager
--help``. The final stage is checked for what the chart relies on: a non-root numeric user,
``weir`` as entrypoint, the uid the chart's securityContext uses.

The dependency layer (a few hundred MB) is cached under build/image-test/, keyed by its
instruction and the lock, as Docker's layer cache would: the first run takes a minute or
more, later runs seconds."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.deploy.chart import CHART, REPO

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

DOCKERFILE = REPO / "deploy" / "Dockerfile"
CACHE = REPO / "build" / "image-test"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)


def _instructions(text: str) -> Iterator[tuple[str, str]]:
    logical = re.sub(r"\\\n", " ", text)
    for line in logical.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            yield keyword.upper(), rest.strip()


def _stages() -> tuple[dict[str, str], list[Stage]]:
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for keyword, rest in _instructions(DOCKERFILE.read_text()):
        if keyword == "FROM":
            image, _, name = rest.partition(" AS ")
            for arg, value in args.items():
                image = image.replace("${" + arg + "}", value)
            stages.append(Stage(image, name.strip() or None))
        elif keyword == "ARG" and not stages:
            arg, _, value = rest.partition("=")
            args[arg] = value
        else:
            stages[-1].instructions.append((keyword, rest))
    return args, stages


def _dockerignore_includes(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    included = True
    parts = path.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for raw in (REPO / ".dockerignore").read_text().splitlines():
        raw = raw.strip()
        if not raw or raw.startswith("#"):
            continue
        negated = raw.startswith("!")
        pattern = raw.lstrip("!").rstrip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*", "[^/]*") \
            .replace(r"\?", "[^/]")
        if any(re.fullmatch(regex, candidate) for candidate in candidates):
            included = negated
    return included


# ------------------------------------------------------------------ the Dockerfile's shape


def test_a_multi_stage_build_on_a_slim_python() -> None:
    args, stages = _stages()
    build, final = stages[0], stages[-1]

    assert len(stages) == 2 and build.name == "build"
    for stage in stages:
        assert re.fullmatch(r"python:3\.1[12]-slim-\w+", stage.base), stage.base
    assert args["PYTHON_VERSION"] in ("3.11", "3.12")  # what the locks pin for
    copied_from_build = [rest for keyword, rest in final.instructions
                         if keyword == "COPY" and rest.startswith("--from=build")]
    assert copied_from_build == ["--from=build /opt/weir /opt/weir"]
    assert not [rest for keyword, rest in final.instructions if keyword == "RUN"
                and re.search(r"pip|apt-get install", rest)], "the final stage installs nothing"


def test_the_image_runs_weir_as_the_charts_non_root_user() -> None:
    _, stages = _stages()
    final = stages[-1]
    build_args = dict(rest.split("=", 1) for keyword, rest in final.instructions
                      if keyword == "ARG")
    (user,) = [rest for keyword, rest in final.instructions if keyword == "USER"]
    (entrypoint,) = [rest for keyword, rest in final.instructions if keyword == "ENTRYPOINT"]
    uid = int(user.split(":")[0].replace("${WEIR_UID}", build_args["WEIR_UID"]))
    chart_values = yaml.safe_load((CHART / "values.yaml").read_text())

    assert uid != 0
    assert uid == chart_values["podSecurityContext"]["runAsUser"]
    assert json.loads(entrypoint) == ["weir"]


def test_the_build_context_holds_the_sources_and_nothing_else() -> None:
    _, stages = _stages()
    sources = [source for keyword, rest in stages[0].instructions if keyword == "COPY"
               for source in rest.split()[:-1]]
    assert "client" in sources and "requirements/runtime.txt" in sources
    for source in sources:
        assert _dockerignore_includes(source), f"COPY {source}: excluded by .dockerignore"
    for secret_or_junk in (".venv", ".git", "tests", "build", "requirements/test.txt",
                           "client/__pycache__", "core/checkpoint/__pycache__/x.pyc"):
        assert not _dockerignore_includes(secret_or_junk), secret_or_junk


# ------------------------------------------------------------------ the build stage, run here


def _translate(command: str, paths: dict[str, Path]) -> str:
    for container_path, host_path in paths.items():
        command = re.sub(rf"(?<![\w/]){re.escape(container_path)}(?=[/\s]|$)",
                         str(host_path), command)
    return re.sub(r"^python(?= )", sys.executable, command)


def _copy_from_context(source: str, destination: Path) -> None:
    origin = REPO / source
    if origin.is_file():
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(origin, destination)
        return
    for path in origin.rglob("*"):
        relative = path.relative_to(REPO).as_posix()
        if path.is_file() and _dockerignore_includes(relative):
            target = destination / path.relative_to(origin)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


@pytest.fixture(scope="module")
def built_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Runs the build stage; yields the virtualenv the final stage copies (/opt/weir)."""
    _, stages = _stages()
    work = tmp_path_factory.mktemp("image")
    src, dist = work / "src", work / "dist"
    src.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(work), "LANG": "C.UTF-8"}
    layer_key = hashlib.sha256()
    venv: Path | None = None
    run_copy = None
    for keyword, rest in stages[0].instructions:
        if keyword == "ENV":
            env.update(dict(re.findall(r"(\w+)=(\S+)", rest)))
        elif keyword == "COPY":
            *sources, destination = rest.split()  # relative to WORKDIR /src
            for source in sources:
                into_directory = destination.endswith("/") or len(sources) > 1
                target = (src / destination / Path(source).name if into_directory
                          else src / destination)
                _copy_from_context(source, target)
                if (REPO / source).is_file():
                    layer_key.update((REPO / source).read_bytes())
        elif keyword == "RUN" and venv is None:
            # The dependency layer: cached by its instruction and the files copied before it.
            layer_key.update(rest.encode() + sys.version.encode())
            cached = CACHE / layer_key.hexdigest()[:16]
            if not (cached / "done").exists():
                for stale in CACHE.glob("*"):  # an older lock's layer
                    shutil.rmtree(stale, ignore_errors=True)
                cached.mkdir(parents=True)
                subprocess.run(["/bin/sh", "-ec", _translate(rest, {"/opt/weir": cached / "venv"})],
                               cwd=src, env=env, check=True, timeout=800)
                (cached / "done").touch()
            run_copy = CACHE / f"run-{os.getpid()}"
            shutil.rmtree(run_copy, ignore_errors=True)
            subprocess.run(["cp", "-al", str(cached / "venv"), str(run_copy)], check=True)
            venv = run_copy
        elif keyword == "RUN":
            assert venv is not None
            subprocess.run(["/bin/sh", "-ec", _translate(rest, {"/opt/weir": venv,
                                                                 "/dist": dist})],
                           cwd=src, env=env, check=True, timeout=300)
    assert venv is not None
    try:
        yield venv
    finally:
        if run_copy is not None:
            shutil.rmtree(run_copy, ignore_errors=True)


def _weir(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(cwd),
           "PYTHONDONTWRITEBYTECODE": "1", "RAY_USAGE_STATS_ENABLED": "0"}
    return subprocess.run(["weir", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_the_wheel_installs_from_the_lock_alone(built_image: Path) -> None:
    check = subprocess.run([str(built_image / "bin" / "python"), "-m", "pip", "check"],
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    installed = subprocess.run(
        [str(built_image / "bin" / "python"), "-c",
         ("import weir, weir.jobmanager, weir.taskmanager, weir.proto, grpc_health; "
          "print(weir.__file__)")], capture_output=True, text=True, check=True)
    assert "/site-packages/weir/" in installed.stdout  # the wheel, not the repository


def test_the_entrypoint_runs(built_image: Path, tmp_path: Path) -> None:
    version = _weir(built_image, "--version", cwd=tmp_path)
    help_text = _weir(built_image, "jobmanager", "--help", cwd=tmp_path)

    assert version.returncode == 0 and version.stdout == "weir 0.1.0\n", version.stderr
    assert help_text.returncode == 0, help_text.stderr
    for flag in ("--host", "--advertised-host", "--taskmanager-bind-host", "--ray-address",
                 "--token-file", "-D KEY=VALUE"):
        assert flag in help_text.stdout
    chart_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    assert version.stdout.split()[1] == chart_version


def test_the_dockerignore_matcher_follows_docker() -> None:
    """A parent's match covers its children; the last matching pattern decides."""
    assert not _dockerignore_includes("examples/word_count.py")
    assert not _dockerignore_includes("scripts")
    assert _dockerignore_includes("client/cli/main.py")
    assert not _dockerignore_includes("client/cli/__pycache__/main.cpython-311.pyc")
