"""The FileSource on a cluster: a directory tree read at parallelism 1, 2 and 4 equals a
plain-Python reading of its visible files; the same from S3 (moto_server); new files found
by ``monitor_continuously``; a path that does not exist fails the job saying so; a job
stopped with savepoints mid-file and resumed at parallelism 2 → 4 → 1 commits every line
exactly once (the positions are union state: each new reader keeps its files)."""

from __future__ import annotations

import collections
import gzip
import time
from pathlib import Path

import pytest

from tests.fixtures.cluster import RunningJobManager
from tests.fixtures.counting_job import committed_file_lines
from tests.fixtures.rescaling import committing_sink, rescale_through, savepoint_environment
from tests.fixtures.s3 import S3Bucket
from weir.common import Configuration, Duration, WatermarkStrategy
from weir.common.job_client import JobExecutionException
from weir.datastream import StreamExecutionEnvironment
from weir.datastream.connectors.file_system import FileSource, StreamFormat
from weir.proto import jobmanager_pb2 as pb
from weir.rpc.client import JobManagerClient


def write_tree(root: Path, files: int = 9, lines: int = 700) -> dict[str, bytes]:
    """Files below ``root`` (some nested, some hidden), as relative path -> content."""
    contents = {}
    for f in range(files):
        name = f"day={f % 3}/part-{f}.txt" if f % 2 else f"part-{f}.csv"
        contents[name] = "".join(f"{f},{i},ü\n" for i in range(lines * f)).encode()
    contents["day=1/.part-99.inprogress"] = b"hidden\n"
    contents["_SUCCESS"] = b"hidden\n"
    contents["_tmp/part-1.txt"] = b"hidden\n"
    contents["crlf.txt"] = b"r1\r\nr2\r\n\r\nno newline at the end"
    for name, data in contents.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return contents


def oracle(contents: dict[str, bytes]) -> collections.Counter[str]:
    lines: collections.Counter[str] = collections.Counter()
    for name, data in contents.items():
        if data and not any(part.startswith((".", "_")) for part in name.split("/")):
            lines.update(data.decode().replace("\r\n", "\n").split("\n"))
            if data.endswith(b"\n"):
                lines[""] -= 1  # the split's empty piece after the final newline
    return +lines


def read_all(source: FileSource, parallelism: int,
             configuration: dict[str, str] | None = None) -> collections.Counter[str]:
    env = StreamExecutionEnvironment.get_execution_environment(
        Configuration(configuration or {}))
    env.set_parallelism(parallelism)
    stream = env.from_source(source, WatermarkStrategy.no_watermarks(), "files")
    with stream.execute_and_collect(f"file-source-p{parallelism}") as results:
        return collections.Counter(results)


@pytest.mark.parametrize("parallelism", [1, 2, 4])
def test_a_directory_is_read_exactly(cluster: RunningJobManager, tmp_path: Path,
                                     parallelism: int) -> None:
    contents = write_tree(tmp_path / "in")
    source = FileSource.for_record_stream_format(StreamFormat.text_line_format(),
                                                 str(tmp_path / "in")).build()
    assert read_all(source, parallelism) == oracle(contents)


def test_s3_files_are_read_exactly(cluster: RunningJobManager, s3_bucket: S3Bucket) -> None:
    client = s3_bucket.server.client()
    contents = {"in/a.txt": b"a1\na2\n", "in/sub/b.txt": b"b1\nb2\nb3",
                "in/sub/c.txt.gz": gzip.compress(b"c1\nc2\n"),
                "in/_SUCCESS": b"hidden\n", "in/sub/.c.txt": b"hidden\n",
                "other/d.txt": b"not below the path\n", "single.txt": b"s1\n"}
    for key, data in contents.items():
        client.put_object(Bucket=s3_bucket.bucket, Key=key, Body=data)
    source = FileSource.for_record_stream_format(
        StreamFormat.text_line_format(), s3_bucket.uri("in"), s3_bucket.uri("single.txt")).build()
    assert read_all(source, 2, s3_bucket.configuration) == collections.Counter(
        ["a1", "a2", "b1", "b2", "b3", "c1", "c2", "s1"])


def test_monitor_continuously_reads_new_files(cluster: RunningJobManager, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "first.txt").write_text("1\n2\n")
    source = FileSource.for_record_stream_format(StreamFormat.text_line_format(),
                                                 str(tmp_path / "in")) \
        .monitor_continuously(Duration.of_millis(100)).build()
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    stream = env.from_source(source, WatermarkStrategy.no_watermarks(), "files")
    got: list[str] = []
    with stream.execute_and_collect("monitor") as results:
        for line in results:
            got.append(line)
            if len(got) == 2:
                staged = tmp_path / "in" / ".second.txt.tmp"  # hidden while written
                staged.write_text("3\n4\n5\n")
                staged.rename(tmp_path / "in" / "second.txt")
            if len(got) == 5:
                break
    assert sorted(got) == ["1", "2", "3", "4", "5"]


def test_a_missing_path_fails_the_job_naming_it(cluster: RunningJobManager,
                                                tmp_path: Path) -> None:
    source = FileSource.for_record_stream_format(StreamFormat.text_line_format(),
                                                 str(tmp_path / "missing")).build()
    with pytest.raises(JobExecutionException,
                       match=f"File file://{tmp_path}/missing does not exist"):
        read_all(source, 1)


def slowly(line: str) -> str:
    """The identity, slowly enough that a savepoint lands mid-file."""
    time.sleep(0.0004)
    return line


def copying_job(root: Path, parallelism: int, savepoint: str | None,
                ) -> StreamExecutionEnvironment:
    env = savepoint_environment(root, savepoint)
    env.set_parallelism(parallelism)
    env.get_config().set_string("source.batch-records", "100")
    source = FileSource.for_record_stream_format(StreamFormat.text_line_format(),
                                                 str(root / "in")).build()
    (env.from_source(source, WatermarkStrategy.no_watermarks(), "files").uid("files")
        .map(slowly).uid("slowly")
        .sink_to(committing_sink(root)).uid("sink"))
    return env


@pytest.mark.slow
def test_positions_are_redistributed_on_rescale_2_4_1(cluster: RunningJobManager,
                                                      tmp_path: Path) -> None:
    contents = write_tree(tmp_path / "in", files=7, lines=400)
    expected = oracle(contents)
    with JobManagerClient(cluster.address, cluster.token) as client:
        details = rescale_through(
            client, lambda p, savepoint: copying_job(tmp_path, p, savepoint), [2, 4, 1],
            tmp_path, "file-rescale", sum(expected.values()))
    assert details.state == pb.FINISHED, details.failure_cause
    assert committed_file_lines(tmp_path / "out") == expected
