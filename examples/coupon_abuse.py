"""Real-time risk control: alert users who claim a coupon more than 5 times within a minute.

A generated stream of user events (views, carts, coupon claims) arrives up to 5
seconds out of order. Timestamps come from the events and watermarks trail the
newest event by 5 s (``for_bounded_out_of_orderness``); coupon claims are keyed
by user and counted in 1-minute tumbling event-time windows. When a window
closes, a user with more than 5 claims in it gets an alert.

    make demo                        # or: python examples/coupon_abuse.py
    weir run examples/coupon_abuse.py -- --events 200000
"""

import argparse
from datetime import UTC, datetime

from weir.common import Duration, Time, WatermarkStrategy
from weir.datastream import AggregateFunction, ProcessWindowFunction, StreamExecutionEnvironment
from weir.datastream.connectors.datagen import DataGeneratorSource
from weir.datastream.window import TumblingEventTimeWindows

MAX_CLAIMS = 5
OUT_OF_ORDERNESS_S = 5
START_MS = 1_700_000_000_000
USERS = 500
ABUSERS = (7, 42, 313)  # these users claim about every second; everyone else rarely


def user_event(i: int) -> tuple[int, str, int]:
    """Event i: (user_id, action, ts_ms): one event every 10 ms of event time, each late by up
    to 5 s (a device's clock and network delay)."""
    ts_ms = START_MS + i * 10 - (i * 7919) % (OUT_OF_ORDERNESS_S * 1000)
    if i % 40 == 0:
        return ABUSERS[(i // 40) % len(ABUSERS)], "claim_coupon", ts_ms
    user = (i * 7919) % USERS
    action = ("view", "add_to_cart", "view", "claim_coupon")[(i * 31) % 4] \
        if (i * 13) % 50 == 0 else "view"
    return user, action, ts_ms


def event_time(event: tuple[int, str, int], record_timestamp: int) -> int:
    return event[2]


class CountClaims(AggregateFunction):
    """One counter per user and minute, not the claims themselves."""

    def create_accumulator(self) -> int:
        return 0

    def add(self, value: tuple[int, str, int], accumulator: int) -> int:
        return accumulator + 1

    def get_result(self, accumulator: int) -> int:
        return accumulator

    def merge(self, acc_a: int, acc_b: int) -> int:
        return acc_a + acc_b


def clock(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%H:%M:%S")


class AlertOnBurst(ProcessWindowFunction):
    """Turns a user's claim count of one minute into an alert if it is above the limit."""

    def process(self, key: int, context: ProcessWindowFunction.Context, elements):
        claims = next(iter(elements))
        if claims > MAX_CLAIMS:
            window = context.window()
            yield (f"ALERT user {key}: {claims} coupon claims between "
                   f"{clock(window.start)} and {clock(window.end)} UTC")


def coupon_abuse(events: int) -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    watermarks = WatermarkStrategy \
        .for_bounded_out_of_orderness(Duration.of_seconds(OUT_OF_ORDERNESS_S)) \
        .with_timestamp_assigner(event_time)
    alerts = (env.from_source(DataGeneratorSource(user_event, events), watermarks, "user_events")
              .filter(lambda event: event[1] == "claim_coupon")
              .key_by(lambda event: event[0])
              .window(TumblingEventTimeWindows.of(Time.minutes(1)))
              .aggregate(CountClaims(), window_function=AlertOnBurst()))
    alerts.print()
    result = env.execute("coupon_abuse")
    print(f"coupon_abuse: {events} events checked in {result.get_net_runtime() / 1000:.2f} s "
          f"({events * 10 / 60_000:.0f} minutes of event time)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60_000, help="events to generate")
    coupon_abuse(parser.parse_args().events)
