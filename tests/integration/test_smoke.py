from weir.common import WatermarkStrategy
from weir.datastream import StreamExecutionEnvironment
from weir.datastream.connectors.number_seq import NumberSequenceSource


def test_keyed_sum_matches_oracle(cluster):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    ds = env.from_source(NumberSequenceSource(0, 999), WatermarkStrategy.no_watermarks(), "n")
    results = ds.map(lambda x: (x % 7, x)).key_by(lambda r: r[0]).sum(1).execute_and_collect()
    final = {}
    with results:
        for key, total in results:
            final[key] = max(final.get(key, 0), total)
    expected = {}
    for x in range(1000):
        expected[x % 7] = expected.get(x % 7, 0) + x
    assert final == expected
