"""The FileSink's pure decisions: rolling, bucket ids, base paths, commit actions, encoders."""

from __future__ import annotations

import datetime as dt
import pickle

import pytest

from weir.common import Encoder
from weir.datastream.connectors import BucketAssigner, FileSink, OutputFileConfig, RollingPolicy
from weir.datastream.connectors.file_system import BucketAssignerContext, PartFileInfo
from weir.datastream.connectors.file_system._committer import CommitAction, commit_action
from weir.datastream.connectors.file_system.buckets import java_date_time_formatter
from weir.datastream.connectors.file_system.sink import normalize_base_path
from weir.taskmanager.operators.sinks import CommittableCollector

T0 = int(dt.datetime(2024, 3, 5, 7, 8, 9, 123000, tzinfo=dt.UTC).timestamp() * 1000)


def at(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


@pytest.mark.parametrize(("pattern", "expected"), [
    ("yyyy-MM-dd--HH", "2024-03-05--07"),
    ("yyyy/MM/dd/'hour='HH", "2024/03/05/hour=07"),
    ("yy-M-d h:mm:ss.SSS a", "24-3-5 7:08:09.123 AM"),
    ("uuuu-DDD MMM EEE", "2024-065 Mar Tue"),
    ("'it''s' HH", "it's 07"),
])
def test_java_date_time_patterns(pattern: str, expected: str) -> None:
    assert java_date_time_formatter(pattern)(at(T0)) == expected


@pytest.mark.parametrize(("pattern", "message"), [
    ("yyyy-QQ", "unsupported letter 'Q'"),
    ("yyyy-'MM", "unterminated quote"),
])
def test_bad_date_time_patterns_fail_when_built(pattern: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BucketAssigner.date_time_bucket_assigner(pattern)


def test_date_time_bucket_assigner_defaults_to_utc_hours_and_honours_the_zone() -> None:
    context = BucketAssignerContext(T0)
    assert BucketAssigner.date_time_bucket_assigner().get_bucket_id("x", context) == "2024-03-05--07"
    tokyo = BucketAssigner.date_time_bucket_assigner("yyyy-MM-dd--HH", "Asia/Tokyo")
    assert tokyo.get_bucket_id("x", context) == "2024-03-05--16"
    restored = pickle.loads(pickle.dumps(tokyo))
    assert restored.assign_batch(["a", "b"], context) == {"2024-03-05--16": ["a", "b"]}
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        BucketAssigner.date_time_bucket_assigner(timezone_id="Mars/Olympus")


def test_base_path_assigner_and_per_record_assignment() -> None:
    context = BucketAssignerContext(T0)
    assert BucketAssigner.base_path_bucket_assigner().assign_batch([1, 2], context) == {"": [1, 2]}

    class Parity(BucketAssigner):
        def get_bucket_id(self, element: int, context: BucketAssignerContext) -> str:
            return "even" if element % 2 == 0 else "odd"

    assert Parity().assign_batch([1, 2, 3, 4, 5], context) == {"odd": [1, 3, 5], "even": [2, 4]}


def test_default_rolling_policy() -> None:
    policy = RollingPolicy.default_rolling_policy(part_size=10, rollover_interval=1000,
                                                  inactivity_interval=300)
    part = PartFileInfo("", creation_time=0, last_update_time=500, size=10)
    assert not policy.should_roll_on_event(part)
    assert not policy.should_roll_on_checkpoint(part)
    part.size = 11
    assert policy.should_roll_on_event(part) and policy.should_roll_on_checkpoint(part)
    assert not policy.should_roll_on_processing_time(part, 799)
    assert policy.should_roll_on_processing_time(part, 800)  # inactive for 300 ms
    part.last_update_time = 990
    assert not policy.should_roll_on_processing_time(part, 999)
    assert policy.should_roll_on_processing_time(part, 1000)  # open for 1000 ms
    with pytest.raises(ValueError, match="part_size must be a positive integer"):
        RollingPolicy.default_rolling_policy(part_size=0)


def test_on_checkpoint_rolling_policy_rolls_only_on_checkpoints() -> None:
    policy = RollingPolicy.on_checkpoint_rolling_policy()
    part = PartFileInfo("", creation_time=0, last_update_time=0, size=1 << 40)
    assert policy.should_roll_on_checkpoint(part)
    assert not policy.should_roll_on_event(part)
    assert not policy.should_roll_on_processing_time(part, 1 << 40)


@pytest.mark.parametrize(("segments", "final", "action"), [
    ([True], False, CommitAction.PUBLISH),
    ([True, True], True, CommitAction.PUBLISH),  # crashed before deleting the segments
    ([False], True, CommitAction.CLEAN_UP),  # renamed by an earlier attempt
    ([False, True], True, CommitAction.CLEAN_UP),  # crashed while deleting segments
    ([False], False, CommitAction.LOST),
    ([True, False], False, CommitAction.LOST),
])
def test_commit_action(segments: list[bool], final: bool, action: CommitAction) -> None:
    assert commit_action(segments, final) is action


def test_committable_collector_commits_up_to_a_checkpoint_and_subsumes_aborted_ones() -> None:
    collector = CommittableCollector()
    collector.add(1, ["a"])
    collector.add(2, [])  # nothing pre-committed: no entry
    collector.add(3, ["b", "c"])
    collector.add(5, ["d"])
    assert collector.up_to(4) == ([1, 3], ["a", "b", "c"])  # 1 aborted, 3 completed
    collector.remove([1, 3])
    assert collector.snapshot() == {5: ["d"]}
    restored = CommittableCollector()  # as a restore after rescaling merges old subtasks'
    for part in (pickle.loads(pickle.dumps(collector.snapshot())), {2: ["e"], 5: ["f"]}):
        for checkpoint_id, committables in sorted(part.items()):
            restored.add(checkpoint_id, committables)
    assert restored.up_to(None) == ([2, 5], ["e", "d", "f"])


def test_base_paths(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert normalize_base_path(str(tmp_path / "out") + "/") == f"file://{tmp_path}/out"
    assert normalize_base_path(f"file://{tmp_path}/out/") == f"file://{tmp_path}/out"
    assert normalize_base_path("s3://bucket/a/b/") == "s3://bucket/a/b"
    assert normalize_base_path("s3://bucket") == "s3://bucket"
    (tmp_path / "file.txt").write_text("x")
    for bad, message in [
        ("", "non-empty string"),
        ("hdfs://namenode/out", "unsupported scheme 'hdfs'"),
        ("s3:///prefix", "names no bucket"),
        ("file://host/out", "must be absolute"),
        (str(tmp_path / "file.txt"), "is not a directory"),
    ]:
        with pytest.raises(ValueError, match=message):
            FileSink.for_row_format(bad, Encoder.simple_string_encoder()).build()


def test_builder_rejects_wrong_types_and_names() -> None:
    builder = FileSink.for_row_format("s3://bucket/out", Encoder.simple_string_encoder())
    with pytest.raises(TypeError, match="rolling_policy must be a RollingPolicy"):
        builder.with_rolling_policy("on-checkpoint").build()  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="encoder must be an Encoder"):
        FileSink.for_row_format("s3://bucket/out", str).build()  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="without '/'"):
        OutputFileConfig.builder().with_part_prefix("a/b").build()
    config = OutputFileConfig.builder().with_part_prefix("pre").with_part_suffix(".txt").build()
    assert (config.get_part_prefix(), config.get_part_suffix()) == ("pre", ".txt")


def test_simple_string_encoder() -> None:
    encoder = Encoder.simple_string_encoder()
    assert encoder.encode_batch(["a", 1, (1, "b")]) == b"a\n1\n(1, 'b')\n"
    assert encoder.encode("é") == "é\n".encode()
    utf16 = Encoder.simple_string_encoder("UTF-16")  # a byte order mark on every record
    assert utf16.encode_batch(["a", "b"]) == "a\n".encode("utf-16") + "b\n".encode("utf-16")
    with pytest.raises(LookupError):
        Encoder.simple_string_encoder("no-such-charset")
