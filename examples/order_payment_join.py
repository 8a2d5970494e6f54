"""Order-payment matching: each order with its payment, if the payment came within 15 minutes
of the order (an interval join, as Java Flink has it).

Two generated streams: orders (up to 5 s out of order) and payments, one per order, made
0 to 20 minutes after it. Both are keyed by order id; ``interval_join(...).between(0 min,
15 min)`` joins an order placed at t with the payments of t to t + 15 min (both bounds
inclusive), so an order paid later joins nothing (and would be cancelled). Each match is
timestamped with its payment's time (the later of the two), and each side's elements are
dropped from the join's state once the watermark shows that nothing can join them any more.

    python examples/order_payment_join.py
    weir run examples/order_payment_join.py -- --orders 100000 --parallelism 4
"""

import argparse

from weir.common import Duration, Time, WatermarkStrategy
from weir.datastream import DataStream, ProcessJoinFunction, StreamExecutionEnvironment
from weir.datastream.connectors.datagen import DataGeneratorSource

START_MS = 1_700_000_000_000
ORDER_EVERY_MS = 1_000
ORDER_OUT_OF_ORDERNESS_MS = 5_000
PAYMENT_WITHIN = Time.minutes(15)
MAX_PAYMENT_DELAY_S = 20 * 60
USERS = 500


def order(i: int) -> tuple[int, int, int, int]:
    """Order i: (order_id, user, amount_cents, ts_ms), one a second, each up to 5 s late."""
    ts_ms = START_MS + i * ORDER_EVERY_MS - (i * 7919) % ORDER_OUT_OF_ORDERNESS_MS
    return i, (i * 31) % USERS, 500 + (i * 7717) % 20_000, ts_ms


def payment(i: int) -> tuple[int, int, int]:
    """The payment of order i: (order_id, amount_cents, ts_ms), 0 to 20 minutes after it."""
    order_id, _, amount, order_ts = order(i)
    return order_id, amount, order_ts + (i * 104_729) % (MAX_PAYMENT_DELAY_S + 1) * 1000


class PaidInTime(ProcessJoinFunction):
    """An order (left) and its payment (right), joined: how long the payment took."""

    def process_element(self, left, right, ctx):
        waited_s = (ctx.get_right_timestamp() - ctx.get_left_timestamp()) // 1000
        yield f"order {left[0]} of user {left[1]}: {left[2] / 100:.2f} paid after {waited_s} s"


def paid_orders(orders: DataStream, payments: DataStream) -> DataStream:
    """Each order paid within 15 minutes, as a line."""
    return (orders.key_by(lambda o: o[0])
            .interval_join(payments.key_by(lambda p: p[0]))
            .between(Time.minutes(0), PAYMENT_WITHIN)
            .process(PaidInTime())
            .uid("paid-orders"))


def order_watermarks() -> WatermarkStrategy:
    return WatermarkStrategy \
        .for_bounded_out_of_orderness(Duration.of_millis(ORDER_OUT_OF_ORDERNESS_MS)) \
        .with_timestamp_assigner(lambda o, _: o[3])


def payment_watermarks() -> WatermarkStrategy:
    """Payments come in order-id order, so up to the longest delay plus the orders' own
    disorder out of order."""
    bound = MAX_PAYMENT_DELAY_S * 1000 + ORDER_OUT_OF_ORDERNESS_MS
    return WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(bound)) \
        .with_timestamp_assigner(lambda p, _: p[2])


def order_payment_join(orders: int, parallelism: int = 2) -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    order_stream = env.from_source(DataGeneratorSource(order, orders), order_watermarks(),
                                   "orders")
    payment_stream = env.from_source(DataGeneratorSource(payment, orders),
                                     payment_watermarks(), "payments")
    paid_orders(order_stream, payment_stream).print()
    env.execute("order_payment_join")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000, help="orders to generate")
    parser.add_argument("--parallelism", type=int, default=2)
    arguments = parser.parse_args()
    order_payment_join(arguments.orders, arguments.parallelism)
