"""Mistakes that surface inside weir's code on the TaskManagers fail the job with a line
that says what to fix: an unhashable key, functions that need a module the TaskManagers
cannot import."""

from __future__ import annotations

import sys

import pytest

from weir.common.job_client import JobExecutionException
from weir.datastream import StreamExecutionEnvironment


def failure_of(env: StreamExecutionEnvironment, name: str) -> str:
    with pytest.raises(JobExecutionException) as failure:
        env.execute(name)
    return str(failure.value)


@pytest.mark.parametrize("parallelism", [1, 2])
def test_an_unhashable_key_says_keys_must_be_hashable(cluster, parallelism):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    (env.from_collection([(1, 2), (3, 4), (1, 5)])
        .key_by(lambda record: [record[0]])
        .reduce(lambda a, b: (a[0], a[1] + b[1]))
        .add_sink(lambda record: None))
    message = failure_of(env, "unhashable-key")
    assert "TypeError: unhashable type: 'list'" in message
    assert "key selector returned an unhashable value" in message


def test_an_unhashable_value_in_a_user_function_gets_no_key_hint(cluster):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    env.from_collection([1, 2]).map(lambda x: {[x]}).add_sink(lambda record: None)
    message = failure_of(env, "unhashable-in-map")
    assert "TypeError: unhashable type: 'list'" in message
    assert "key selector" not in message  # the user's own code raised it


def test_functions_that_need_a_module_the_taskmanagers_lack(cluster, tmp_path, monkeypatch):
    (tmp_path / "pricing_rules.py").write_text("def surcharge(x):\n    return x + 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # importable here, not on the TaskManagers
    import pricing_rules

    try:
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(1)
        env.from_collection([1, 2]).map(pricing_rules.surcharge).add_sink(lambda r: None)
        message = failure_of(env, "missing-module")
    finally:
        sys.modules.pop("pricing_rules", None)
    assert "No module named 'pricing_rules'" in message
    assert "the job's functions need pricing_rules" in message
