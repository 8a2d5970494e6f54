"""Exactly-once through a TaskManager kill for an interval join: the order-payment example
(both inputs' buffered elements and cleanup timers in keyed state) checkpoints every
300 ms, writes through the exactly-once FileSink, and loses the TaskManager of an order
source subtask a third of the way through its records, once a checkpoint with real state
completed (tests/fixtures/faults.py).

Both inputs are rate-limited to move through event time at the same pace, so at the kill
the join holds orders waiting for their payments and payments whose orders came before the
restored checkpoint: after recovery those pairs can only join from the restored state,
since the sources rewind to their checkpointed positions and never replay those elements.
The committed output must equal the oracle's."""

from __future__ import annotations

import collections
import sys
from pathlib import Path

import cloudpickle
import pytest

from tests.chaos.test_failover import run_failing_once
from tests.chaos.test_two_input_failover import rate_limited
from tests.fixtures.cluster import RunningJobManager
from tests.fixtures.counting_job import committed_file_lines
from tests.fixtures.faults import FailOnce, Fault
from tests.fixtures.state_backends import state_backend
from tests.integration.test_joins import paid_orders_oracle
from weir.common.serialization import Encoder
from weir.datastream import CheckpointingMode, StreamExecutionEnvironment
from weir.datastream.connectors.file_system import FileSink

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))

import order_payment_join

cloudpickle.register_pickle_by_value(order_payment_join)  # as when run as a script

ORDERS = 16_000
RATE = 3_000  # orders (and payments) per second over all subtasks
PARALLELISM = 2


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["hashmap", "rocksdb"])
def test_an_interval_join_loses_nothing_when_a_taskmanager_dies(cluster: RunningJobManager,
                                                                tmp_path,
                                                                request: pytest.FixtureRequest,
                                                                backend: str) -> None:
    plan = FailOnce(tmp_path / "failed", after_records=ORDERS // PARALLELISM // 3,
                    fault=Fault.KILL_TASKMANAGER)
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(PARALLELISM)
    env.set_state_backend(state_backend(backend))
    env.enable_checkpointing(300, CheckpointingMode.EXACTLY_ONCE)
    env.get_checkpoint_config().set_checkpoint_storage_dir((tmp_path / "chk").as_uri())
    env.get_config().set_string("pipeline.auto-watermark-interval", "20 ms")
    seconds = ORDERS / RATE
    orders = env.from_source(
        plan.source(rate_limited(order_payment_join.order, ORDERS, seconds)),
        order_payment_join.order_watermarks(), "orders").uid("orders")
    payments = env.from_source(rate_limited(order_payment_join.payment, ORDERS, seconds),
                               order_payment_join.payment_watermarks(), "payments") \
        .uid("payments")
    order_payment_join.paid_orders(orders, payments) \
        .sink_to(FileSink.for_row_format((tmp_path / "out").as_uri(),
                                         Encoder.simple_string_encoder()).build()) \
        .uid("files")
    run_failing_once(cluster, env, f"interval-join-{backend}-kill", plan, request)
    assert committed_file_lines(tmp_path / "out") == \
        collections.Counter(paid_orders_oracle(ORDERS))
