"""Exactly-once through a failure for two-input operators: the dynamic-rules job (broadcast
state and keyed state) and the dimension-enrichment job (keyed co-process: both inputs'
keyed state and timers) checkpoint every 300 ms, write through the exactly-once FileSink,
and fail once (tests/fixtures/faults.py) after n records of a main-input source subtask,
once a checkpoint with real state completed: by a failing source or by killing its
TaskManager.

Both inputs are rate-limited to move through event time at the same pace, so the
broadcast side keeps pushing rule updates (and price changes) up to the moment of the
failure: the updates that reached the operator before the restored checkpoint exist
after recovery only in the restored broadcast (or keyed) state, since the sources rewind
to their checkpointed positions and never replay them. The committed output must equal
the oracle's."""

from __future__ import annotations

import collections
import sys
from pathlib import Path

import cloudpickle
import pytest

from tests.chaos.test_failover import run_failing_once
from tests.fixtures.cluster import RunningJobManager
from tests.fixtures.counting_job import committed_file_lines
from tests.fixtures.faults import FailOnce, Fault
from tests.fixtures.state_backends import state_backend
from tests.integration.test_broadcast_state import rules_oracle
from tests.integration.test_connected_streams import enrichment_oracle
from weir.common.serialization import Encoder
from weir.datastream import CheckpointingMode, StreamExecutionEnvironment
from weir.datastream.connectors.datagen import DataGeneratorSource, RateLimiterStrategy
from weir.datastream.connectors.file_system import FileSink

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))

import dimension_enrichment
import dynamic_rules

for example in (dimension_enrichment, dynamic_rules):  # as when run as scripts
    cloudpickle.register_pickle_by_value(example)

RECORDS = 16_000  # main-input records (transactions, orders)
RATE = 3_000  # main-input records per second over all subtasks
PARALLELISM = 2


def rate_limited(generator, count: int, seconds: float) -> DataGeneratorSource:
    return DataGeneratorSource(generator, count=count,
                               rate_limiter_strategy=RateLimiterStrategy.per_second(
                                   count / seconds))


def two_input_job(job: str, env: StreamExecutionEnvironment, plan: FailOnce):
    """The job's output stream; its main input fails as ``plan`` says, its other input
    spans the same event time in the same wall-clock time."""
    seconds = RECORDS / RATE
    if job == "broadcast":
        main, watermarks = dynamic_rules.transaction, dynamic_rules.watermarks
        other, other_count = dynamic_rules.rule_update, dynamic_rules.rule_updates_for(RECORDS)
        build = dynamic_rules.flagged_transactions
    else:
        main, watermarks = dimension_enrichment.order, dimension_enrichment.watermarks
        other = dimension_enrichment.price_change
        other_count = dimension_enrichment.price_changes_for(RECORDS)
        build = dimension_enrichment.enriched_orders
    # Both examples' events have their timestamp last: field 3 of the main input's, 2 of
    # the other's.
    main_stream = env.from_source(plan.source(rate_limited(main, RECORDS, seconds)),
                                  watermarks(3), "main").uid("main")
    other_stream = env.from_source(rate_limited(other, other_count, seconds),
                                   watermarks(2), "other").uid("other")
    return build(main_stream, other_stream)


def oracle(job: str) -> collections.Counter[str]:
    if job == "broadcast":
        return rules_oracle(RECORDS)
    return collections.Counter(enrichment_oracle(RECORDS))


@pytest.mark.slow
@pytest.mark.parametrize(("job", "fault", "backend"), [
    ("broadcast", Fault.KILL_TASKMANAGER, "hashmap"),
    ("broadcast", Fault.RAISE, "hashmap"),
    ("broadcast", Fault.KILL_TASKMANAGER, "rocksdb"),
    ("co-process", Fault.KILL_TASKMANAGER, "hashmap"),
    ("co-process", Fault.RAISE, "rocksdb"),
], ids=lambda value: getattr(value, "value", value))
def test_two_input_operators_lose_nothing_through_a_failure(cluster: RunningJobManager,
                                                            tmp_path,
                                                            request: pytest.FixtureRequest,
                                                            job: str, fault: Fault,
                                                            backend: str) -> None:
    # A third of the way through a main-input source subtask's records:
    plan = FailOnce(tmp_path / "failed", after_records=RECORDS // PARALLELISM // 3,
                    fault=fault)
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(PARALLELISM)
    env.set_state_backend(state_backend(backend))
    env.enable_checkpointing(300, CheckpointingMode.EXACTLY_ONCE)
    env.get_checkpoint_config().set_checkpoint_storage_dir((tmp_path / "chk").as_uri())
    env.get_config().set_string("pipeline.auto-watermark-interval", "20 ms")
    two_input_job(job, env, plan) \
        .sink_to(FileSink.for_row_format((tmp_path / "out").as_uri(),
                                         Encoder.simple_string_encoder()).build()) \
        .uid("files")
    run_failing_once(cluster, env, f"two-input-{job}-{backend}-{fault.value}", plan, request)
    assert committed_file_lines(tmp_path / "out") == oracle(job)
