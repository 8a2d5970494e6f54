"""A job whose user function raises ValueError on the record 13."""

from weir.common import WatermarkStrategy
from weir.datastream import StreamExecutionEnvironment
from weir.datastream.connectors.number_seq import NumberSequenceSource


def reject_thirteen(x: int) -> int:
    if x == 13:
        raise ValueError(f"unlucky record {x}")
    return x


def main() -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    (env.from_source(NumberSequenceSource(0, 99), WatermarkStrategy.no_watermarks(), "numbers")
        .map(reject_thirteen)
        .print())
    env.execute("failing")


if __name__ == "__main__":
    main()
