"""Click-stream features: per-user category counts over 1-hour windows sliding every 5 minutes,
and session lengths with a 5-minute inactivity gap.

Clicks arrive up to 30 seconds out of order. The sliding-window features are
printed for the windows that end on the hour (every window is computed); each
session is printed when the watermark passes its end.

    python examples/click_features.py
    weir run examples/click_features.py -- --users 50 --hours 4
"""

import argparse
import random
from collections import Counter
from datetime import UTC, datetime

from weir.common import Duration, Time, WatermarkStrategy
from weir.datastream import AggregateFunction, ProcessWindowFunction, StreamExecutionEnvironment
from weir.datastream.window import EventTimeSessionWindows, SlidingEventTimeWindows

START_MS = 1_700_000_000_000 - 1_700_000_000_000 % 3_600_000  # on the hour
CATEGORIES = ("books", "games", "music", "garden", "shoes")
HOUR_MS = 3_600_000


def generate_clicks(users: int, hours: int, seed: int = 42) -> list[tuple[str, str, int]]:
    """(user, category, ts_ms): each user browses in sessions of a few minutes with pauses,
    favouring two categories; delivered in slightly shuffled order."""
    rng = random.Random(seed)
    clicks = []
    for u in range(users):
        user = f"user-{u:02d}"
        favourites = rng.sample(CATEGORIES, 2)
        ts = START_MS + rng.randrange(600_000)
        while ts < START_MS + hours * HOUR_MS:
            for _ in range(rng.randrange(3, 30)):  # one session
                category = rng.choice(favourites) if rng.random() < 0.8 else rng.choice(CATEGORIES)
                clicks.append((user, category, ts))
                ts += rng.randrange(5_000, 90_000)
            ts += rng.randrange(6 * 60_000, 40 * 60_000)  # a pause longer than the gap
    clicks.sort(key=lambda c: c[2] + rng.randrange(30_000))
    return clicks


def clock(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%H:%M")


class CategoryCounts(AggregateFunction):
    def create_accumulator(self) -> Counter:
        return Counter()

    def add(self, value: tuple[str, str, int], accumulator: Counter) -> Counter:
        accumulator[value[1]] += 1
        return accumulator

    def get_result(self, accumulator: Counter) -> Counter:
        return accumulator

    def merge(self, acc_a: Counter, acc_b: Counter) -> Counter:
        return acc_a + acc_b


class HourlyFeatures(ProcessWindowFunction):
    """The category counts of the hour before each full hour."""

    def process(self, key: str, context: ProcessWindowFunction.Context, elements):
        window = context.window()
        if window.end % HOUR_MS == 0:
            counts = next(iter(elements))
            top = ", ".join(f"{c} {n}" for c, n in counts.most_common())
            yield f"features {key} {clock(window.start)}-{clock(window.end)}: {top}"


class SessionLength(ProcessWindowFunction):
    def process(self, key: str, context: ProcessWindowFunction.Context, elements):
        clicks = sorted(c[2] for c in elements)
        minutes, seconds = divmod((clicks[-1] - clicks[0]) // 1000, 60)
        yield (f"session  {key} {clock(clicks[0])}: {minutes}m{seconds:02d}s, "
               f"{len(clicks)} clicks")


def click_features(users: int, hours: int) -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    watermarks = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_seconds(30)) \
        .with_timestamp_assigner(lambda click, _: click[2])
    clicks = (env.from_collection(generate_clicks(users, hours))
              .assign_timestamps_and_watermarks(watermarks)
              .key_by(lambda click: click[0]))
    features = (clicks.window(SlidingEventTimeWindows.of(Time.hours(1), Time.minutes(5)))
                .aggregate(CategoryCounts(), window_function=HourlyFeatures()))
    sessions = (clicks.window(EventTimeSessionWindows.with_gap(Time.minutes(5)))
                .process(SessionLength()))
    features.union(sessions).print()
    result = env.execute("click_features")
    print(f"click_features: {users} users, {hours} hours of clicks in "
          f"{result.get_net_runtime() / 1000:.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=6)
    parser.add_argument("--hours", type=int, default=3)
    args = parser.parse_args()
    click_features(args.users, args.hours)
