"""Real-time risk control: alert users who claim a coupon more than 5 times within a minute.

A generated stream of user events (views, carts, coupon claims) is keyed by
user; a KeyedProcessFunction keeps each user's claim times of the last minute
in ListState and emits an alert when a claim is the 6th within 60 s (once per
burst: the alert repeats only after the user's claims fell back to 5 or fewer).

    make demo                        # or: python examples/coupon_abuse.py
    weir run examples/coupon_abuse.py -- --events 200000
"""

import argparse

from weir.common import Types, WatermarkStrategy
from weir.datastream import KeyedProcessFunction, RuntimeContext, StreamExecutionEnvironment
from weir.datastream.connectors.datagen import DataGeneratorSource
from weir.datastream.state import ListStateDescriptor

WINDOW_MS = 60_000
MAX_CLAIMS = 5
START_MS = 1_700_000_000_000
USERS = 500
ABUSERS = {7, 42, 313}  # these users claim about every 4 s; everyone else rarely


def user_event(i: int) -> tuple[int, str, int]:
    """Event i: (user_id, action, ts_ms); one event every 10 ms of event time."""
    ts_ms = START_MS + i * 10
    if i % 40 == 0:
        user = sorted(ABUSERS)[(i // 40) % len(ABUSERS)]
        return user, "claim_coupon", ts_ms
    user = (i * 7919) % USERS
    action = ("view", "add_to_cart", "view", "claim_coupon")[(i * 31) % 4] \
        if (i * 13) % 50 == 0 else "view"
    return user, action, ts_ms


class ClaimBurstDetector(KeyedProcessFunction):
    """Per user: the claim times of the last minute; alert on the 6th claim within it."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.claims = runtime_context.get_list_state(
            ListStateDescriptor("recent_claims", Types.LONG()))

    def process_element(self, value, ctx: KeyedProcessFunction.Context):
        user, _, ts_ms = value
        recent = [t for t in self.claims.get() if t > ts_ms - WINDOW_MS]
        recent.append(ts_ms)
        self.claims.update(recent)
        if len(recent) == MAX_CLAIMS + 1:
            yield f"ALERT user {user}: {len(recent)} coupon claims in the minute before {ts_ms}"


def coupon_abuse(events: int) -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    source = DataGeneratorSource(user_event, events)
    alerts = (env.from_source(source, WatermarkStrategy.no_watermarks(), "user_events")
              .filter(lambda event: event[1] == "claim_coupon")
              .key_by(lambda event: event[0])
              .process(ClaimBurstDetector()))
    alerts.print()
    result = env.execute("coupon_abuse")
    print(f"coupon_abuse: {events} events checked in "
          f"{result.get_net_runtime() / 1000:.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60_000, help="events to generate")
    coupon_abuse(parser.parse_args().events)
