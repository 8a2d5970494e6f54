"""A bounded job: per-key running sums of 0..N-1 keyed by x % 5, printed as `key=<k> sum=<s>`.

Its arguments (after ``weir run FILE --``): ``N`` (default 200). It prints its
own argv and parallelism first, so a test can see what reached it.
"""

import sys

from weir.common import WatermarkStrategy
from weir.datastream import StreamExecutionEnvironment
from weir.datastream.connectors.number_seq import NumberSequenceSource

KEYS = 5


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    env = StreamExecutionEnvironment.get_execution_environment()
    print(f"argv={sys.argv[1:]} parallelism={env.get_parallelism()}", flush=True)
    numbers = env.from_source(NumberSequenceSource(0, count - 1),
                              WatermarkStrategy.no_watermarks(), "numbers")
    (numbers.map(lambda x: (x % KEYS, x))
        .key_by(lambda pair: pair[0])
        .reduce(lambda a, b: (a[0], a[1] + b[1]))
        .map(lambda pair: f"key={pair[0]} sum={pair[1]}")
        .print())
    env.execute("keyed_sum")


if __name__ == "__main__":
    main()
