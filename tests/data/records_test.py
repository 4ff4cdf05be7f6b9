"""Tests for zoo.data.records: corpora written to TFRecord files, streamed."""

import os

import numpy as np
import pytest
import tensorflow as tf

from zoo.data import pipeline
from zoo.data import records

COLUMNS = {
    "text": records.Column("string"),
    "label": records.Column("int64"),
    "tokens": records.Column("string", sequence=True),
    "ids": records.Column("int64", sequence=True),
}


def _rows(count):
    for i in range(count):
        yield {"text": f"text {i} é", "label": i, "tokens": ["w"] * (i % 4),
               "ids": list(range(i % 3))}


def test_rows_come_back_as_written_with_their_count(tmp_path):
    path = str(tmp_path / "rows.tfrecord")
    # More rows than one parsing chunk, so chunks join up.
    count = pipeline.CHUNK + 7
    assert records.write(path, _rows(count), COLUMNS) == count
    dataset = records.read(path, COLUMNS, count)
    assert int(dataset.cardinality()) == count
    got = list(dataset.as_numpy_iterator())
    assert len(got) == count
    for row, want in zip(got, _rows(count)):
        assert row["text"].decode("utf-8") == want["text"]
        assert row["label"] == want["label"]
        assert [t.decode() for t in row["tokens"]] == want["tokens"]
        assert row["ids"].tolist() == want["ids"]


def test_sequences_are_vectors_that_pad(tmp_path):
    path = str(tmp_path / "rows.tfrecord")
    records.write(path, _rows(4), COLUMNS)
    spec = records.read(path, COLUMNS).element_spec
    assert spec["text"].shape == () and spec["ids"].shape == (None,)
    batch = next(iter(records.read(path, COLUMNS).map(
        lambda row: row["ids"]).padded_batch(4)))
    np.testing.assert_array_equal(batch, [[0, 0], [0, 0], [0, 1], [0, 0]])


def test_count_unknown_without_it(tmp_path):
    path = str(tmp_path / "rows.tfrecord")
    records.write(path, _rows(3), COLUMNS)
    dataset = records.read(path, COLUMNS)
    assert int(dataset.cardinality()) < 0
    assert len(list(dataset)) == 3


def test_an_empty_corpus_is_an_empty_file(tmp_path):
    path = str(tmp_path / "rows.tfrecord")
    assert records.write(path, iter(()), COLUMNS) == 0
    assert list(records.read(path, COLUMNS, 0)) == []


def test_a_row_with_other_columns_is_refused_and_leaves_no_file(tmp_path):
    path = str(tmp_path / "rows.tfrecord")
    rows = [*_rows(2), {"text": "x", "label": 1}]
    with pytest.raises(ValueError, match=r"Row 2 of .*rows.tfrecord has the "
                       r"columns \['label', 'text'\], expected \['ids', "
                       r"'label', 'text', 'tokens'\]"):
        records.write(path, rows, COLUMNS)
    assert os.listdir(tmp_path) == []


def test_an_unknown_dtype_is_refused():
    with pytest.raises(ValueError, match="Column dtype must be one of string, "
                       "int64, got 'float'"):
        records.Column("float")


def test_split_serialized_rows_then_parse(tmp_path):
    path = str(tmp_path / "rows.tfrecord")
    records.write(path, _rows(10), COLUMNS)
    held = pipeline.held_out(10, 3, seed=1)
    kept, out = pipeline.split_stream(records.serialized(path, 10), held)
    kept, out = records.parse(kept, COLUMNS), records.parse(out, COLUMNS)
    assert (int(kept.cardinality()), int(out.cardinality())) == (7, 3)
    assert [int(r["label"]) for r in out.as_numpy_iterator()] == list(
        np.flatnonzero(held))


def test_index_of():
    names = tf.constant(["a", "b", "c"])
    got = records.index_of(tf.constant([["c", "a"], ["x", "b"]]), names)
    np.testing.assert_array_equal(got, [[2, 0], [-1, 1]])
    assert got.dtype == tf.int64


def test_a_killed_writers_partial_file_goes_at_the_next_write(tmp_path):
    path = str(tmp_path / "rows.tfrecord")
    stale = tmp_path / "rows.tfrecord.partial-12345"
    stale.write_bytes(b"half a record")
    other = tmp_path / "other.tfrecord.partial-1"
    other.write_bytes(b"another file's")
    assert records.write(path, _rows(2), COLUMNS) == 2
    assert sorted(os.listdir(tmp_path)) == [
        "other.tfrecord.partial-1", "rows.tfrecord"]
