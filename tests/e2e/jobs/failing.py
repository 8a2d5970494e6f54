"""A job whose user function raises ValueError on the record 13 in every attempt.

``failing.py [--restarts N]``: with N, the fixed-delay restart strategy restarts it N
times before it fails for good.
"""

import argparse

from weir.common import RestartStrategies, WatermarkStrategy
from weir.datastream import StreamExecutionEnvironment
from weir.datastream.connectors.number_seq import NumberSequenceSource


def reject_thirteen(x: int) -> int:
    if x == 13:
        raise ValueError(f"unlucky record {x}")
    return x


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--restarts", type=int, default=None)
    restarts = parser.parse_args().restarts
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    if restarts is not None:
        env.set_restart_strategy(RestartStrategies.fixed_delay_restart(restarts, 0))
    (env.from_source(NumberSequenceSource(0, 99), WatermarkStrategy.no_watermarks(), "numbers")
        .map(reject_thirteen)
        .print())
    env.execute("failing")


if __name__ == "__main__":
    main()
