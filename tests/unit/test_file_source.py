"""FileSource without a cluster: which files it reads and who reads each (pure functions),
its readers on real files against a plain-Python oracle (whole, resumed from a snapshot,
rescaled), its builder's errors; the runtime mode's rules, and the BATCH behaviour of the
keyed reduce and of processing-time timers on the operator harness."""

from __future__ import annotations

import asyncio
import bz2
import gzip
import lzma
import pickle
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.operator_harness import ChainHarness
from tests.fixtures.source_readers import read, read_rescaled
from weir.common import Duration
from weir.common.constants import MAX_LONG_VALUE
from weir.datastream import KeyedProcessFunction, RuntimeExecutionMode, StreamExecutionEnvironment
from weir.datastream.connectors.file_system import FileSource, StreamFormat
from weir.datastream.connectors.file_system.enumerator import (
    assigned_files,
    is_hidden,
    split_owner,
)
from weir.datastream.connectors.number_seq import NumberSequenceSource
from weir.datastream.execution_mode import is_batch, resolve_runtime_mode
from weir.graph.generator import InvalidJobError
from weir.graph.operators import KeyedProcessSpec, KeyedReduceSpec

BATCH = {"execution.runtime-mode": "BATCH"}


def write_tree(root: Path) -> None:
    """Files with every kind of line ending, empty lines, non-ASCII text, a line longer than
    a read chunk (1 MiB), an empty file, nested directories, and hidden files to skip."""
    (root / "nested" / "deeper").mkdir(parents=True)
    (root / "_temporary").mkdir()
    (root / "a.txt").write_text("".join(f"a-{i}\n" for i in range(2500)))
    (root / "b.txt").write_bytes(b"crlf-1\r\ncrlf-2\r\n\r\nlast without newline")
    (root / "empty.txt").write_bytes(b"")
    (root / "nested" / "c.log").write_text("grüße\n€ 5\n\n")
    (root / "nested" / "deeper" / "long.txt").write_text("x" * 3_000_000 + "\nshort\n")
    for i in range(6):
        (root / "nested" / f"part-{i}").write_text("".join(f"p{i}-{j}\n" for j in range(i * 300)))
    (root / ".hidden.txt").write_text("never\n")
    (root / "_SUCCESS").write_text("never\n")
    (root / "nested" / ".part-7.inprogress").write_text("never\n")
    (root / "_temporary" / "d.txt").write_text("never\n")


def oracle(root: Path) -> list[str]:
    """Every line of every visible file, as Java's readLine gives them."""
    lines = []
    for file in sorted(root.rglob("*")):
        parts = file.relative_to(root).parts
        if file.is_dir() or any(p.startswith((".", "_")) for p in parts):
            continue
        with open(file, encoding="utf-8", newline="") as text:
            lines += [line.removesuffix("\n").removesuffix("\r") for line in text]
    return lines


def source_of(*paths: Path | str) -> FileSource:
    return FileSource.for_record_stream_format(StreamFormat.text_line_format(),
                                               *map(str, paths)).build()


# ------------------------------------------------------------------ enumerator


@pytest.mark.parametrize(("path", "hidden"), [
    ("a.txt", False), ("dir/a.txt", False), (".a", True), ("_SUCCESS", True),
    ("dir/.part-1.inprogress", True), ("_temporary/a.txt", True), ("a_b/c.d", False)])
def test_hidden_files_start_with_dot_or_underscore(path: str, hidden: bool) -> None:
    assert is_hidden(path) is hidden


@pytest.mark.parametrize("parallelism", [1, 2, 3, 4, 7])
def test_every_file_has_exactly_one_reader(parallelism: int) -> None:
    files = [f"file:///data/part-{i}" for i in range(50)] + ["s3://bucket/x/y.txt"]
    shares = [assigned_files(files, subtask, parallelism) for subtask in range(parallelism)]
    assert sorted(f for share in shares for f in share) == sorted(files)
    for subtask, share in enumerate(shares):
        assert all(split_owner(f, parallelism) == subtask for f in share)
    # the owner depends only on the file: a listing with more files does not move it
    assert assigned_files(files[:10], 0, parallelism) == [f for f in shares[0] if f in files[:10]]


# --------------------------------------------------------------------- reading


@pytest.mark.parametrize("parallelism", [1, 2, 4])
def test_readers_read_every_visible_line_once(tmp_path: Path, parallelism: int) -> None:
    write_tree(tmp_path)
    source = source_of(tmp_path)
    got = []
    for subtask in range(parallelism):
        got += read(source.create_reader(subtask, parallelism), None)
    assert Counter(got) == Counter(oracle(tmp_path))


def test_a_file_path_is_read_and_lines_keep_their_order(tmp_path: Path) -> None:
    write_tree(tmp_path)
    assert read(source_of(tmp_path / "a.txt").create_reader(0, 1), None, 64) == \
        [f"a-{i}" for i in range(2500)]
    assert read(source_of(f"file://{tmp_path}/b.txt").create_reader(0, 1), None) == \
        ["crlf-1", "crlf-2", "", "last without newline"]


@pytest.mark.parametrize("parallelism", [1, 2, 4])
def test_a_restored_reader_goes_on_from_its_position(tmp_path: Path, parallelism: int) -> None:
    write_tree(tmp_path)
    source = source_of(tmp_path)
    got = []
    for subtask in range(parallelism):
        reader = source.create_reader(subtask, parallelism)
        got += read(reader, 3)
        position = pickle.loads(pickle.dumps(reader.snapshot_position()))
        read(reader, 2)  # read after the snapshot: lost with the failed attempt
        restored = source.create_reader(subtask, parallelism)
        restored.restore_position(position)
        got += read(restored, None)
    assert Counter(got) == Counter(oracle(tmp_path))


@pytest.mark.parametrize("parallelisms", [[2, 3, 1], [1, 4, 2], [4, 1], [3, 3]])
def test_rescaled_readers_keep_their_share_of_every_position(tmp_path: Path,
                                                             parallelisms: list[int]) -> None:
    write_tree(tmp_path)
    got = read_rescaled(source_of(tmp_path), parallelisms, size=700)
    assert Counter(got) == Counter(oracle(tmp_path))


def test_a_bounded_source_restored_reads_the_files_it_had_listed(tmp_path: Path) -> None:
    (tmp_path / "one.txt").write_text("1\n2\n")
    source = source_of(tmp_path)
    reader = source.create_reader(0, 1)
    assert read(reader, 1, 1) == ["1"]
    position = reader.snapshot_position()
    (tmp_path / "two.txt").write_text("3\n")  # after the listing: not part of the job
    restored = source.create_reader(0, 1)
    restored.restore_position(position)
    assert read(restored, None) == ["2"]


def test_a_continuous_source_reads_files_as_they_appear(tmp_path: Path) -> None:
    source = FileSource.for_record_stream_format(StreamFormat.text_line_format(), str(tmp_path)) \
        .monitor_continuously(Duration.of_millis(10)).build()
    assert not source.is_bounded()
    reader = source.create_reader(0, 1)

    async def until(count: int) -> list[str]:
        got: list[str] = []
        while len(got) < count:
            batch = await reader.poll_batch(100)
            assert batch is not None
            got += batch
        return got

    assert asyncio.run(reader.poll_batch(10)) == []  # empty directory: nothing yet
    (tmp_path / "first.txt").write_text("a\nb\n")
    assert asyncio.run(until(2)) == ["a", "b"]
    (tmp_path / ".second.txt.tmp").write_text("c\n")
    (tmp_path / ".second.txt.tmp").rename(tmp_path / "second.txt")
    assert asyncio.run(until(1)) == ["c"]
    position = reader.snapshot_position()
    assert position.finished == {f"file://{tmp_path}/first.txt"}
    assert position.offsets == {f"file://{tmp_path}/second.txt": 2}  # its end not seen yet


def test_a_missing_path_fails_the_reader_naming_it(tmp_path: Path) -> None:
    reader = source_of(tmp_path / "nope").create_reader(0, 1)
    with pytest.raises(FileNotFoundError, match=f"File file://{tmp_path}/nope does not exist"):
        read(reader, None)


def test_the_builder_rejects_what_cannot_work() -> None:
    text = StreamFormat.text_line_format()
    with pytest.raises(ValueError, match="paths must not be empty"):
        FileSource.for_record_stream_format(text)
    with pytest.raises(TypeError, match="takes a StreamFormat"):
        FileSource.for_record_stream_format("text", "/tmp")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unsupported scheme 'hdfs'"):
        FileSource.for_record_stream_format(text, "hdfs://nn/data")
    with pytest.raises(ValueError, match="discovery interval must be > 0"):
        FileSource.for_record_stream_format(text, "/tmp").monitor_continuously(Duration.zero())
    with pytest.raises(ValueError, match="unsupported charset 'no-such-charset'"):
        StreamFormat.text_line_format("no-such-charset")
    with pytest.raises(ValueError, match="not ASCII-compatible"):
        StreamFormat.text_line_format("UTF-16")
    bounded = FileSource.for_record_stream_format(text, "/tmp") \
        .monitor_continuously(Duration.of_seconds(1)).process_static_file_set().build()
    assert bounded.is_bounded()


@pytest.mark.parametrize(("suffix", "compress"), [
    (".gz", gzip.compress), (".gzip", gzip.compress), (".bz2", bz2.compress),
    (".xz", lzma.compress)])
def test_compressed_files_are_decompressed_and_resumed(tmp_path: Path, suffix: str,
                                                       compress: Any) -> None:
    lines = [f"line {i} " + "z" * (i % 50) for i in range(20_000)]
    (tmp_path / f"data.txt{suffix}").write_bytes(compress("\n".join(lines).encode()))
    source = source_of(tmp_path)
    reader = source.create_reader(0, 1)
    got = read(reader, 3)
    position = pickle.loads(pickle.dumps(reader.snapshot_position()))
    reader.close()
    restored = source.create_reader(0, 1)
    restored.restore_position(position)
    assert got + read(restored, None) == lines


def test_latin1_lines_are_decoded(tmp_path: Path) -> None:
    (tmp_path / "l1.txt").write_bytes("café\nnaïve\n".encode("latin-1"))
    source = FileSource.for_record_stream_format(StreamFormat.text_line_format("ISO-8859-1"),
                                                 str(tmp_path)).build()
    assert read(source.create_reader(0, 1), None) == ["café", "naïve"]


# ---------------------------------------------------------------- runtime mode


def test_runtime_mode_rules() -> None:
    auto, batch, streaming = (RuntimeExecutionMode.AUTOMATIC, RuntimeExecutionMode.BATCH,
                              RuntimeExecutionMode.STREAMING)
    assert resolve_runtime_mode(auto, [True, True]) is batch
    assert resolve_runtime_mode(auto, [True, False]) is streaming
    assert resolve_runtime_mode(streaming, [True]) is streaming
    assert resolve_runtime_mode(batch, [True]) is batch
    with pytest.raises(InvalidJobError, match="Detected an UNBOUNDED source with the "
                       "'execution.runtime-mode' set to 'BATCH'"):
        resolve_runtime_mode(batch, [True, False])
    assert is_batch({"execution.runtime-mode": "batch"})
    assert not is_batch({}) and not is_batch({"execution.runtime-mode": "STREAMING"})
    with pytest.raises(ValueError, match="must be STREAMING, BATCH or AUTOMATIC, got 'fast'"):
        RuntimeExecutionMode.from_string("fast")


def test_batch_mode_with_an_unbounded_source_fails_at_job_build(tmp_path: Path) -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_runtime_mode(RuntimeExecutionMode.BATCH)
    unbounded = FileSource.for_record_stream_format(StreamFormat.text_line_format(),
                                                    str(tmp_path)) \
        .monitor_continuously(Duration.of_seconds(1)).build()
    env.from_source(unbounded, _no_watermarks(), "files").print()
    with pytest.raises(InvalidJobError, match="Detected an UNBOUNDED source"):
        env.execute("batch with an unbounded source")
    env.get_config().set_string("execution.runtime-mode", "sometimes")
    env.from_source(NumberSequenceSource(1, 2), _no_watermarks(), "numbers").print()
    with pytest.raises(ValueError, match="must be STREAMING, BATCH or AUTOMATIC"):
        env.execute("bad mode")
    with pytest.raises(TypeError, match="takes a RuntimeExecutionMode"):
        env.set_runtime_mode("BATCH")  # type: ignore[arg-type]


def _no_watermarks() -> Any:
    from weir.common import WatermarkStrategy

    return WatermarkStrategy.no_watermarks()


def _add(a: tuple[str, int], b: tuple[str, int]) -> tuple[str, int]:
    return a[0], a[1] + b[1]


def _key(record: tuple[str, int]) -> str:
    return record[0]


@pytest.mark.parametrize("timed", [False, True])
def test_batch_keyed_reduce_emits_only_final_values(timed: bool) -> None:
    records = [(k, v) for v in range(1, 40) for k in ("a", "b", "c")[: 1 + v % 3]]
    expected: dict[str, int] = {}
    for k, v in records:
        expected[k] = expected.get(k, 0) + v
    harness = ChainHarness(KeyedReduceSpec("reduce", "r", _key, _add), configuration=BATCH)
    for start in range(0, len(records), 10):
        chunk = records[start:start + 10]
        stamps = list(range(start, start + len(chunk))) if timed else None
        assert harness.process(chunk, stamps) == []
    final = harness.end_input()
    assert sorted(record for record, _ in final) == sorted(expected.items())
    assert {stamp for _, stamp in final} == {MAX_LONG_VALUE if timed else None}
    streaming = ChainHarness(KeyedReduceSpec("reduce", "r", _key, _add))
    assert len(streaming.process(records)) == len(records)
    assert streaming.end_input() == []


class _TimerEcho(KeyedProcessFunction):
    def process_element(self, value: Any, ctx: Any) -> Any:
        ctx.timer_service().register_processing_time_timer(value[1])
        return []

    def on_timer(self, timestamp: int, ctx: Any) -> Any:
        yield ctx.get_current_key(), timestamp


def test_batch_processing_time_timers_fire_at_end_of_input() -> None:
    records = [("a", 5), ("b", 10_000), ("a", 7)]
    batch = ChainHarness(KeyedProcessSpec("p", "p", _key, _TimerEcho()), configuration=BATCH)
    batch.process(records)
    assert batch.advance_clock(1_000_000) == []  # processing time does not fire timers
    assert sorted(r for r, _ in batch.end_input()) == [("a", 5), ("a", 7), ("b", 10_000)]
    streaming = ChainHarness(KeyedProcessSpec("p", "p", _key, _TimerEcho()))
    streaming.process(records)
    assert sorted(r for r, _ in streaming.advance_clock(100)) == [("a", 5), ("a", 7)]
    assert streaming.end_input() == []
