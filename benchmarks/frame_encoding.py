"""What it costs to carry W1's keyed exchange between two TaskManagers, per encoding of a
network buffer, beside the plain-Python W1 loop in the same rounds.

At p=2 about half of W1's events cross to the other TaskManager, each in a buffer as the
record writer cuts it: a ``KeyedBatch`` of a ``TimestampedBatch`` (the records, their
timestamps, their keys). Every buffer is built from fresh records just before it is encoded,
as in a TaskManager, where the chain made them a moment before (the same buffer encoded
again and again costs about a fifth less; inside a busy TaskManager pickling cost 1.5× this
benchmark's figure). Encodings:

- pickle: the frame as ``Connection.send`` writes it now;
- pickle, no memo: the same, with the pickler's memo off (``Pickler.fast``);
- marshal: records, timestamps and keys as three lists;
- columns, pickled: the records' fields as one list per field (``zip(*records)``);
- columns, arrays: the same, an ``array`` per field whose values are all int or all float;
- msgpack: records, timestamps and keys by msgpack's compiled packer (it comes with Ray);
  exact here, since W1's records are tuples of numbers, but not for every record (a list
  comes back a tuple), so weir could not use it as it is.

This bounds what a keyed job gains from a second core: with c the TaskManager CPU per event
at p=1 (``make bench``) and x what the exchange adds per event, of which this is part, p=2
on two cores runs at most 2c / (c + x) times p=1.

Each round times every encoding once, in reverse order every other round, and the plain loop
on the same events; the table shows medians: encode and decode ns per crossing record, and
what that adds per W1 event at p=2 (half cross), in µs and as a share of the plain loop's
µs per event in the same round.

Usage: python benchmarks/frame_encoding.py [--events N] [--rounds R]
"""

from __future__ import annotations

import argparse
import io
import marshal
import os
import pickle
import statistics
import sys
import time
from array import array
from collections.abc import Callable
from typing import Any

import msgpack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from workloads import TS0, event, plain_w1

from weir.taskmanager.network.transport import DATA
from weir.taskmanager.records import KeyedBatch, TimestampedBatch
from weir.taskmanager.task_settings import DEFAULT_BUFFER_RECORDS as BUFFER_RECORDS

CHANNEL_KEY = ("job", 0, "window", 0, 1, 0)  # a ChannelKey's shape
Codec = tuple[Callable[[KeyedBatch], bytes], Callable[[bytes], KeyedBatch]]


def _pickle_frame(batch: KeyedBatch) -> bytes:
    return pickle.dumps((DATA, CHANNEL_KEY, batch), protocol=pickle.HIGHEST_PROTOCOL)


def _pickle_frame_no_memo(batch: KeyedBatch) -> bytes:
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.fast = True
    pickler.dump((DATA, CHANNEL_KEY, batch))
    return out.getvalue()


def _unpickle_frame(frame: bytes) -> KeyedBatch:
    return pickle.loads(frame)[2]


def _marshal(batch: KeyedBatch) -> bytes:
    return marshal.dumps((DATA, CHANNEL_KEY, list(batch.records), batch.records.timestamps,
                          batch.keys))


def _unmarshal(frame: bytes) -> KeyedBatch:
    _, _, records, timestamps, keys = marshal.loads(frame)
    return KeyedBatch(TimestampedBatch(records, timestamps), keys)


def _columns_pickled(batch: KeyedBatch) -> bytes:
    return pickle.dumps((DATA, CHANNEL_KEY, list(zip(*batch.records)),
                         batch.records.timestamps, batch.keys), protocol=pickle.HIGHEST_PROTOCOL)


def _from_columns(frame: bytes) -> KeyedBatch:
    _, _, columns, timestamps, keys = pickle.loads(frame)
    columns = [c.tolist() if type(c) is array else c for c in columns]
    timestamps = timestamps.tolist() if type(timestamps) is array else timestamps
    keys = keys.tolist() if type(keys) is array else keys
    return KeyedBatch(TimestampedBatch(list(zip(*columns)), timestamps), keys)


def _packed(values: Any) -> Any:
    """An ``array`` of ``values`` when all are int (in 64 bits) or all float, else them."""
    kinds = set(map(type, values))
    try:
        if kinds == {int}:
            return array("q", values)
        if kinds == {float}:
            return array("d", values)
    except OverflowError:
        pass
    return values


def _columns_arrays(batch: KeyedBatch) -> bytes:
    return pickle.dumps((DATA, CHANNEL_KEY, [_packed(c) for c in zip(*batch.records)],
                         _packed(batch.records.timestamps), _packed(batch.keys)),
                        protocol=pickle.HIGHEST_PROTOCOL)


def _msgpack(batch: KeyedBatch) -> bytes:
    return msgpack.packb((DATA, CHANNEL_KEY, batch.records, batch.records.timestamps,
                          batch.keys), use_bin_type=True)


def _unmsgpack(frame: bytes) -> KeyedBatch:
    _, _, records, timestamps, keys = msgpack.unpackb(frame, use_list=False)
    return KeyedBatch(TimestampedBatch(records, list(timestamps)), list(keys))


CODECS: dict[str, Codec] = {
    "pickle (as sent)": (_pickle_frame, _unpickle_frame),
    "pickle, no memo": (_pickle_frame_no_memo, _unpickle_frame),
    "marshal": (_marshal, _unmarshal),
    "columns, pickled": (_columns_pickled, _from_columns),
    "columns, arrays": (_columns_arrays, _from_columns),
    "msgpack": (_msgpack, _unmsgpack),
}


def crossing_buffer(first: int) -> KeyedBatch:
    """A fresh buffer of the W1 events from ``first`` on that cross (odd users, about half)."""
    records, timestamps, keys = [], [], []
    i = first
    while len(records) < BUFFER_RECORDS:
        record = event(i)
        if record[0] % 2:
            records.append(record)
            timestamps.append(TS0 + i)
            keys.append(record[0])
        i += 1
    return KeyedBatch(TimestampedBatch(records, timestamps), keys)


def time_codec(codec: Codec, buffers: int) -> tuple[float, float]:
    """(encode, decode) ns per record over ``buffers`` fresh buffers, each checked (untimed)
    to come back equal."""
    encode, decode = codec
    encoding = decoding = 0.0
    for n in range(buffers):
        batch = crossing_buffer(n * 2 * BUFFER_RECORDS)
        started = time.perf_counter()
        frame = encode(batch)
        encoded = time.perf_counter()
        back = decode(frame)
        decoding += time.perf_counter() - encoded
        encoding += encoded - started
        if (list(back.records) != list(batch.records) or back.keys != batch.keys
                or back.records.timestamps != batch.records.timestamps):
            raise AssertionError(f"buffer {n} did not come back equal")
    records = buffers * BUFFER_RECORDS
    return encoding / records * 1e9, decoding / records * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000,
                        help="W1 events per round (half of them cross)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    buffers = args.events // 2 // BUFFER_RECORDS
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in CODECS}
    loop_us: list[float] = []
    for round_ in range(args.rounds):
        started = time.perf_counter()
        plain_w1(args.events)
        loop_us.append((time.perf_counter() - started) / args.events * 1e6)
        names = list(CODECS) if round_ % 2 == 0 else list(reversed(CODECS))
        for name in names:
            samples[name].append(time_codec(CODECS[name], buffers))
    loop = statistics.median(loop_us)
    print(f"{args.events:,} W1 events, {buffers:,} crossing buffers of {BUFFER_RECORDS} "
          f"records, medians of {args.rounds} interleaved rounds; plain loop {loop:.2f} µs/event")
    print(f"{'encoding':<18} {'encode ns':>10} {'decode ns':>10} {'µs/event p=2':>13} "
          f"{'÷ loop':>7}")
    for name, values in samples.items():
        encode = statistics.median(v[0] for v in values)
        decode = statistics.median(v[1] for v in values)
        per_event = (encode + decode) / 2 / 1000
        print(f"{name:<18} {encode:>10.0f} {decode:>10.0f} {per_event:>13.3f} "
              f"{per_event / loop:>7.1%}")
    print("ns: per crossing record; µs/event p=2: (encode + decode) ÷ 2, as half of W1's "
          "events cross; ÷ loop: that against the plain loop's µs per event")


if __name__ == "__main__":
    main()
