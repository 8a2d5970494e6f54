"""Word count, PyFlink's classic: count each word of a text, print the running counts.

    python examples/word_count.py            # embedded local cluster
    weir run examples/word_count.py          # on a running JobManager
"""

from weir.common import Configuration, Types
from weir.datastream import StreamExecutionEnvironment

TEXT = [
    "To be, or not to be,--that is the question:--",
    "Whether 'tis nobler in the mind to suffer",
    "The slings and arrows of outrageous fortune",
    "Or to take arms against a sea of troubles,",
    "And by opposing end them?--To die,--to sleep,--",
    "No more; and by a sleep to say we end",
    "The heartache, and the thousand natural shocks",
    "That flesh is heir to,--'tis a consummation",
    "Devoutly to be wish'd. To die,--to sleep;--",
    "To sleep! perchance to dream:--ay, there's the rub;",
]


def split(line: str):
    for word in line.lower().replace("-", " ").split():
        word = word.strip(",.;:!?'")
        if word:
            yield word


def word_count(configuration: Configuration | None = None) -> None:
    env = StreamExecutionEnvironment.get_execution_environment(configuration)
    env.set_parallelism(2)
    (env.from_collection(TEXT, Types.STRING())
        .flat_map(split, Types.STRING())
        .map(lambda word: (word, 1), Types.TUPLE([Types.STRING(), Types.INT()]))
        .key_by(lambda pair: pair[0])
        .reduce(lambda a, b: (a[0], a[1] + b[1]))
        .print())
    env.execute("word_count")


if __name__ == "__main__":
    word_count()
