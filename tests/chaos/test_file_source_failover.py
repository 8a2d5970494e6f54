"""FileSource positions in checkpoints: a job copying files through the exactly-once
FileSink fails once (tests/fixtures/faults.py) after a checkpoint covered some of its
lines — by its source raising, or killing its TaskManager — and the committed output
still holds every line of the input exactly once."""

from __future__ import annotations

import collections
import time
from pathlib import Path

import pytest

from tests.chaos.test_failover import run_failing_once
from tests.fixtures.cluster import RunningJobManager
from tests.fixtures.counting_job import committed_file_lines
from tests.fixtures.faults import FailOnce, Fault
from weir.common import WatermarkStrategy
from weir.common.serialization import Encoder
from weir.datastream import CheckpointingMode, StreamExecutionEnvironment
from weir.datastream.connectors.file_system import FileSink, FileSource, StreamFormat

FILES, LINES, PARALLELISM = 6, 2_000, 2


def write_input(root: Path) -> collections.Counter[str]:
    root.mkdir()
    expected: collections.Counter[str] = collections.Counter()
    for f in range(FILES):
        lines = [f"file-{f},line-{i}" for i in range(LINES)]
        (root / f"part-{f}.txt").write_text("\n".join(lines) + "\n")
        expected.update(lines)
    return expected


def slowly(line: str) -> str:
    """The identity, slowly enough that several checkpoints complete while the job runs."""
    time.sleep(0.0003)
    return line


@pytest.mark.slow
@pytest.mark.parametrize("fault", list(Fault), ids=[f.value for f in Fault])
def test_file_positions_survive_a_failure(cluster: RunningJobManager, tmp_path: Path,
                                          request: pytest.FixtureRequest, fault: Fault) -> None:
    expected = write_input(tmp_path / "in")
    plan = FailOnce(tmp_path / "failed", after_records=FILES * LINES // PARALLELISM // 3,
                    fault=fault)
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(PARALLELISM)
    env.enable_checkpointing(200, CheckpointingMode.EXACTLY_ONCE)
    env.get_checkpoint_config().set_checkpoint_storage_dir((tmp_path / "chk").as_uri())
    env.get_config().set_string("source.batch-records", "100")
    source = FileSource.for_record_stream_format(StreamFormat.text_line_format(),
                                                 str(tmp_path / "in")).build()
    (env.from_source(plan.source(source), WatermarkStrategy.no_watermarks(), "files")
        .uid("files")
        .map(slowly).uid("slowly")
        .sink_to(FileSink.for_row_format((tmp_path / "out").as_uri(),
                                         Encoder.simple_string_encoder()).build())
        .uid("sink"))
    run_failing_once(cluster, env, f"file-source-failover-{fault.value}", plan, request)
    assert committed_file_lines(tmp_path / "out") == expected
