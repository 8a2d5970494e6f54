"""Running sum per sensor with a KeyedProcessFunction and ValueState.

Each reading updates its sensor's total; every 1000th reading of a sensor is
printed, and the final totals are collected and checked at the end.

    python examples/running_sum.py
"""

from weir.common import Types, WatermarkStrategy
from weir.datastream import KeyedProcessFunction, RuntimeContext, StreamExecutionEnvironment
from weir.datastream.connectors.number_seq import NumberSequenceSource
from weir.datastream.state import ValueStateDescriptor

SENSORS = 8
READINGS = 40_000


class RunningSum(KeyedProcessFunction):
    def open(self, runtime_context: RuntimeContext) -> None:
        self.total = runtime_context.get_state(ValueStateDescriptor("total", Types.LONG()))
        self.count = runtime_context.get_state(ValueStateDescriptor("count", Types.LONG()))

    def process_element(self, value, ctx: KeyedProcessFunction.Context):
        sensor, reading = value
        total = (self.total.value() or 0) + reading
        count = (self.count.value() or 0) + 1
        self.total.update(total)
        self.count.update(count)
        yield sensor, count, total


def running_sum() -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    sums = (env.from_source(NumberSequenceSource(0, READINGS - 1),
                            WatermarkStrategy.no_watermarks(), "readings")
            .map(lambda i: (f"sensor-{i % SENSORS}", i % 97))
            .key_by(lambda reading: reading[0])
            .process(RunningSum()))
    final: dict[str, int] = {}
    with sums.execute_and_collect("running_sum") as results:
        for sensor, count, total in results:
            if count % 1000 == 0:
                print(f"{sensor}: {count} readings, total {total}")
            final[sensor] = max(final.get(sensor, 0), total)
    for sensor in sorted(final):
        print(f"final {sensor}: {final[sensor]}")


if __name__ == "__main__":
    running_sum()
