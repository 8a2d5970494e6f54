"""A keyed counting job for savepoint tests: record i is key ``i % 7``; each key's running
count goes to an exactly-once FileSink as ``<key>,<count>``.

The source (DataGeneratorSource, rate-limited) is replayable: its position is part of
every checkpoint. Checkpoints every 300 ms; part files roll on each checkpoint, so every
completed checkpoint (and stop-with-savepoint) commits output. Its arguments (after ``weir run FILE --``)::

    OUTPUT_DIR CHECKPOINT_DIR RECORDS RATE [--stateless] [--savepoints DIR]
        [--restore-from PATH [--ignore-unclaimed-state]]

``--stateless`` writes ``<key>`` instead, without the counting operator (uid "counts");
the source (uid "events") and the sink (uid "files") keep their uids.
``--savepoints`` sets ``state.savepoints.dir``; ``--restore-from`` and
``--ignore-unclaimed-state`` set Flink's ``execution.savepoint.*`` keys.
"""

import argparse

from weir.common import Configuration, WatermarkStrategy
from weir.common.serialization import Encoder
from weir.datastream import StreamExecutionEnvironment
from weir.datastream.connectors.datagen import DataGeneratorSource, RateLimiterStrategy
from weir.datastream.connectors.file_system import FileSink, RollingPolicy

KEYS = 7


def key_of(index: int) -> int:
    return index % KEYS


def configuration(options: argparse.Namespace) -> Configuration:
    config = Configuration()
    if options.savepoints:
        config.set_string("state.savepoints.dir", options.savepoints)
    if options.restore_from:
        config.set_string("execution.savepoint.path", options.restore_from)
    if options.ignore_unclaimed_state:
        config.set_boolean("execution.savepoint.ignore-unclaimed-state", True)
    return config


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("output")
    parser.add_argument("checkpoints")
    parser.add_argument("records", type=int)
    parser.add_argument("rate", type=float)
    parser.add_argument("--stateless", action="store_true")
    parser.add_argument("--savepoints")
    parser.add_argument("--restore-from")
    parser.add_argument("--ignore-unclaimed-state", action="store_true")
    options = parser.parse_args()

    env = StreamExecutionEnvironment.get_execution_environment(configuration(options))
    env.enable_checkpointing(300)
    env.get_checkpoint_config().set_checkpoint_storage_dir(options.checkpoints)
    source = DataGeneratorSource(key_of, options.records,
                                 RateLimiterStrategy.per_second(options.rate))
    keys = env.from_source(source, WatermarkStrategy.no_watermarks(), "events").uid("events")
    if options.stateless:
        lines = keys.map(str).uid("format")
    else:
        lines = (keys.map(lambda key: (key, 1)).uid("pairs")
                 .key_by(lambda pair: pair[0])
                 .reduce(lambda a, b: (a[0], a[1] + b[1])).uid("counts")
                 .map(lambda pair: f"{pair[0]},{pair[1]}").uid("format"))
    lines.sink_to(FileSink.for_row_format(options.output, Encoder.simple_string_encoder())
                  .with_rolling_policy(RollingPolicy.on_checkpoint_rolling_policy())
                  .build()).uid("files")
    env.execute("counting")


if __name__ == "__main__":
    main()
