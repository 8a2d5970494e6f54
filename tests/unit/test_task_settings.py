"""A task reads its batching and flow-control settings once, and names the key it cannot use."""

from __future__ import annotations

import pytest

from weir.config import ConfigError
from weir.taskmanager.task_settings import TaskSettings


def test_defaults_are_flinks_buffer_timeout_and_the_measured_batch_sizes():
    assert TaskSettings.from_configuration({}) == TaskSettings(
        buffer_timeout_s=0.1, buffer_records=500, credits=2, source_batch=500)


def test_configured_values_are_read():
    settings = TaskSettings.from_configuration({
        "execution.buffer-timeout": "5", "taskmanager.network.buffer-records": "64",
        "taskmanager.network.credits-per-channel": "4", "source.batch-records": "1000"})
    assert settings == TaskSettings(buffer_timeout_s=0.005, buffer_records=64, credits=4,
                                    source_batch=1000)


def test_a_negative_buffer_timeout_flushes_every_batch():
    assert TaskSettings.from_configuration({"execution.buffer-timeout": "-1"}) \
        .buffer_timeout_s == 0.0


@pytest.mark.parametrize(("key", "value", "message"), [
    ("taskmanager.network.buffer-records", "abc",
     "configuration 'taskmanager.network.buffer-records' must be an integer, got 'abc'"),
    ("taskmanager.network.buffer-records", "0",
     r"taskmanager.network.buffer-records must be at least 1 \(records per network buffer\)"),
    ("source.batch-records", "-5",
     r"source.batch-records must be at least 1 \(records per source poll\); got -5"),
    ("execution.buffer-timeout", "1.5",
     "configuration 'execution.buffer-timeout' must be an integer, got '1.5'"),
])
def test_a_value_that_cannot_be_used_names_its_key(key, value, message):
    with pytest.raises(ConfigError, match=message):
        TaskSettings.from_configuration({key: value})
