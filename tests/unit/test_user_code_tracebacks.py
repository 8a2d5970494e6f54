"""A user function that fails on a TaskManager names its file and shows its source line,
whatever the cloudpickle version, even where the TaskManager has no copy of the file."""

from __future__ import annotations

import linecache
import runpy
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

from weir.common import WatermarkStrategy
from weir.datastream import StreamExecutionEnvironment
from weir.datastream._aggregations import summing
from weir.datastream.connectors.number_seq import NumberSequenceSource
from weir.graph import user_code
from weir.graph.generator import build_job_graph

JOB_FILE = '''\
def reject_thirteen(x):
    if x == 13:
        raise ValueError(f"unlucky record {x}")
    return x


def key_of(x):
    return (lambda y: y // 0)(x)
'''


@pytest.fixture
def job_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "my_job.py"
    path.write_text(JOB_FILE)
    yield path
    linecache.cache.pop(str(path), None)


def job_functions(path: Path) -> dict[str, Any]:
    """The file's functions as ``weir run`` makes them: the file runs as ``__main__``."""
    return runpy.run_path(str(path), run_name="__main__")


def on_a_taskmanager_without(path: Path, payload: bytes) -> Any:
    """Unpickle as a TaskManager does, where ``path`` does not exist."""
    path.unlink()
    linecache.checkcache(str(path))  # forget what the client process read of it
    return cloudpickle.loads(payload)


def failure_text(function: Callable[[int], Any], argument: int) -> str:
    with pytest.raises(Exception) as failure:
        function(argument)
    return "".join(traceback.format_exception(failure.value))


def test_a_failing_job_function_names_its_file_and_source_line(job_file: Path) -> None:
    functions = job_functions(job_file)
    env = StreamExecutionEnvironment.get_execution_environment()
    (env.from_source(NumberSequenceSource(0, 99), WatermarkStrategy.no_watermarks(), "numbers")
        .map(functions["reject_thirteen"]).print())
    graph = build_job_graph(env._transformations, "job", 1, 128, {})

    specs = on_a_taskmanager_without(job_file, graph.vertices[0].operator_chain)
    text = failure_text(specs[1].function, 13)

    assert f'File "{job_file}", line 3, in reject_thirteen' in text, text
    assert 'raise ValueError(f"unlucky record {x}")' in text, text
    assert "<dynamic-code>" not in text


def test_nested_code_keeps_its_file_and_source_line(job_file: Path) -> None:
    payload = user_code.dumps(job_functions(job_file)["key_of"])

    text = failure_text(on_a_taskmanager_without(job_file, payload), 7)

    assert f'File "{job_file}", line 8, in <lambda>' in text, text
    assert "return (lambda y: y // 0)(x)" in text, text


def test_a_file_travels_once_per_payload(job_file: Path) -> None:
    functions = job_functions(job_file)

    payload = user_code.dumps([functions["reject_thirteen"], functions["key_of"]])

    assert payload.count(b"def reject_thirteen") == 1


def test_installed_files_do_not_travel() -> None:
    """weir's own closures (here behind ``sum()``) are pickled by value, their source not."""
    payload = user_code.dumps(summing(1))

    assert cloudpickle.loads(payload)((1, 2), (1, 3)) == (1, 5)
    assert b"def summing" not in payload and b"lambda acc, value" not in payload
