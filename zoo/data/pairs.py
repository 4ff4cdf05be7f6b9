"""Sentence pairs for translation: tab-separated files or tensorflow-datasets.

`stream(data, folder)` gives datasets of `(source, target)` strings for
training and a held-out test split, read from disk as training uses them,
and says where they came from; `load(data)` reads the same streams into
lists of str in memory. `--data` may be:

* a file of pairs, one a line, `source<TAB>target[<TAB>attribution...]`
  (the Tatoeba/Anki layout; optionally gzipped). Lines end at "\\n" or
  "\\r\\n" (or, in a file without "\\n", at a lone "\\r": classic Mac line
  ends); a lone "\\r" inside a line is text, and a `"` is text too (no
  quoting). Each side is stripped of whitespace; columns after the second
  are ignored, so a trailing tab (an empty third column) is harmless.
  Blank lines are skipped and a UTF-8 byte order mark is dropped; a line
  with one column, an empty side, bytes that are not UTF-8 (or a UTF-16
  file) or a NUL byte, a truncated or corrupt gzip stream, and a file
  without pairs are errors naming the file (and line). A fixed random
  `test_size` pairs (per seed) are held out as the test split. `stream`
  reads the file once, writing its pairs to a TFRecord file in `folder`
  (`zoo.data.records`) as they come;
* `ted_hrlr_translate/pt_to_en` (or another tensorflow-datasets
  translation config with supervised `(source, target)` pairs), whose own
  train and test splits are used.

`reverse` swaps the columns (translate the second language into the
first); `max_words` drops pairs where either side has more
whitespace-separated words, before the test split is drawn.
"""

import dataclasses
import gzip
import os
import tempfile
import zlib

import tensorflow as tf

from zoo import errors
from zoo.data import pipeline
from zoo.data import records
from zoo.data import sources

# The columns of a pairs TFRecord file, in the direction of translation.
COLUMNS = {"source": records.Column("string"),
           "target": records.Column("string")}
RECORDS_FILE = "pairs.tfrecord"
# What `str.split()` splits on (Python's whitespace, Unicode's included),
# as an RE2 class: tensorflow's own split knows ASCII whitespace only.
_WHITESPACE = r"[\t-\r\x{1c}-\x{1f}\x{85}\p{Z}]"


class MalformedPairError(errors.DataError):
    """A pairs file or a line of it is malformed; the message names the file
    and, for a line, its number."""


@dataclasses.dataclass
class Splits:
    """Source and target sentences (lists of str) per split."""

    train_sources: list
    train_targets: list
    test_sources: list
    test_targets: list
    source: str


@dataclasses.dataclass
class Streams:
    """Train and test pairs read from disk as they are used.

    `train` and `test` are datasets of `(source, target)` string scalars
    (UTF-8 bytes), in the order of the file (or of tensorflow-datasets'
    splits); `train_size` and `test_size` count them.
    """

    train: tf.data.Dataset
    train_size: int
    test: tf.data.Dataset
    test_size: int
    source: str


def _numbered_lines(path):
    """`(number, bytes)` per line of `path`, gunzipped if it ends in `.gz`
    (lines as `sources.numbered_lines` ends them)."""
    if not path.endswith(".gz"):
        with open(path, "rb") as f:
            yield from sources.numbered_lines(f)
        return
    with gzip.open(path, "rb") as f:
        number = 0
        try:
            for number, raw in sources.numbered_lines(f):
                yield number, raw
        # OSError: a bad gzip header or CRC; EOFError: a truncated stream;
        # zlib.error: corrupt compressed data.
        except (OSError, EOFError, zlib.error) as error:
            raise MalformedPairError(
                f"{path}:{number + 1}: cannot decompress ({error}); the gzip "
                "file is truncated or corrupt"
            ) from None


def iter_pairs(path):
    """Yields `(first, second)` of each `first<TAB>second[<TAB>...]` line.

    Raises:
        As `read_pairs`, when the malformed line is reached.
    """
    for number, raw in _numbered_lines(path):
        if number == 1:
            problem = sources.foreign_bom(raw)
            if problem:
                raise MalformedPairError(f"{path}: {problem}")
        line, problem = sources.decode_line(raw, number)
        if problem:
            raise MalformedPairError(f"{path}:{number}: {problem}")
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        columns = line.split("\t")
        if len(columns) < 2:
            raise MalformedPairError(
                f"{path}:{number}: expected `source<TAB>target`, found "
                f"one column: {line[:60]!r}"
            )
        first, second = columns[0].strip(), columns[1].strip()
        if not first or not second:
            raise MalformedPairError(
                f"{path}:{number}: a side of the pair is empty: "
                f"{line[:60]!r}"
            )
        yield first, second


def read_pairs(path):
    """Reads `first<TAB>second[<TAB>...]` lines.

    Returns:
        `(firsts, seconds)`: two lists of str of equal length.

    Raises:
        MalformedPairError: A line with fewer than two columns, an empty
            side, bytes that are not UTF-8 or a NUL byte, or a truncated
            or corrupt gzip stream (the message says `path:line`); a
            UTF-16 file.
    """
    firsts, seconds = [], []
    for first, second in iter_pairs(path):
        firsts.append(first)
        seconds.append(second)
    return firsts, seconds


class _PairsFile:
    """The pairs of a file that `stream_local` keeps.

    Iterating reads the file (see `iter_pairs`), yielding the kept
    `(source, target)` pairs in order and counting all the pairs read, so
    that `check` can tell a file without pairs from one whose pairs are
    all too long.

    Raises:
        ValueError: `path` is a folder.
    """

    def __init__(self, path, reverse, max_words, test_size):
        if os.path.isdir(path):
            raise errors.DataError(
                f"{path} is a folder; expected a file of `source<TAB>target` "
                "lines"
            )
        self.path = path
        self.reverse = reverse
        self.max_words = max_words
        self.test_size = test_size
        self.read = 0

    def __iter__(self):
        self.read = 0
        for first, second in iter_pairs(self.path):
            self.read += 1
            pair = (second, first) if self.reverse else (first, second)
            if not self.max_words or all(
                len(side.split()) <= self.max_words for side in pair
            ):
                yield pair

    def check(self, count):
        """Refuses a file without pairs, or with `count` kept pairs, too few
        to hold out `test_size`."""
        if not self.read:
            raise MalformedPairError(
                f"{self.path}: no `source<TAB>target` lines; the file is "
                "empty or blank"
            )
        if count <= self.test_size:
            raise errors.DataError(
                f"{self.path}: {count} pairs"
                + (f" of at most {self.max_words} words"
                   if self.max_words else "")
                + f", expected more than test_size={self.test_size}"
            )

    def source(self):
        """The description of the data, for logs and metrics."""
        return (f"{self.path} (test: a fixed {self.test_size} pairs"
                + (f", at most {self.max_words} words a side"
                   if self.max_words else "")
                + (", reversed" if self.reverse else "") + ")")


def stream_local(path, folder, reverse=False, max_words=None, test_size=1000,
                 seed=0):
    """Streams a pairs file, holding out `test_size` pairs (see the module).

    The file is read once, with its checks, and its kept pairs are
    written, as they come, to `<folder>/pairs.tfrecord` (replacing an
    earlier run's); the splits stream from that file. The test split holds
    the pairs `pipeline.held_out` flags for `seed`, in the file's order;
    what stays in memory is a flag per pair.

    Raises:
        MalformedPairError: A malformed file or line, or no pairs at all.
        ValueError: `path` is a folder, or fewer than `test_size + 1` pairs
            survive the filter.
    """
    kept = _PairsFile(path, reverse, max_words, test_size)
    written = os.path.join(folder, RECORDS_FILE)
    count = records.write(
        written, ({"source": s, "target": t} for s, t in kept), COLUMNS,
        what="pairs",
    )
    kept.check(count)
    # Split the raw records, then parse each part by the chunk.
    train, test = pipeline.split_stream(
        records.serialized(written, count),
        pipeline.held_out(count, test_size, seed),
    )
    return Streams(_parse(train), count - test_size, _parse(test), test_size,
                   source=kept.source())


def _parse(serialized):
    """Serialized pair records as `(source, target)` strings."""
    return records.parse(serialized, COLUMNS).map(
        lambda row: (row["source"], row["target"]))


def word_counts(texts):
    """Words of each string of `texts` `[n]`, as `str.split()` counts them.

    >>> word_counts(tf.constant(["a b", " ", "a\\u00a0b"])).numpy()
    array([2, 0, 2])
    """
    return tf.strings.split(
        tf.strings.regex_replace(texts, _WHITESPACE, " ")
    ).row_lengths()


def _tfds_streams(data, reverse, max_words, tfds_data_dir):
    """`Streams` of a tensorflow-datasets translation config: its train and
    test splits, reversed and filtered in tf.data."""
    train, test = sources.tfds_datasets(
        data, ["train", "test"], data_dir=tfds_data_dir,
        local_hint="For translation, --data may also be a file of "
        "`source<TAB>target` lines (the Tatoeba/Anki layout).",
    )

    def kept(dataset):
        if reverse:
            dataset = dataset.map(lambda s, t: (t, s))
        if max_words:
            dataset = dataset.filter(lambda s, t: tf.reduce_all(
                word_counts(tf.stack([s, t])) <= max_words))
        # Counted once (a pass), so that Keras and the validation split
        # know the size of the filtered split.
        size = pipeline.count(dataset)
        return dataset.apply(
            tf.data.experimental.assert_cardinality(size)), size

    return Streams(*kept(train), *kept(test),
                   source=f"tensorflow-datasets {data}"
                   + (" (reversed)" if reverse else ""))


def stream(data, folder, reverse=False, max_words=None, test_size=1000,
           seed=0, tfds_data_dir=None):
    """Streams sentence pairs from a local file or a tensorflow-datasets name.

    Args:
        data: A pairs file or a tensorflow-datasets name (see the module).
        folder: Where a local file's pairs are written as a TFRecord file
            (unused for tensorflow-datasets, read from its own files).
        reverse, max_words: See the module.
        test_size, seed: Local files: the pairs held out as the test split.
        tfds_data_dir: Optional tensorflow-datasets data folder.

    Returns:
        A `Streams`.

    Raises:
        As `load`.
    """
    if sources.is_local(data):
        return stream_local(os.path.expanduser(data), folder, reverse,
                            max_words, test_size, seed)
    return _tfds_streams(data, reverse, max_words, tfds_data_dir)


def as_lists(dataset):
    """A dataset of `(source, target)` strings as two lists of str (bytes
    that are not UTF-8 read as U+FFFD)."""
    found = ([], [])
    for pair in dataset.as_numpy_iterator():
        for column, text in zip(found, pair):
            column.append(text.decode("utf-8", "replace"))
    return found


def load(data, reverse=False, max_words=None, test_size=1000, seed=0,
         tfds_data_dir=None):
    """The pairs `stream` gives, as lists in memory: `stream`'s own code
    path, its records written to a temporary folder and read back.

    Returns:
        A `Splits`, each split in the order of the file.

    Raises:
        As `stream`.
    """
    with tempfile.TemporaryDirectory() as folder:
        streams = stream(data, folder, reverse, max_words, test_size, seed,
                         tfds_data_dir)
        return Splits(*as_lists(streams.train), *as_lists(streams.test),
                      source=streams.source)


def teacher_forcing_batches(pairs, source_layer, target_layer, batch_size,
                            max_length, start_id, end_id, bucket=True,
                            shuffle=False, seed=0):
    """`((source, target_in), target_out)` batches of a dataset of pairs.

    The pairs become ids as they stream, in tf.data, by the model's text
    layers (`pipeline.CHUNK` sentences at a time); `target_in` is the
    target after `start_id`, `target_out` the target before `end_id`.
    Batches are made by `pipeline.id_sequence_stream`.

    Args:
        pairs: A dataset of `(source, target)` string scalars.
        source_layer, target_layer: `zoo.layers.TextToIds` (strings ->
            ids, at most `max_length` of them).
        batch_size: Pairs per batch.
        max_length: The most tokens a side has.
        start_id, end_id: The target's reserved ids.
        bucket: Batch pairs of similar length together.
        shuffle: Reshuffle the pairs (and batches) every epoch.
        seed: Seed of the shuffle.

    Returns:
        A dataset of int32 batches `[batch, time]` padded with 0.
    """
    def ids(layer, texts):
        # [CHUNK, time] padded with 0 (never a token's id) -> rows of ids.
        return tf.RaggedTensor.from_tensor(
            tf.cast(layer(texts), tf.int32), padding=0)

    def shifted(sources, targets):
        targets = ids(target_layer, targets)
        rows = targets.nrows()
        return (
            ids(source_layer, sources),
            tf.concat([tf.fill([rows, 1], start_id), targets], axis=1),
            tf.concat([targets, tf.fill([rows, 1], end_id)], axis=1),
        )

    examples = pipeline.unbatch_rows(pairs.batch(pipeline.CHUNK).map(
        shifted, num_parallel_calls=tf.data.AUTOTUNE,
    ), like=pairs)
    # A target of max_length tokens and its start or end token.
    batches = pipeline.id_sequence_stream(
        examples, batch_size, max_length + 1, bucket=bucket,
        shuffle=shuffle, seed=seed)
    return batches.map(
        lambda source, target_in, target_out: ((source, target_in),
                                               target_out))
