"""Risk control with rules changed at run time: flag transactions that break the rules in force.

Transactions arrive keyed by user; rule updates (a limit per rule name, or the rule
switched off) are pushed at run time on a second stream that is broadcast to every
subtask, where they live in broadcast state. Each transaction is judged by the rules as
they stood at its own event time: it waits in keyed state until the watermark (the
lower of both streams') passes it, so a rule update that reached one subtask a little
later than another changes nothing in the result. Broadcast state is checkpointed with
everything else: a rule pushed just before a crash is still in force after recovery.

    python examples/dynamic_rules.py
    weir run examples/dynamic_rules.py -- --transactions 200000 --parallelism 4
"""

import argparse

from weir.common import Duration, WatermarkStrategy
from weir.datastream import (
    DataStream,
    KeyedBroadcastProcessFunction,
    StreamExecutionEnvironment,
)
from weir.datastream.connectors.datagen import DataGeneratorSource
from weir.datastream.state import MapStateDescriptor

START_MS = 1_700_000_000_000
USERS = 300
OUT_OF_ORDERNESS_MS = 1_000
TRANSACTION_EVERY_MS = 10
RULE_UPDATE_EVERY_MS = 1_000
RULE_NAMES = ("single-payment", "card-not-present", "new-device")
RULES = MapStateDescriptor("rules")  # rule name -> {valid from ts: limit in cents or None}


def transaction(i: int) -> tuple[int, int, int, int]:
    """Transaction i: (transaction_id, user, amount_cents, ts_ms), one every 10 ms, up to
    1 s late."""
    ts_ms = START_MS + i * TRANSACTION_EVERY_MS - (i * 7919) % OUT_OF_ORDERNESS_MS
    return i, (i * 7919) % USERS, (i * 104_729) % 100_000, ts_ms


def rule_update(i: int) -> tuple[str, int | None, int]:
    """Rule update i: (rule name, limit_cents or None when the rule is switched off, ts_ms);
    the first ones set every rule before the first transaction."""
    name = RULE_NAMES[i % len(RULE_NAMES)]
    if i < len(RULE_NAMES):
        return name, 90_000, START_MS - OUT_OF_ORDERNESS_MS
    limit = None if i % 7 == 0 else 50_000 + (i * 7717) % 50_000
    return name, limit, START_MS + i * RULE_UPDATE_EVERY_MS // len(RULE_NAMES)


def rule_updates_for(transactions: int) -> int:
    """How many rule updates cover the event time of ``transactions`` transactions."""
    return (transactions * TRANSACTION_EVERY_MS * len(RULE_NAMES) // RULE_UPDATE_EVERY_MS
            + len(RULE_NAMES) + 1)


def flag_line(transaction_id: int, user: int, amount: int, rule: str, limit: int) -> str:
    return (f"FLAG user {user}: transaction {transaction_id} of {amount / 100:.2f} breaks "
            f"{rule} (limit {limit / 100:.2f})")


class FlagByRulesInForce(KeyedBroadcastProcessFunction):
    """Broadcast side: every rule update goes into the rules' history (broadcast state).
    Keyed side: a user's transactions wait (``waiting``: ts → transactions) for an
    event-time timer at their timestamp, then meet the rules in force at that time."""

    def open(self, runtime_context) -> None:
        self.waiting = runtime_context.get_map_state(MapStateDescriptor("waiting"))

    def process_broadcast_element(self, value, ctx):
        name, limit, ts = value
        rules = ctx.get_broadcast_state(RULES)
        rules.put(name, {**(rules.get(name) or {}), ts: limit})
        return ()

    def process_element(self, value, ctx):
        ts = value[3]
        self.waiting.put(ts, [*(self.waiting.get(ts) or []), value])
        ctx.timer_service().register_event_time_timer(ts)
        return ()

    def on_timer(self, timestamp, ctx):
        in_force = []
        for name, history in ctx.get_broadcast_state(RULES).items():
            valid = [ts for ts in history if ts <= timestamp]
            if valid and history[max(valid)] is not None:
                in_force.append((name, history[max(valid)]))
        for transaction_id, user, amount, _ in self.waiting.get(timestamp):
            for name, limit in sorted(in_force):
                if amount > limit:
                    yield flag_line(transaction_id, user, amount, name, limit)
        self.waiting.remove(timestamp)


def flagged_transactions(transactions: DataStream, rule_updates: DataStream) -> DataStream:
    """A line for every transaction and every rule in force at its time that it breaks."""
    return (transactions.key_by(lambda t: t[1])
            .connect(rule_updates.broadcast(RULES))
            .process(FlagByRulesInForce())
            .uid("flag-by-rules-in-force"))


def watermarks(timestamp_field: int) -> WatermarkStrategy:
    return WatermarkStrategy \
        .for_bounded_out_of_orderness(Duration.of_millis(OUT_OF_ORDERNESS_MS)) \
        .with_timestamp_assigner(lambda event, _: event[timestamp_field])


def dynamic_rules(transactions: int, parallelism: int = 2) -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    payments = env.from_source(DataGeneratorSource(transaction, transactions), watermarks(3),
                               "transactions")
    rules = env.from_source(DataGeneratorSource(rule_update, rule_updates_for(transactions)),
                            watermarks(2), "rule updates")
    flagged_transactions(payments, rules).print()
    env.execute("dynamic_rules")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=20_000,
                        help="transactions to generate")
    parser.add_argument("--parallelism", type=int, default=2)
    arguments = parser.parse_args()
    dynamic_rules(arguments.transactions, arguments.parallelism)
