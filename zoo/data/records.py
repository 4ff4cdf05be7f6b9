"""Corpora as TFRecord files: written once, as a loader reads them, then
streamed.

A text loader parses its files in Python, row by row, with the checks and
messages of its `read_*` functions; `write` stores each row, as it comes,
in a TFRecord file (one `tf.train.Example` per row), and `read` streams
the rows back as tensors for as long as training needs them. Only what a
loader chooses to tally during that single pass (a row count, the label
set) stays in memory, whatever the corpus' size.

A row is a dict of columns; `Column` says each one's type:

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "rows.tfrecord")
>>> columns = {"text": Column("string"), "ids": Column("int64", True)}
>>> write(path, [{"text": "a b", "ids": [3, 4]}], columns)
1
>>> row = next(iter(read(path, columns)))
>>> row["text"].numpy(), row["ids"].numpy().tolist()
(b'a b', [3, 4])
"""

import dataclasses
import glob
import os

import tensorflow as tf
from absl import logging

from zoo.data import pipeline

_DTYPES = {"string": tf.string, "int64": tf.int64}

# Rows between two progress lines while a corpus is written.
LOG_EVERY = 100_000


@dataclasses.dataclass(frozen=True)
class Column:
    """One column of a row: `"string"` or `"int64"`, one value or a
    `sequence` of them (any length, empty included)."""

    dtype: str
    sequence: bool = False

    def __post_init__(self):
        if self.dtype not in _DTYPES:
            raise ValueError(
                f"Column dtype must be one of {', '.join(_DTYPES)}, got "
                f"{self.dtype!r}"
            )

    def feature(self, value):
        """`value` (a `str` or `int`, or a list of them) as a
        `tf.train.Feature`."""
        values = list(value) if self.sequence else [value]
        if self.dtype == "string":
            return tf.train.Feature(bytes_list=tf.train.BytesList(
                value=[v.encode("utf-8") for v in values]))
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

    def parser(self):
        """The `tf.io.parse_example` spec of this column."""
        dtype = _DTYPES[self.dtype]
        if self.sequence:
            return tf.io.RaggedFeature(dtype, row_splits_dtype=tf.int64)
        return tf.io.FixedLenFeature([], dtype)


def write(path, rows, columns, what="rows"):
    """Writes the dicts `rows` to the TFRecord file `path`; returns how many.

    The rows are consumed as they come, so `rows` may be a generator over a
    corpus of any size. The file appears under its name only once it is
    complete: a run stopped half-way leaves no truncated corpus behind
    (one killed leaves a `.partial-*` file, which the next `write` of
    `path` deletes).

    Raises:
        ValueError: A row's columns are not `columns`' names.
    """
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    # What a killed writer left (its `finally` never ran).
    for stale in glob.glob(f"{glob.escape(path)}.partial-*"):
        os.remove(stale)
    partial = f"{path}.partial-{os.getpid()}"
    count = 0
    try:
        with tf.io.TFRecordWriter(partial) as writer:
            for row in rows:
                if row.keys() != columns.keys():
                    raise ValueError(
                        f"Row {count} of {path} has the columns "
                        f"{sorted(row)}, expected {sorted(columns)}"
                    )
                example = tf.train.Example(features=tf.train.Features(
                    feature={name: column.feature(row[name])
                             for name, column in columns.items()}))
                writer.write(example.SerializeToString())
                count += 1
                if count % LOG_EVERY == 0:
                    logging.info("%s: %d %s written", path, count, what)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return count


def serialized(path, count):
    """The raw records of `path`, which holds `count` of them.

    Held-out splits are chosen among these (`pipeline.split_stream`),
    before `parse` turns them into tensors.
    """
    return tf.data.TFRecordDataset(path).apply(
        tf.data.experimental.assert_cardinality(count))


def parse(records, columns):
    """A dataset of serialized rows as dicts of tensors: a scalar per
    single-valued column, a vector `[n]` per sequence column.

    Rows are parsed `pipeline.CHUNK` at a time (one at a time costs
    several times more).
    """
    spec = {name: column.parser() for name, column in columns.items()}
    rows = records.batch(pipeline.CHUNK).map(
        lambda batch: tf.io.parse_example(batch, spec)
    ).unbatch()
    return pipeline.same_cardinality(rows, records)


def read(path, columns, count=None):
    """The rows of the TFRecord file `path`, streamed as `parse` gives them.

    Args:
        count: The number of rows, when known (what `write` returned), so
            that the dataset's cardinality is known.
    """
    records = (tf.data.TFRecordDataset(path) if count is None
               else serialized(path, count))
    return parse(records, columns)


def index_of(values, names):
    """Position of each string of `values` (any shape) in the vector
    `names`; -1 for a string not in it.

    >>> index_of(tf.constant(["b", "z"]), tf.constant(["a", "b"])).numpy()
    array([ 1, -1])
    """
    names = tf.convert_to_tensor(names)
    found = tf.equal(tf.expand_dims(values, -1), names)
    position = tf.argmax(tf.cast(found, tf.int64), axis=-1)
    return tf.where(tf.reduce_any(found, axis=-1), position,
                    tf.constant(-1, tf.int64))
