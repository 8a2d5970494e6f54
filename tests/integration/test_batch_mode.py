"""BATCH runtime mode on a cluster: a word count over files gives only each word's final
count (STREAMING gives every running count), at parallelism 1, 2 and 4; AUTOMATIC runs
bounded jobs as BATCH; event-time windows fire at the end of input; BATCH takes no
checkpoints even when checkpointing is enabled."""

from __future__ import annotations

import collections
import time
from pathlib import Path

import pytest

from tests.fixtures.cluster import RunningJobManager
from weir.common import Duration, Time, Types, WatermarkStrategy
from weir.datastream import RuntimeExecutionMode, StreamExecutionEnvironment
from weir.datastream.connectors.file_system import FileSource, StreamFormat
from weir.datastream.window import TumblingEventTimeWindows
from weir.rpc.client import JobManagerClient

WORDS = ["to", "be", "or", "not", "that", "is", "the", "question", "whether", "tis"]


def write_text(root: Path) -> list[str]:
    """Files of words; returns every line in order."""
    root.mkdir()
    lines = []
    for f in range(5):
        text = [" ".join(WORDS[(f * 7 + i * j) % len(WORDS)] for j in range(1 + i % 6))
                for i in range(400)]
        (root / f"book-{f}.txt").write_text("\n".join(text) + "\n")
        lines += text
    return lines


def word_count(env: StreamExecutionEnvironment, root: Path) -> list[tuple[str, int]]:
    source = FileSource.for_record_stream_format(StreamFormat.text_line_format(),
                                                 str(root)).build()
    counts = (env.from_source(source, WatermarkStrategy.no_watermarks(), "books")
              .flat_map(lambda line: line.split(), Types.STRING())
              .map(lambda word: (word, 1))
              .key_by(lambda pair: pair[0])
              .reduce(lambda a, b: (a[0], a[1] + b[1])))
    with counts.execute_and_collect("word-count") as results:
        return list(results)


@pytest.mark.parametrize("parallelism", [1, 2, 4])
@pytest.mark.parametrize("mode", [RuntimeExecutionMode.BATCH, RuntimeExecutionMode.AUTOMATIC])
def test_batch_word_count_emits_only_final_counts(cluster: RunningJobManager, tmp_path: Path,
                                                  parallelism: int,
                                                  mode: RuntimeExecutionMode) -> None:
    lines = write_text(tmp_path / "in")
    expected = collections.Counter(word for line in lines for word in line.split())
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    env.set_runtime_mode(mode)
    got = word_count(env, tmp_path / "in")
    assert sorted(got) == sorted(expected.items())


def test_streaming_word_count_emits_every_running_count(cluster: RunningJobManager,
                                                        tmp_path: Path) -> None:
    lines = write_text(tmp_path / "in")
    expected = collections.Counter(word for line in lines for word in line.split())
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    got = word_count(env, tmp_path / "in")
    assert sorted(got) == sorted((word, n) for word, count in expected.items()
                                 for n in range(1, count + 1))


def parse_slowly(line: str) -> tuple[str, int]:
    """(key, ms) of a line, slowly enough that the job outlasts many watermark intervals."""
    time.sleep(0.0005)
    key, ms = line.split(",")
    return key, int(ms)


def test_batch_event_time_windows_fire_at_end_of_input(cluster: RunningJobManager,
                                                       tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    events = [(f"k{i % 3}", i * 37 % 5000) for i in range(3000)]  # out of order, (key, ms)
    for f in range(3):
        (tmp_path / "in" / f"events-{f}.csv").write_text(
            "".join(f"{k},{ts}\n" for k, ts in events[f::3]))
    expected = collections.Counter((k, ts - ts % 1000) for k, ts in events)
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.set_runtime_mode(RuntimeExecutionMode.BATCH)
    env.enable_checkpointing(50)  # ignored in BATCH, as in Flink
    env.get_config().set_string("pipeline.auto-watermark-interval", "1 ms")
    env.get_checkpoint_config().set_checkpoint_storage_dir((tmp_path / "chk").as_uri())
    source = FileSource.for_record_stream_format(StreamFormat.text_line_format(),
                                                 str(tmp_path / "in")).build()
    # No out-of-orderness allowed: in STREAMING most records would be late; in BATCH
    # nothing is late, every window fires once, with the final watermark.
    watermarks = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(0)) \
        .with_timestamp_assigner(lambda event, _: event[1])
    windows = (env.from_source(source, WatermarkStrategy.no_watermarks(), "events")
               .map(parse_slowly)
               .assign_timestamps_and_watermarks(watermarks)
               .map(lambda event: (event[0], event[1] - event[1] % 1000, 1))
               .key_by(lambda event: (event[0], event[1]))
               .window(TumblingEventTimeWindows.of(Time.seconds(1)))
               .reduce(lambda a, b: (a[0], a[1], a[2] + b[2])))
    job = windows.execute_and_collect("batch-windows")
    with job as results:
        got = list(results)
    assert sorted(got) == sorted((k, start, n) for (k, start), n in expected.items())
    with JobManagerClient(cluster.address, cluster.token) as client:
        jobs = [j for j in client.list_jobs() if j.name == "batch-windows"]
        assert jobs and all(not client.list_checkpoints(j.job_id) for j in jobs)
