"""A job whose user function raises ValueError on the record 13 in every attempt; the
fixed-delay restart strategy restarts it twice, then it fails for good."""

from weir.common import RestartStrategies, WatermarkStrategy
from weir.datastream import StreamExecutionEnvironment
from weir.datastream.connectors.number_seq import NumberSequenceSource

RESTARTS = 2


def reject_thirteen(x: int) -> int:
    if x == 13:
        raise ValueError(f"unlucky record {x}")
    return x


def main() -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(RESTARTS, 0))
    (env.from_source(NumberSequenceSource(0, 99), WatermarkStrategy.no_watermarks(), "numbers")
        .map(reject_thirteen)
        .filter(lambda x: False)
        .print())
    env.execute("restarting")


if __name__ == "__main__":
    main()
