"""``weir metrics JOB_ID``: a job's live figures per vertex, read as Prometheus reads them.

The JobManager's metrics endpoint lists every endpoint of the cluster at ``/targets``
(Prometheus ``http_sd``); the CLI scrapes each and sums the job's series per vertex. The
address is ``--metrics HOST:PORT``, else ``$WEIR_METRICS``, else the JobManager's host on
port 9249. Rendering is pure (samples and the time in, text out) for the tests.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from weir.cli.tables import (
    MAX_CELL_WIDTH,
    RIGHT,
    format_bytes,
    format_count,
    format_duration,
    render_table,
)
from weir.proto import jobmanager_pb2 as pb
from weir.rpc.client import JobManagerClient
from weir.rpc.errors import WeirError

__all__ = ["METRICS_ENV", "SourceLag", "VertexFigures", "fetch_samples", "job_metrics_text",
           "resolve_metrics_address", "show_metrics", "source_lag", "vertex_figures"]

METRICS_ENV = "WEIR_METRICS"
DEFAULT_METRICS_PORT = 9249
_TASK = "weir_taskmanager_job_task_"
_OPERATOR = "weir_taskmanager_job_task_operator_"
_JOB = "weir_jobmanager_job_"
_NO_WATERMARK = -(2**62)  # below: no watermark yet (Flink's Long.MIN_VALUE)
_NONE = "-"
CLEAR_SCREEN = "\x1b[H\x1b[2J"


def resolve_metrics_address(option: str | None, jobmanager_address: str,
                            environ: Mapping[str, str]) -> str:
    """``--metrics``, else ``$WEIR_METRICS``, else the JobManager's host on port 9249.

    Raises:
        WeirError: the address is not HOST:PORT.
    """
    address = option or environ.get(METRICS_ENV) or \
        f"{jobmanager_address.rpartition(':')[0]}:{DEFAULT_METRICS_PORT}"
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise WeirError(f"{'--metrics' if option else METRICS_ENV} must be HOST:PORT, "
                        f"got {address!r}")
    return address


def _get(url: str, timeout_s: float) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        return bytes(response.read())


def fetch_samples(metrics_address: str, timeout_s: float = 5.0) -> list[Sample]:
    """Every sample of every endpoint ``/targets`` lists.

    Raises:
        WeirError: the JobManager's metrics endpoint cannot be reached.
    """
    try:
        groups = json.loads(_get(f"http://{metrics_address}/targets", timeout_s))
    except (OSError, ValueError) as error:
        raise WeirError(f"no metrics at {metrics_address} ({error}); give the JobManager's "
                        f"metrics endpoint with --metrics HOST:PORT or ${METRICS_ENV}") from None
    samples: list[Sample] = []
    for endpoint in (target for group in groups for target in group.get("targets", [])):
        try:
            text = _get(f"http://{endpoint}/metrics", timeout_s).decode()
        except OSError:
            continue  # a TaskManager going away: the others still count
        for family in text_string_to_metric_families(text):
            samples.extend(family.samples)
    return samples


@dataclass
class VertexFigures:
    """One vertex's figures, summed (rates, counts) or worst (times) over its subtasks."""

    name: str
    subtasks: int = 0
    in_per_second: float = 0.0
    out_per_second: float = 0.0
    back_pressured_ms: float = 0.0
    busy_ms: float = 0.0
    watermarks: list[float] = field(default_factory=list)
    pending_records: float | None = None


def vertex_figures(samples: Iterable[Sample], job_id: str,
                   vertex_names: Sequence[str] = ()) -> list[VertexFigures]:
    """The job's vertices in ``vertex_names`` order (others after, by name)."""
    vertices: dict[str, VertexFigures] = {name: VertexFigures(name) for name in vertex_names}
    for sample in samples:
        labels = sample.labels
        if labels.get("job_id") != job_id or "task_name" not in labels:
            continue
        vertex = vertices.setdefault(labels["task_name"], VertexFigures(labels["task_name"]))
        _add(vertex, sample)
    order = {name: position for position, name in enumerate(vertex_names)}
    return sorted(vertices.values(), key=lambda v: (order.get(v.name, len(order)), v.name))


def _add(vertex: VertexFigures, sample: Sample) -> None:
    name, value = sample.name, sample.value
    if name == _TASK + "numRecordsIn":
        vertex.subtasks += 1
    elif name == _TASK + "numRecordsInPerSecond":
        vertex.in_per_second += value
    elif name == _TASK + "numRecordsOutPerSecond":
        vertex.out_per_second += value
    elif name == _TASK + "backPressuredTimeMsPerSecond":
        vertex.back_pressured_ms = max(vertex.back_pressured_ms, value)
    elif name == _TASK + "busyTimeMsPerSecond":
        vertex.busy_ms = max(vertex.busy_ms, value)
    elif name == _TASK + "currentOutputWatermark":
        vertex.watermarks.append(value)
    elif name == _OPERATOR + "pendingRecords":
        vertex.pending_records = (vertex.pending_records or 0.0) + value


@dataclass(frozen=True)
class SourceLag:
    pending_records: float
    max_partition_lag: float
    emit_lag_ms: float | None


def source_lag(samples: Iterable[Sample], job_id: str) -> SourceLag | None:
    """The job's sources' lag (None: no source reports one, e.g. no Kafka source)."""
    pending = lag_max = 0.0
    emit: float | None = None
    found = False
    for sample in samples:
        if sample.labels.get("job_id") != job_id:
            continue
        if sample.name == _OPERATOR + "pendingRecords":
            pending += sample.value
            found = True
        elif sample.name == _OPERATOR + "records_lag_max":
            lag_max = max(lag_max, sample.value)
        elif sample.name == _OPERATOR + "currentEmitEventTimeLag":
            emit = max(emit or 0.0, sample.value)
    return SourceLag(pending, lag_max, emit) if found else None


def _job_values(samples: Iterable[Sample], job_id: str) -> dict[str, float]:
    return {s.name.removeprefix(_JOB): s.value for s in samples
            if s.name.startswith(_JOB) and s.labels.get("job_id") == job_id}


def _watermark_lag(watermarks: list[float], now_ms: float) -> str:
    real = [w for w in watermarks if w > _NO_WATERMARK]
    if not real or len(real) < len(watermarks):
        return _NONE
    return format_duration(max(0.0, now_ms - min(real)) / 1000)


def job_metrics_text(samples: Sequence[Sample], job_id: str, now_ms: float,
                     vertex_names: Sequence[str] = ()) -> str:
    """The vertex table and the job's checkpoint and restart figures."""
    rows = [(v.name, str(v.subtasks), f"{v.in_per_second:,.0f}", f"{v.out_per_second:,.0f}",
             f"{v.back_pressured_ms / 10:.0f}%", f"{v.busy_ms / 10:.0f}%",
             _watermark_lag(v.watermarks, now_ms),
             _NONE if v.pending_records is None else format_count(int(v.pending_records)))
            for v in vertex_figures(samples, job_id, vertex_names)]
    headers = ("VERTEX", "SUBTASKS", "IN/S", "OUT/S", "BACKPRESSURED", "BUSY",
               "WATERMARK LAG", "SOURCE LAG")
    table = render_table(headers, rows, align=("<",) + (RIGHT,) * 7,
                         max_widths=(2 * MAX_CELL_WIDTH,) + (MAX_CELL_WIDTH,) * 7)
    job = _job_values(samples, job_id)
    if not job:
        return table
    last = int(job.get("lastCompletedCheckpointId", -1))
    checkpoint = _NONE if last < 0 else (
        f"{last} ({format_duration(job.get('lastCheckpointDuration', 0) / 1000)}, "
        f"{format_bytes(int(job.get('lastCheckpointSize', 0)))})")
    summary = (f"Last checkpoint: {checkpoint}; completed "
               f"{int(job.get('numberOfCompletedCheckpoints', 0))}, failed "
               f"{int(job.get('numberOfFailedCheckpoints', 0))}; restarts "
               f"{int(job.get('numRestarts', 0))}")
    return f"{table}\n\n{summary}"


def show_metrics(rpc: JobManagerClient, metrics_address: str, job_id: str, out: IO[str],
                 watch_s: float | None, sleep: Callable[[float], None] = time.sleep) -> int:
    """Print the table once, or with ``watch_s`` redraw it in place until interrupted."""
    while True:
        details = rpc.get_job(job_id)
        names = [vertex.name for vertex in details.vertices]
        text = job_metrics_text(fetch_samples(metrics_address), job_id, time.time() * 1000,
                                names)
        state = pb.JobState.Name(details.state)  # type: ignore[arg-type]
        if watch_s is None:
            out.write(f"{text}\n")
            return 0
        out.write(f"{CLEAR_SCREEN}{details.name} ({job_id}) {state}, every {watch_s:g} s\n\n"
                  f"{text}\n")
        out.flush()
        sleep(watch_s)
