"""An unbounded job: a rate-limited DataGeneratorSource that runs until cancelled.

It prints nothing and takes its parallelism from `weir run -p N`.
"""

from weir.common import WatermarkStrategy
from weir.datastream import StreamExecutionEnvironment
from weir.datastream.connectors.datagen import DataGeneratorSource, RateLimiterStrategy


def main() -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    source = DataGeneratorSource(lambda i: i, None, RateLimiterStrategy.per_second(50))
    (env.from_source(source, WatermarkStrategy.no_watermarks(), "ticks")
        .filter(lambda i: i < 0)
        .print())
    env.execute("endless")


if __name__ == "__main__":
    main()
