"""``weir metrics`` and ``weir status`` render what the endpoints serve, without a cluster."""

from __future__ import annotations

from prometheus_client.samples import Sample

from weir.cli.jobs import job_details_text
from weir.cli.metrics import job_metrics_text, resolve_metrics_address, source_lag
from weir.proto import jobmanager_pb2 as pb

JOB = "j1"
NOW_MS = 1_000_000.0


def _task(name: str, task: str, subtask: int, value: float, job: str = JOB) -> Sample:
    return Sample(f"weir_taskmanager_job_task_{name}", {
        "job_id": job, "task_name": task, "subtask_index": str(subtask)}, value)


def _samples() -> list[Sample]:
    samples = []
    for subtask in (0, 1):
        samples += [
            _task("numRecordsIn", "Source: kafka", subtask, 0),
            _task("numRecordsOutPerSecond", "Source: kafka", subtask, 1500),
            _task("backPressuredTimeMsPerSecond", "Source: kafka", subtask, 250 * subtask),
            _task("busyTimeMsPerSecond", "Source: kafka", subtask, 700),
            _task("currentOutputWatermark", "Source: kafka", subtask, NOW_MS - 2000 * (1 + subtask)),
            _task("numRecordsIn", "Window", subtask, 10),
            _task("numRecordsInPerSecond", "Window", subtask, 1000),
            _task("currentOutputWatermark", "Window", subtask, -(2**63)),
            _task("numRecordsOutPerSecond", "Window", subtask, 99, job="other"),
            Sample("weir_taskmanager_job_task_operator_pendingRecords",
                   {"job_id": JOB, "task_name": "Source: kafka"}, 40 + subtask),
            Sample("weir_taskmanager_job_task_operator_records_lag_max",
                   {"job_id": JOB, "task_name": "Source: kafka"}, 30 + subtask),
        ]
    samples += [Sample(f"weir_jobmanager_job_{name}", {"job_id": JOB}, value) for name, value in
                (("lastCompletedCheckpointId", 7), ("lastCheckpointDuration", 1500),
                 ("lastCheckpointSize", 2048), ("numberOfCompletedCheckpoints", 7),
                 ("numberOfFailedCheckpoints", 1), ("numRestarts", 2))]
    return samples


def test_the_table_sums_rates_and_shows_the_worst_subtask_per_vertex() -> None:
    text = job_metrics_text(_samples(), JOB, NOW_MS, ["Source: kafka", "Window"])
    lines = text.splitlines()
    assert lines[0].split() == ["VERTEX", "SUBTASKS", "IN/S", "OUT/S", "BACKPRESSURED", "BUSY",
                                "WATERMARK", "LAG", "SOURCE", "LAG"]
    assert lines[1].split() == ["Source:", "kafka", "2", "0", "3,000", "25%", "70%", "4.0", "s",
                                "81"]
    assert lines[2].split() == ["Window", "2", "2,000", "0", "0%", "0%", "-", "-"]
    assert lines[-1] == ("Last checkpoint: 7 (1.5 s, 2.0 KiB); completed 7, failed 1; "
                         "restarts 2")


def test_source_lag_is_summed_over_partitions_and_none_without_a_source() -> None:
    lag = source_lag(_samples(), JOB)
    assert lag is not None and (lag.pending_records, lag.max_partition_lag) == (81, 31)
    assert source_lag(_samples(), "other") is None


def test_status_shows_the_last_checkpoint_and_the_lag() -> None:
    checkpoint = pb.CheckpointInfo(id=9, status=pb.COMPLETED, trigger_time=100.0,
                                   duration_ms=250, size_bytes=4096)
    text = job_details_text(pb.JobDetails(job_id=JOB, state=pb.RUNNING), 130.0, checkpoint,
                            source_lag(_samples(), JOB))
    header = dict(line.split(": ", 1) for line in text.split("\n\n")[0].splitlines())
    assert header["Last checkpoint"].strip() == "9, 30.0 s ago, took 250 ms, 4.0 KiB"
    assert header["Source lag"].strip() == "81 records pending (max 31 in a partition)"


def test_the_metrics_address_defaults_to_the_jobmanager_host() -> None:
    assert resolve_metrics_address(None, "jm.example:6123", {}) == "jm.example:9249"
    assert resolve_metrics_address(None, "jm:6123", {"WEIR_METRICS": "m:1"}) == "m:1"
    assert resolve_metrics_address("x:2", "jm:6123", {"WEIR_METRICS": "m:1"}) == "x:2"
