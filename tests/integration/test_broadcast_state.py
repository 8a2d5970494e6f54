"""Broadcast state on the cluster at parallelism 1, 2 and 4: every subtask gets every
broadcast record and keeps its own copy of the broadcast state; the keyed variant (the
dynamic-rules example) against a plain-Python oracle on every state backend."""

from __future__ import annotations

import collections
import re
import sys
import time
from pathlib import Path

import cloudpickle
import pytest

from tests.fixtures.counting_job import committed_file_lines
from tests.fixtures.rescaling import committing_sink, rescale_through, savepoint_environment
from tests.fixtures.state_backends import BACKENDS
from tests.integration.test_pipelines import PARALLELISM, collect, environment, numbers
from weir.datastream import BroadcastProcessFunction
from weir.datastream.connectors.datagen import DataGeneratorSource, RateLimiterStrategy
from weir.datastream.state import MapStateDescriptor
from weir.proto import jobmanager_pb2 as pb
from weir.rpc.client import JobManagerClient

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))

import dynamic_rules  # the example's generators are the oracle's input

cloudpickle.register_pickle_by_value(dynamic_rules)  # as when run as a script

SEEN = MapStateDescriptor("seen")
N = 5_000
RULES = 200


class CountBroadcastRecords(BroadcastProcessFunction):
    """Each broadcast record goes into this subtask's broadcast state, which then holds all
    of them: the broadcast side emits (subtask, record, size of the state), the other side
    passes its records on."""

    def open(self, runtime_context) -> None:
        self.subtask = runtime_context.get_index_of_this_subtask()

    def process_broadcast_element(self, value, ctx):
        seen = ctx.get_broadcast_state(SEEN)
        seen.put(value, True)
        yield "broadcast", self.subtask, value, len(list(seen.keys()))

    def process_element(self, value, ctx):
        yield "record", value


@pytest.mark.parametrize("parallelism", PARALLELISM)
def test_every_subtask_gets_every_broadcast_record(cluster, parallelism):
    env = environment(parallelism)
    stream = numbers(env, 0, N - 1).connect(numbers(env, 0, RULES - 1).broadcast(SEEN)) \
        .process(CountBroadcastRecords())
    got = collect(stream)
    assert sorted(r[1] for r in got if r[0] == "record") == list(range(N))
    broadcast = [r[1:] for r in got if r[0] == "broadcast"]
    assert sorted((s, v) for s, v, _ in broadcast) == \
        [(s, v) for s in range(parallelism) for v in range(RULES)]
    # Each subtask's state grew by one per broadcast record (it holds its own copy):
    for subtask in range(parallelism):
        assert sorted(n for s, _, n in broadcast if s == subtask) == list(range(1, RULES + 1))


def rules_oracle(transactions: int) -> collections.Counter[str]:
    """Every (transaction, rule) pair where the transaction breaks the rule as it stood at the
    transaction's time."""
    history = collections.defaultdict(list)
    for i in range(dynamic_rules.rule_updates_for(transactions)):
        name, limit, ts = dynamic_rules.rule_update(i)
        history[name].append((ts, i, limit))
    lines = collections.Counter()
    for i in range(transactions):
        transaction_id, user, amount, ts = dynamic_rules.transaction(i)
        for name in sorted(history):
            in_force = [h for h in history[name] if h[0] <= ts]
            limit = max(in_force)[2] if in_force else None
            if limit is not None and amount > limit:
                lines[dynamic_rules.flag_line(transaction_id, user, amount, name, limit)] += 1
    return lines


def printed_flags(capsys) -> collections.Counter[str]:
    return collections.Counter(re.sub(r"^\d+> ", "", line)
                               for line in capsys.readouterr().out.splitlines()
                               if "FLAG user" in line)


@pytest.mark.parametrize("parallelism", PARALLELISM)
def test_dynamic_rules_flag_by_the_rules_in_force(cluster, capsys, parallelism):
    transactions = 6_000
    dynamic_rules.dynamic_rules(transactions, parallelism)
    expected = rules_oracle(transactions)
    assert printed_flags(capsys) == expected
    assert len({line.split(" breaks ")[1].split(" (")[0] for line in expected}) == 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_dynamic_rules_on_every_state_backend(cluster, capsys, backend):
    transactions = 3_000
    env = environment(2, backend)
    payments = env.from_source(DataGeneratorSource(dynamic_rules.transaction, transactions),
                               dynamic_rules.watermarks(3), "transactions")
    rules = env.from_source(
        DataGeneratorSource(dynamic_rules.rule_update,
                            dynamic_rules.rule_updates_for(transactions)),
        dynamic_rules.watermarks(2), "rule updates")
    dynamic_rules.flagged_transactions(payments, rules).print()
    env.execute(f"dynamic-rules-{backend}")
    assert printed_flags(capsys) == rules_oracle(transactions)


def rules_job(parallelism: int, root: Path, savepoint: str | None, records: int,
              seconds: float):
    """The dynamic-rules job over ``seconds``, every operator at ``parallelism``, writing
    through the exactly-once FileSink."""
    env = savepoint_environment(root, savepoint)
    env.set_parallelism(parallelism)
    payments = env.from_source(
        DataGeneratorSource(dynamic_rules.transaction, records,
                            RateLimiterStrategy.per_second(records / seconds)),
        dynamic_rules.watermarks(3), "transactions").uid("transactions")
    updates = dynamic_rules.rule_updates_for(records)
    rules = env.from_source(
        DataGeneratorSource(dynamic_rules.rule_update, updates,
                            RateLimiterStrategy.per_second(updates / seconds)),
        dynamic_rules.watermarks(2), "rule updates").uid("rules")
    dynamic_rules.flagged_transactions(payments, rules).sink_to(committing_sink(root)).uid("files")
    return env


def await_more_output(directory: Path) -> None:
    """Until a checkpoint committed more lines than there were (flags wait for event time)."""
    before = sum(committed_file_lines(directory).values())
    deadline = time.monotonic() + 60
    while sum(committed_file_lines(directory).values()) == before:
        assert time.monotonic() < deadline, "no output was committed in 60 s"
        time.sleep(0.05)


@pytest.mark.slow
def test_broadcast_state_is_copied_to_every_subtask_on_rescaling(cluster, tmp_path):
    """Stopped with a savepoint mid-stream and resumed at 2 → 4 → 1: every new subtask
    starts with the rules pushed before the savepoint (the sources never replay them)."""
    records = 9_000
    expected = rules_oracle(records)
    with JobManagerClient(cluster.address, cluster.token) as client:
        details = rescale_through(
            client, lambda p, savepoint: rules_job(p, tmp_path, savepoint, records, 6.0),
            [2, 4, 1], tmp_path, "rules-rescale", sum(expected.values()),
            before_savepoint=lambda: await_more_output(tmp_path / "out"))
    assert details.state == pb.FINISHED, details.failure_cause
    assert committed_file_lines(tmp_path / "out") == expected
