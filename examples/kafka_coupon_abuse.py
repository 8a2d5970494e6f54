"""Real-time risk control on Kafka: read JSON user events from a topic, alert users who claim
a coupon more than 5 times within a minute of event time, and write the alerts, as JSON, to
another topic.

Events look like ``{"user": 42, "action": "claim_coupon", "ts_ms": 1700000000000}``; see
``coupon_abuse.py`` for the windowing. Offsets are checkpointed every 5 s and the alerts
are written AT_LEAST_ONCE (the broker of ``make demo-kafka`` serves no transactions).

    make demo-kafka       # a local broker, an event generator, this job and an alert printer
    python examples/kafka_coupon_abuse.py --bootstrap-servers localhost:9092
"""

import argparse
import tempfile
from pathlib import Path

from coupon_abuse import OUT_OF_ORDERNESS_S, AlertOnBurst, CountClaims

from weir.common import Duration, SimpleStringSchema, Time, WatermarkStrategy
from weir.datastream import StreamExecutionEnvironment
from weir.datastream.connectors.kafka import (
    DeliveryGuarantee,
    KafkaOffsetsInitializer,
    KafkaRecordSerializationSchema,
    KafkaSink,
    KafkaSource,
)
from weir.datastream.formats.json import JsonRowDeserializationSchema
from weir.datastream.window import TumblingEventTimeWindows


def as_tuple(event: dict) -> tuple[int, str, int]:
    return event["user"], event["action"], event["ts_ms"]


def kafka_coupon_abuse(bootstrap_servers: str, events_topic: str, alerts_topic: str,
                       checkpoints: str) -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.enable_checkpointing(5000)
    env.get_checkpoint_config().set_checkpoint_storage_dir(checkpoints)
    source = (KafkaSource.builder()
              .set_bootstrap_servers(bootstrap_servers)
              .set_topics(events_topic)
              .set_group_id("kafka-coupon-abuse")
              .set_starting_offsets(KafkaOffsetsInitializer.earliest())
              .set_value_only_deserializer(JsonRowDeserializationSchema.builder().build())
              .set_property("deserialization.failure.policy", "skip")
              .build())
    sink = (KafkaSink.builder()
            .set_bootstrap_servers(bootstrap_servers)
            .set_record_serializer(KafkaRecordSerializationSchema.builder()
                                   .set_topic(alerts_topic)
                                   .set_value_serialization_schema(SimpleStringSchema())
                                   .build())
            .set_delivery_guarantee(DeliveryGuarantee.AT_LEAST_ONCE)
            .build())
    watermarks = WatermarkStrategy \
        .for_bounded_out_of_orderness(Duration.of_seconds(OUT_OF_ORDERNESS_S)) \
        .with_timestamp_assigner(lambda event, _: event["ts_ms"]) \
        .with_idleness(Duration.of_seconds(10))
    (env.from_source(source, watermarks, "user_events")
        .map(as_tuple)
        .filter(lambda event: event[1] == "claim_coupon")
        .key_by(lambda event: event[0])
        .window(TumblingEventTimeWindows.of(Time.minutes(1)))
        .aggregate(CountClaims(), window_function=AlertOnBurst())
        .sink_to(sink))
    env.execute("kafka_coupon_abuse")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap-servers", default="localhost:9092")
    parser.add_argument("--events-topic", default="user-events")
    parser.add_argument("--alerts-topic", default="coupon-alerts")
    parser.add_argument("--checkpoints", default=Path(tempfile.gettempdir(), "weir-kafka-demo")
                        .as_uri())
    args = parser.parse_args()
    try:
        kafka_coupon_abuse(args.bootstrap_servers, args.events_topic, args.alerts_topic,
                           args.checkpoints)
    except KeyboardInterrupt:  # Ctrl-C (make demo-kafka stops the job so)
        print("kafka_coupon_abuse: stopped")
