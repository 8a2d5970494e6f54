"""Order enrichment: price each order with its item's price as it was when the order was placed.

Two generated streams: orders (up to 2 s out of order) and item price changes (the
item dimension: a full catalogue first, then a change every half second). Both are
keyed by item and connected; a ``KeyedCoProcessFunction`` keeps each item's price
history in keyed state and holds each order until event time passes it (the watermark
of the two inputs is the lower of theirs, so by then every price change up to the
order's time has arrived). The order then gets the latest price at or before its own
timestamp, whatever the order in which the two streams happened to arrive.

    python examples/dimension_enrichment.py
    weir run examples/dimension_enrichment.py -- --orders 100000 --parallelism 4
"""

import argparse

from weir.common import Duration, WatermarkStrategy
from weir.datastream import DataStream, KeyedCoProcessFunction, StreamExecutionEnvironment
from weir.datastream.connectors.datagen import DataGeneratorSource
from weir.datastream.state import MapStateDescriptor

START_MS = 1_700_000_000_000
ITEMS = 40
OUT_OF_ORDERNESS_MS = 2_000
PRICE_CHANGE_EVERY_MS = 500
ORDER_EVERY_MS = 10


def order(i: int) -> tuple[int, int, int, int]:
    """Order i: (order_id, item, quantity, ts_ms), one every 10 ms, each up to 2 s late."""
    ts_ms = START_MS + i * ORDER_EVERY_MS - (i * 7919) % OUT_OF_ORDERNESS_MS
    return i, (i * 31) % ITEMS, 1 + i % 5, ts_ms


def price_change(i: int) -> tuple[int, int, int]:
    """Price change i: (item, price_cents, ts_ms); the first ITEMS are the catalogue as it
    stands before the first order."""
    if i < ITEMS:
        return i, 100 + i * 25, START_MS - OUT_OF_ORDERNESS_MS
    ts_ms = START_MS + (i - ITEMS) * PRICE_CHANGE_EVERY_MS
    return (i * 17) % ITEMS, 100 + (i * 7717) % 5_000, ts_ms


def price_changes_for(orders: int) -> int:
    """How many price changes cover the event time of ``orders`` orders."""
    return ITEMS + orders * ORDER_EVERY_MS // PRICE_CHANGE_EVERY_MS + 1


class PriceAsOfOrderTime(KeyedCoProcessFunction):
    """Per item: its price history (``prices``: ts → price) and the orders waiting for event
    time to pass them (``waiting``: ts → orders). Input 1: orders; input 2: price changes."""

    def open(self, runtime_context) -> None:
        self.prices = runtime_context.get_map_state(MapStateDescriptor("prices"))
        self.waiting = runtime_context.get_map_state(MapStateDescriptor("waiting"))

    def process_element1(self, value, ctx):
        ts = value[3]
        self.waiting.put(ts, [*(self.waiting.get(ts) or []), value])
        ctx.timer_service().register_event_time_timer(ts)
        return ()

    def process_element2(self, value, ctx):
        self.prices.put(value[2], value[1])
        return ()

    def on_timer(self, timestamp, ctx):
        valid_from = max(ts for ts in self.prices if ts <= timestamp)
        price = self.prices.get(valid_from)
        for order_id, item, quantity, _ in self.waiting.get(timestamp):
            yield (f"order {order_id}: {quantity} x item {item} at {price / 100:.2f} = "
                   f"{quantity * price / 100:.2f}")
        self.waiting.remove(timestamp)
        for ts in [ts for ts in self.prices if ts < valid_from]:
            self.prices.remove(ts)  # no later order needs prices before this one


def enriched_orders(orders: DataStream, price_changes: DataStream) -> DataStream:
    """Each order as a line with the price of its item at the order's time."""
    return (orders.connect(price_changes)
            .key_by(lambda o: o[1], lambda change: change[0])
            .process(PriceAsOfOrderTime())
            .uid("price-as-of-order-time"))


def watermarks(timestamp_field: int) -> WatermarkStrategy:
    return WatermarkStrategy \
        .for_bounded_out_of_orderness(Duration.of_millis(OUT_OF_ORDERNESS_MS)) \
        .with_timestamp_assigner(lambda event, _: event[timestamp_field])


def dimension_enrichment(orders: int, parallelism: int = 2) -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    order_stream = env.from_source(DataGeneratorSource(order, orders), watermarks(3), "orders")
    changes = env.from_source(DataGeneratorSource(price_change, price_changes_for(orders)),
                              watermarks(2), "price changes")
    enriched_orders(order_stream, changes).print()
    env.execute("dimension_enrichment")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000, help="orders to generate")
    parser.add_argument("--parallelism", type=int, default=2)
    arguments = parser.parse_args()
    dimension_enrichment(arguments.orders, arguments.parallelism)
