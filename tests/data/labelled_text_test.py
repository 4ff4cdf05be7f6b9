"""Tests for zoo.data.labelled_text: row readers, layouts, load, stream.

The tests write their own tiny files. No test contacts a host:
`socket.create_connection` refuses in every test.
"""

import logging
import os
import re
import tempfile
import time

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from zoo import testing
from zoo.data import labelled_text
from zoo.data import sources
from zoo.data.labelled_text import MalformedRowError
from zoo.testing import FOLDER, Raises, Returns, check_malformed_files


# No test contacts a host (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("no_network")
write = testing.write_file


def rows(*pairs, sep="\t"):
    return "".join(f"{label}{sep}{text}\n" for label, text in pairs)


# read_rows


def test_read_rows_tsv(tmp_path):
    path = write(tmp_path / "a.tsv", rows(("1", "good film"), ("0", "bad, bad")))
    assert labelled_text.read_rows(path) == (
        ["1", "0"], ["good film", "bad, bad"], 0
    )


def test_read_rows_tsv_extra_tabs_join_into_the_text(tmp_path):
    path = write(tmp_path / "a.tsv", "1\tone\ttwo\t\tthree\r\n0\tx\n")
    labels, texts, _ = labelled_text.read_rows(path)
    assert labels == ["1", "0"]
    assert texts == ["one\ttwo\t\tthree", "x"]  # And the \r is gone.


def test_read_rows_csv_quoting_and_unquoted_commas(tmp_path):
    path = write(
        tmp_path / "a.CSV",
        '1,"great, really great"\n'
        "0,not good, not bad, just dull\n"
        '1,"she said ""wow"""\n',
    )
    labels, texts, skipped = labelled_text.read_rows(path)
    assert labels == ["1", "0", "1"]
    assert texts == [
        "great, really great",
        "not good, not bad, just dull",
        'she said "wow"',
    ]
    assert skipped == 0


@pytest.mark.parametrize(
    "name, text",
    [
        ("a.tsv", "label\ttext\n1\tx\n0\ty\n"),
        ("a.tsv", "Sentiment\treview\n1\tx\n0\ty\n"),
        ("a.csv", "label,text\n1,x\n0,y\n"),
        # Excel's "CSV UTF-8" starts with a byte order mark.
        ("a.csv", "\ufefflabel,text\n1,x\n0,y\n"),
    ],
    ids=["tsv", "tsv_sentiment", "csv", "csv_bom"],
)
def test_read_rows_skips_a_header(tmp_path, name, text):
    path = write(tmp_path / name, text)
    assert labelled_text.read_rows(path) == (["1", "0"], ["x", "y"], 0)


@pytest.mark.parametrize("name, sep", [("a.tsv", "\t"), ("a.csv", ",")])
def test_read_rows_drops_a_byte_order_mark(tmp_path, name, sep):
    path = write(tmp_path / name, f"\ufeff1{sep}x\n0{sep}y\n")
    assert labelled_text.read_rows(path)[0] == ["1", "0"]  # Not "\ufeff1".


def test_read_rows_keeps_a_first_row_with_a_real_label(tmp_path):
    path = write(tmp_path / "a.tsv", rows(("positive", "label me"),
                                          ("negative", "text")))
    labels, texts, _ = labelled_text.read_rows(path)
    assert labels == ["positive", "negative"]
    assert texts == ["label me", "text"]


def test_read_rows_header_only_on_the_first_line(tmp_path):
    path = write(tmp_path / "a.tsv", rows(("1", "x"), ("label", "y")))
    assert labelled_text.read_rows(path)[0] == ["1", "label"]


@pytest.mark.parametrize("name, sep", [("a.tsv", "\t"), ("a.csv", ",")])
def test_read_rows_skips_blank_lines(tmp_path, name, sep):
    text = f"\n1{sep}x\n\n\n0{sep}y\n\n"
    path = write(tmp_path / name, text)
    assert labelled_text.read_rows(path) == (["1", "0"], ["x", "y"], 0)


def test_read_rows_string_labels_are_stripped(tmp_path):
    path = write(tmp_path / "a.tsv", " positive \t fine \nnegative\tno\n")
    labels, texts, _ = labelled_text.read_rows(path)
    assert labels == ["positive", "negative"]
    assert texts == [" fine ", "no"]  # Texts are kept as they are.


def test_read_rows_replaces_invalid_utf8(tmp_path):
    path = write(tmp_path / "a.tsv", b"1\tgood \xff\xfe film\n0\t\xc3\xa9t\xc3\xa9\n")
    labels, texts, _ = labelled_text.read_rows(path)
    assert labels == ["1", "0"]
    assert texts == ["good \ufffd\ufffd film", "\u00e9t\u00e9"]


MALFORMED = [
    # name, content, line, problem
    ("one_field.tsv", "1\tok\njust text\n0\tfine\n", 2,
     r"expected `label<TAB>text`, found 1 field"),
    ("empty_label.tsv", "1\tok\n0\tfine\n \tno label\n", 3, "empty label"),
    ("one_field.csv", "1,ok\n\nno-comma-here\n", 3,
     "expected `label,text`, found 1 field"),
    ("empty_label.csv", '1,ok\n,"no label"\n', 2, "empty label"),
    # A quoted field over two lines: the bad row starts on line 4.
    ("multiline.csv", '0,a\n1,"two\nlines"\n,bad\n', 4, "empty label"),
]


@pytest.mark.parametrize(
    "name, content, line, problem", MALFORMED,
    ids=[m[0] for m in MALFORMED],
)
def test_read_rows_malformed_row_names_file_and_line(
    tmp_path, name, content, line, problem
):
    path = write(tmp_path / name, content)
    with pytest.raises(
        MalformedRowError,
        match=re.escape(f"{path}:{line}: ") + problem
        + re.escape("; fix the row or pass --skip_bad_rows to skip such rows"),
    ):
        labelled_text.read_rows(path)


def test_malformed_row_error_is_a_value_error():
    assert issubclass(MalformedRowError, ValueError)


@pytest.mark.parametrize(
    "name, content, line, problem", MALFORMED,
    ids=[m[0] for m in MALFORMED],
)
def test_read_rows_skip_bad_rows_counts_and_warns(
    tmp_path, caplog, name, content, line, problem
):
    path = write(tmp_path / name, content)
    with caplog.at_level(logging.WARNING):
        labels, texts, skipped = labelled_text.read_rows(path, skip_bad_rows=True)
    assert skipped == 1
    assert len(labels) == len(texts) >= 1
    assert "" not in labels
    warnings = [r.getMessage() for r in caplog.records
                if r.levelno == logging.WARNING]
    assert f"Skipped 1 malformed rows of {path}" in warnings


def test_read_rows_no_warning_without_bad_rows(tmp_path, caplog):
    path = write(tmp_path / "a.tsv", rows(("1", "x")))
    with caplog.at_level(logging.WARNING):
        labelled_text.read_rows(path, skip_bad_rows=True)
    assert not [r for r in caplog.records if "Skipped" in r.getMessage()]


# class_names_of


@pytest.mark.parametrize(
    "labels, expected",
    [
        (["10", "2", "1", "2"], ["1", "2", "10"]),  # Numerically, not "1,10,2".
        (["-1", "1", "0"], ["-1", "0", "1"]),
        (["pos", "neg", "pos"], ["neg", "pos"]),
        (["2", "b", "10"], ["10", "2", "b"]),  # Mixed: as strings.
        (["positive", "negative", "neutral"], ["negative", "neutral", "positive"]),
    ],
    ids=["numeric", "negative_numbers", "strings", "mixed", "three"],
)
def test_class_names_of(labels, expected):
    assert labelled_text.class_names_of(labels) == expected


# load (local data): one file


def _many(n, classes=("0", "1")):
    return [(classes[i % len(classes)], f"text number {i}") for i in range(n)]


def test_load_single_file_carves_a_fixed_tenth(tmp_path):
    pairs = _many(30)
    path = write(tmp_path / "all.tsv", rows(*pairs))
    splits = labelled_text.load(path, seed=3)
    assert len(splits.test_texts) == 3 and len(splits.train_texts) == 27
    assert splits.train_texts.dtype == object
    assert splits.train_labels.dtype == np.int64
    assert splits.class_names == ["0", "1"]
    train, test = set(splits.train_texts), set(splits.test_texts)
    assert not train & test
    assert train | test == {text for _, text in pairs}
    # Labels travel with their texts.
    truth = {text: label for label, text in pairs}
    for texts, labels in ((splits.train_texts, splits.train_labels),
                          (splits.test_texts, splits.test_labels)):
        for text, label in zip(texts, labels):
            assert splits.class_names[label] == truth[text]
    assert splits.source == f"{path} (test: a fixed 10% of rows)"
    assert splits.skipped_rows == 0
    again = labelled_text.load(path, seed=3)
    np.testing.assert_array_equal(again.test_texts, splits.test_texts)
    other = labelled_text.load(path, seed=4)
    assert set(other.test_texts) != test


def test_load_single_file_string_labels_three_classes(tmp_path):
    pairs = _many(20, classes=("positive", "negative", "neutral"))
    path = write(tmp_path / "all.csv", rows(*pairs, sep=","))
    splits = labelled_text.load(path)
    assert splits.class_names == ["negative", "neutral", "positive"]
    assert len(splits.test_labels) == 2
    assert set(splits.train_labels) == {0, 1, 2}


def test_load_single_file_counts_skipped_rows(tmp_path):
    path = write(tmp_path / "all.tsv",
                 rows(*_many(10)) + "oops\n\tno label\n")
    with pytest.raises(MalformedRowError, match=re.escape(f"{path}:11: ")):
        labelled_text.load(path)
    splits = labelled_text.load(path, skip_bad_rows=True)
    assert splits.skipped_rows == 2
    assert len(splits.train_labels) + len(splits.test_labels) == 10


# load (local data): folders


@pytest.mark.parametrize("suffix, sep", [(".tsv", "\t"), (".csv", ",")])
def test_load_folder_with_train_and_test_files(tmp_path, suffix, sep):
    write(tmp_path / f"train{suffix}",
          rows(("label", "text"), ("pos", "a"), ("neg", "b"), ("pos", "c"),
               sep=sep))
    write(tmp_path / f"test{suffix}", rows(("neg", "d"), ("pos", "e"), sep=sep))
    splits = labelled_text.load(str(tmp_path))
    assert splits.class_names == ["neg", "pos"]
    assert splits.train_texts.tolist() == ["a", "b", "c"]
    np.testing.assert_array_equal(splits.train_labels, [1, 0, 1])
    assert splits.test_texts.tolist() == ["d", "e"]
    np.testing.assert_array_equal(splits.test_labels, [0, 1])
    assert splits.source == (
        f"{tmp_path / ('train' + suffix)} and {tmp_path / ('test' + suffix)}"
    )


def test_load_folder_counts_skipped_rows_of_both_files(tmp_path):
    write(tmp_path / "train.tsv", rows(("1", "a"), ("0", "b")) + "bad\n")
    write(tmp_path / "test.tsv", "\tx\n" + rows(("0", "c")) + "bad\n")
    splits = labelled_text.load(str(tmp_path), skip_bad_rows=True)
    assert splits.skipped_rows == 3
    assert splits.test_texts.tolist() == ["c"]


def _imdb(root, unsup=True):
    reviews = {
        ("train", "pos"): ["loved it", "great"],
        ("train", "neg"): ["awful", "boring", "bad \xff"],
        ("test", "pos"): ["superb"],
        ("test", "neg"): ["dreadful"],
    }
    if unsup:
        reviews["train", "unsup"] = ["no label here"]
    for (split, name), texts in reviews.items():
        for i, text in enumerate(texts):
            data = text.encode("latin-1")  # \xff: invalid UTF-8.
            write(os.path.join(root, split, name, f"{i}_7.txt"), data)
    # Files beside the class folders, as in the real archive.
    write(os.path.join(root, "train", "urls_pos.txt"), "http://x\n")
    write(os.path.join(root, "imdb.vocab"), "the\n")
    return reviews


def test_load_aclimdb_layout(tmp_path):
    _imdb(str(tmp_path))
    splits = labelled_text.load(str(tmp_path))
    assert splits.class_names == ["neg", "pos"]
    assert sorted(splits.train_texts) == sorted(
        ["loved it", "great", "awful", "boring", "bad \ufffd"]
    )
    assert "no label here" not in splits.train_texts  # unsup is ignored.
    by_text = dict(zip(splits.train_texts, splits.train_labels))
    assert by_text["great"] == 1 and by_text["boring"] == 0
    assert splits.test_texts.tolist() == ["dreadful", "superb"]
    np.testing.assert_array_equal(splits.test_labels, [0, 1])
    assert splits.source == f"class folders in {tmp_path}"


def test_load_aclimdb_one_shared_class_is_rejected(tmp_path):
    for split in ("train", "test"):
        write(tmp_path / split / "pos" / "0.txt", "fine")
    write(tmp_path / "train" / "neg" / "0.txt", "only in train")
    with pytest.raises(
        ValueError,
        match=re.escape(f"class folders in {tmp_path}: found 1 class(es) "
                        "['pos']; a classifier needs at least two"),
    ):
        labelled_text.load(str(tmp_path))


def test_load_missing_files_lists_what_is_expected(tmp_path):
    write(tmp_path / "train.tsv", rows(("1", "x"), ("0", "y")))
    write(tmp_path / "test.json", "{}")  # Not a readable suffix.
    with pytest.raises(
        FileNotFoundError,
        match=re.escape(
            f"{tmp_path} holds neither train.tsv/.csv/.txt and "
            "test.tsv/.csv/.txt files of `label, text` rows nor "
            "train/<class>/*.txt and test/<class>/*.txt folders (the aclImdb "
            "layout)"
        ),
    ):
        labelled_text.load(str(tmp_path))


def test_load_test_labels_unseen_in_training(tmp_path):
    write(tmp_path / "train.tsv", rows(("1", "x"), ("0", "y")))
    write(tmp_path / "test.tsv", rows(("1", "z"), ("2", "w"), ("3", "v")))
    with pytest.raises(
        ValueError,
        match=r"test\.tsv: test labels \['2', '3'\] never occur in training",
    ):
        labelled_text.load(str(tmp_path))


def test_load_one_class_only(tmp_path):
    path = write(tmp_path / "all.tsv", rows(*_many(10, classes=("pos",))))
    with pytest.raises(
        ValueError,
        match=re.escape("found 1 class(es) ['pos']; a classifier needs at "
                        "least two"),
    ):
        labelled_text.load(path)


# load


def test_load_dispatches_local_paths(tmp_path, monkeypatch):
    def no_tfds(*args, **kwargs):
        raise AssertionError("a local path must not reach tensorflow-datasets")

    monkeypatch.setattr(sources, "load_tfds", no_tfds)
    path = write(tmp_path / "all.tsv", rows(*_many(10)))
    splits = labelled_text.load(path, skip_bad_rows=True, seed=1)
    assert splits.class_names == ["0", "1"]
    assert len(splits.test_labels) == 1
    expected = labelled_text.load(path, seed=1)
    np.testing.assert_array_equal(splits.test_texts, expected.test_texts)


def test_load_expands_user(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    write(tmp_path / "all.tsv", rows(*_many(10)))
    assert labelled_text.load("~/all.tsv").class_names == ["0", "1"]


def test_load_tfds_imdb_reviews_on_mock_data(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "network_available", lambda *a, **k: True)
    with tfds.testing.mock_data(num_examples=4):
        splits = labelled_text.load("imdb_reviews", tfds_data_dir=str(tmp_path))
    assert splits.class_names == ["neg", "pos"]
    assert splits.source == "tensorflow-datasets imdb_reviews"
    for texts, labels in ((splits.train_texts, splits.train_labels),
                          (splits.test_texts, splits.test_labels)):
        assert texts.shape == (4,) and texts.dtype == object
        assert all(isinstance(t, str) for t in texts)  # Decoded, not bytes.
        assert labels.dtype == np.int64
        assert set(labels) <= {0, 1}


def test_load_tfds_offline_says_how_to_provide_data(tmp_path):
    start = time.monotonic()
    with pytest.raises(
        sources.DataUnavailableError,
        match=r"'imdb_reviews'.*--data=PATH.*\.tsv/\.csv file of "
        r"`label<TAB>text` rows",
    ):
        labelled_text.load("imdb_reviews", tfds_data_dir=str(tmp_path))
    assert time.monotonic() - start < 10


# Malformed files: one table of hostile inputs, each with its defined
# outcome (an error naming the file and the problem, or a documented
# result). The README counts the cases of `MALFORMED_FILES`.


def _texts(splits):
    return sorted(splits.train_texts), sorted(splits.test_texts)


def _case(case_id, files, outcome, call=labelled_text.read_rows,
          target=None, **kwargs):
    """A case of `check_malformed_files`: `target` is by default the only
    file, or the folder of several."""
    return pytest.param(call, files, outcome, target, kwargs, id=case_id)


def _load_case(case_id, files, outcome, **kwargs):
    return _case(case_id, files, outcome, labelled_text.load, **kwargs)


def _reviews(changes=None):
    """An aclImdb-style folder as `{name: text}`, with `changes`."""
    files = {"train/pos/0.txt": "great", "train/neg/0.txt": "awful",
             "test/pos/0.txt": "superb", "test/neg/0.txt": "dreadful"}
    return {**files, **(changes or {})}


GOOD_ROWS = rows(("1", "good"), ("0", "bad"))
FIX = "; fix the row or pass --skip_bad_rows to skip such rows"
NUL = "NUL byte (binary data or UTF-16 text? expected UTF-8 text)"
NO_TSV_ROWS = "{path}: no `label<TAB>text` rows; "
NO_LAYOUT = ("{tmp} holds neither train.tsv/.csv/.txt and test.tsv/.csv/.txt "
             "files of `label, text` rows nor train/<class>/*.txt")

MALFORMED_FILES = [
    # Empty, blank and header-only files.
    _case("empty_file_has_no_rows", {"a.tsv": ""}, Returns(([], [], 0))),
    _load_case("empty_file", {"a.tsv": ""}, Raises(
        MalformedRowError, NO_TSV_ROWS + "the file is empty, or blank but "
        "for a header")),
    _load_case("whitespace_only", {"a.csv": " \n\t\n\r\n"}, Raises(
        MalformedRowError, "{path}: no `label,text` rows; the file is "
        "empty")),
    _load_case("header_only", {"a.tsv": "label\ttext\n"}, Raises(
        MalformedRowError, NO_TSV_ROWS + "the file is empty")),
    _load_case("every_row_skipped", {"a.tsv": "x\ny\n"}, Raises(
        MalformedRowError, NO_TSV_ROWS + "all 2 were malformed and skipped"),
        skip_bad_rows=True),
    _load_case("empty_test_file", {"train.tsv": GOOD_ROWS, "test.tsv": ""},
               Raises(MalformedRowError, "{tmp}/test.tsv: no `label<TAB>text` "
                      "rows")),
    # Truncated files.
    _case("truncated_mid_row", {"a.tsv": "1\tgood\n0"}, Raises(
        MalformedRowError, "{path}:2: expected `label<TAB>text`, found 1 "
        "field" + FIX)),
    _case("truncated_mid_row_skipped", {"a.tsv": "1\tgood\n0"},
          Returns((["1"], ["good"], 1)), skip_bad_rows=True),
    _case("truncated_in_a_quoted_field", {"a.csv": '1,good\n0,"bad and cu'},
          Raises(MalformedRowError, '{path}:2: a `"` quote is still open at '
                 "the end of the file (the file is truncated, or a quote is "
                 "missing)")),
    _case("truncated_mid_utf8_char", {"a.tsv": b"1\tgood\n0\tcaf\xc3"},
          Returns((["1", "0"], ["good", "caf\ufffd"], 0))),
    # A quote left open swallows the rows after it.
    _case("open_quote_swallows_rows", {"a.csv": '1,"good\n0,bad\n1,fine\n'},
          Raises(MalformedRowError, '{path}:1: a `"` quote is still open at '
                 "the end of the file")),
    _case("csv_field_over_the_size_limit",
          {"a.csv": '1,x\n0,"' + "y" * 200_000 + '"\n'},
          Raises(MalformedRowError, "{path}:2: unreadable CSV (field larger "
                 'than field limit (131072)); is a `"` quote left open?')),
    # Encodings: bad bytes become U+FFFD; a UTF-8 byte order mark goes.
    _case("latin1_bytes", {"a.tsv": "1\tcaf\u00e9\n".encode("latin-1")},
          Returns((["1"], ["caf\ufffd"], 0))),
    _case("cp1252_quotes", {"a.csv": b"1,\x93great\x94\n"},
          Returns((["1"], ["\ufffdgreat\ufffd"], 0))),
    _case("utf8_byte_order_mark", {"a.tsv": "\ufeff1\tx\n"},
          Returns((["1"], ["x"], 0))),
    _case("utf16_le_byte_order_mark",
          {"a.tsv": GOOD_ROWS.encode("utf-16")},
          Raises(MalformedRowError, "{path}: UTF-16 text (byte order mark "
                 "fffe), expected UTF-8; save the file as UTF-8")),
    _case("utf16_be_byte_order_mark",
          {"a.csv": "\ufeff1,good\n".encode("utf-16-be")},
          Raises(MalformedRowError, "{path}: UTF-16 text (byte order mark "
                 "feff)")),
    _case("utf32_byte_order_mark", {"a.tsv": GOOD_ROWS.encode("utf-32")},
          Raises(MalformedRowError, "{path}: UTF-32 text (byte order mark "
                 "fffe0000)")),
    _case("utf16_without_byte_order_mark",
          {"a.tsv": GOOD_ROWS.encode("utf-16-le")},
          Raises(MalformedRowError, "{path}:1: " + NUL + FIX)),
    _case("binary_garbage", {"a.csv": bytes(range(256)) * 2},
          Raises(MalformedRowError, "{path}:1: " + NUL + FIX)),
    _case("nul_row_skipped", {"a.tsv": b"1\tgo\x00od\n0\tbad\n"},
          Returns((["0"], ["bad"], 1)), skip_bad_rows=True),
    # Column counts: too few is an error, more belong to the text.
    _case("one_field_tsv", {"a.tsv": "1\tok\njust text\n"}, Raises(
        MalformedRowError, "{path}:2: expected `label<TAB>text`, found 1 "
        "field" + FIX)),
    _case("one_field_csv", {"a.csv": "1,ok\nno comma\n"}, Raises(
        MalformedRowError, "{path}:2: expected `label,text`, found 1 "
        "field")),
    _case("empty_label_csv", {"a.csv": "1,ok\n,text\n"}, Raises(
        MalformedRowError, "{path}:2: empty label" + FIX)),
    _case("three_columns_tsv", {"a.tsv": "1\ta\tb\n"},
          Returns((["1"], ["a\tb"], 0))),
    _case("three_columns_csv", {"a.csv": "1,a,b\n"},
          Returns((["1"], ["a,b"], 0))),
    # Line ends: rows end at \n or \r\n; a lone \r is text.
    _case("crlf_line_ends_tsv", {"a.tsv": "1\tgood\r\n0\tbad\r\n"},
          Returns((["1", "0"], ["good", "bad"], 0))),
    _case("crlf_line_ends_csv", {"a.csv": '1,"two\r\nlines"\r\n0,bad\r\n'},
          Returns((["1", "0"], ["two\r\nlines", "bad"], 0))),
    _case("cr_before_crlf_goes_with_the_line_end",
          {"a.tsv": "1\tgood\r\r\n0\tbad\r"},
          Returns((["1", "0"], ["good", "bad"], 0))),
    _case("lone_cr_in_a_tsv_text", {"a.tsv": "1\tgood\rstill good\n0\tbad\n"},
          Returns((["1", "0"], ["good\rstill good", "bad"], 0))),
    _case("lone_cr_in_a_tsv_text_skip_bad_rows",
          {"a.tsv": "1\tgood\rstill good\r\n0\tbad\r\n"},
          Returns((["1", "0"], ["good\rstill good", "bad"], 0)),
          skip_bad_rows=True),
    _case("lone_cr_in_an_unquoted_csv_field",
          {"a.csv": "1,good\rstill good\n0,bad\n"},
          Returns((["1", "0"], ["good\rstill good", "bad"], 0))),
    _case("lone_cr_in_a_quoted_csv_field",
          {"a.csv": '1,"good,\rstill good"\n0,bad\n'},
          Returns((["1", "0"], ["good,\rstill good", "bad"], 0))),
    _case("lone_cr_after_a_closing_quote", {"a.csv": '1,"good"\rmore\n'},
          Returns((["1"], ["good\rmore"], 0))),
    _case("lone_cr_in_a_row_with_one_field",
          {"a.tsv": "1\tgood\nno tab\rhere\n"},
          Raises(MalformedRowError, "{path}:2: expected `label<TAB>text`, "
                 "found 1 field" + FIX)),
    # Old Mac line ends: a file without \n whose lines end in a lone \r.
    _case("cr_line_ends", {"a.tsv": "1\tgood\r0\tbad\r"},
          Returns((["1", "0"], ["good", "bad"], 0))),
    _case("cr_line_ends_csv",
          {"a.csv": '\ufefflabel,text\r1,"two\rlines"\r0,x'},
          Returns((["1", "0"], ["two\rlines", "x"], 0))),
    # Quotes, byte order marks and trailing separators.
    _case("quotes_in_tsv_texts",
          {"a.tsv": '1\the said "hi\n0\t"open\n1\t""\n0\tlast\n'},
          Returns((["1", "0", "1", "0"],
                   ['he said "hi', '"open', '""', "last"], 0))),
    _case("quote_inside_an_unquoted_csv_field",
          {"a.csv": '1,he said "hi\n0,bye\n'},
          Returns((["1", "0"], ['he said "hi', "bye"], 0))),
    _case("utf8_byte_order_mark_csv", {"a.csv": "\ufeff1,x\r\n"},
          Returns((["1"], ["x"], 0))),
    _case("utf8_byte_order_mark_and_header",
          {"a.tsv": "\ufeffLabel\tText\r\n1\tx\r\n"},
          Returns((["1"], ["x"], 0))),
    _case("trailing_tab_stays_in_the_text",
          {"a.tsv": "1\tgood\t\n0\tbad\t\r\n"},
          Returns((["1", "0"], ["good\t", "bad\t"], 0))),
    _case("trailing_comma_stays_in_the_text", {"a.csv": "1,good,\r\n"},
          Returns((["1"], ["good,"], 0))),
    # Folders.
    # (`load` takes a missing path for a tensorflow-datasets name.)
    _case("path_does_not_exist", {}, Raises(
        FileNotFoundError, "no such file or folder: {path}"),
        lambda path: labelled_text.stream_local(path, tempfile.mkdtemp()),
        target="absent"),
    _load_case("missing_test_file", {"train.tsv": GOOD_ROWS},
               Raises(FileNotFoundError, NO_LAYOUT), target=""),
    _load_case("split_file_is_a_folder",
               {"train.tsv": GOOD_ROWS, "test.tsv": FOLDER},
               Raises(FileNotFoundError, NO_LAYOUT)),
    _load_case("review_in_utf16",
               _reviews({"train/pos/0.txt": "great".encode("utf-16")}),
               Raises(MalformedRowError, "{tmp}/train/pos/0.txt: UTF-16 text "
                      "(byte order mark fffe)")),
    _load_case("review_in_utf16_without_byte_order_mark",
               _reviews({"test/neg/0.txt": "dire".encode("utf-16-le")}),
               Raises(MalformedRowError, "{tmp}/test/neg/0.txt:1: " + NUL)),
    # A 3-class corpus whose texts hold lone \r's: whole rows, none cut.
    _load_case("lone_cr_in_texts_of_train_and_test_files",
               {"train.tsv": "label\ttext\n" + "".join(
                   f"{c}\ttweet {i}\rsecond half\n"
                   for i, c in enumerate("ABCABC")),
                "test.tsv": "A\tx\ry\nC\tz\n"},
               Returns(([f"tweet {i}\rsecond half" for i in range(6)],
                        ["x\ry", "z"]), _texts)),
    _load_case("review_with_utf8_byte_order_mark",
               _reviews({"train/pos/0.txt": "\ufeffgreat"}),
               Returns((["awful", "great"], ["dreadful", "superb"]), _texts)),
    _load_case("folder_named_like_a_review",
               _reviews({"train/pos/1.txt": FOLDER}),
               Returns((["awful", "great"], ["dreadful", "superb"]), _texts)),
]


@pytest.mark.parametrize("call, files, outcome, target, kwargs",
                         MALFORMED_FILES)
def test_malformed_files_end_in_a_defined_outcome(
    tmp_path, call, files, outcome, target, kwargs
):
    check_malformed_files(tmp_path, call, files, outcome, target, **kwargs)


# Streaming: the same examples as `load`, read from TFRecord files.


def _streamed(path, **kwargs):
    """`stream_local` read back into a `Splits`, to compare with `load`.

    Its TFRecord files go to a fresh folder beside the data, not in it.
    """
    streams = labelled_text.stream_local(path, tempfile.mkdtemp(), **kwargs)
    split = {}
    for name in ("train", "test"):
        dataset = getattr(streams, name)
        assert int(dataset.cardinality()) == getattr(streams, f"{name}_size")
        pairs = [(t.decode("utf-8"), int(y))
                 for t, y in dataset.as_numpy_iterator()]
        split[name] = (np.array([t for t, _ in pairs], dtype=object),
                       np.array([y for _, y in pairs], dtype=np.int64))
    return labelled_text.Splits(
        *split["train"], *split["test"], class_names=streams.class_names,
        source=streams.source, skipped_rows=streams.skipped_rows)


def _same_examples(streamed, loaded):
    """The same splits, classes and provenance; each split's order aside."""
    for name in ("train", "test"):
        pairs = lambda splits: sorted(zip(
            getattr(splits, f"{name}_texts"), getattr(splits, f"{name}_labels")))
        assert pairs(streamed) == pairs(loaded)
    assert streamed.class_names == loaded.class_names
    assert streamed.source == loaded.source
    assert streamed.skipped_rows == loaded.skipped_rows


@pytest.mark.parametrize("seed", [0, 3])
def test_stream_single_file_holds_out_the_rows_load_holds_out(tmp_path, seed):
    path = write(tmp_path / "all.tsv",
                 rows(*_many(40, classes=("b", "a", "c"))) + "bad\n")
    streamed = _streamed(path, seed=seed, skip_bad_rows=True)
    _same_examples(streamed, labelled_text.load(
        path, seed=seed, skip_bad_rows=True))
    assert streamed.skipped_rows == 1 and len(streamed.test_texts) == 4
    # Each split keeps the file's order.
    numbers = [int(t.split()[-1]) for t in streamed.train_texts]
    assert numbers == sorted(numbers)


def test_stream_folder_with_train_and_test_files(tmp_path):
    write(tmp_path / "train.csv", rows(("label", "text"), ("pos", "a"),
                                       ("neg", "b"), ("pos", "c"), sep=","))
    write(tmp_path / "test.csv", "oops\n" + rows(("neg", "d"), sep=","))
    streamed = _streamed(str(tmp_path), skip_bad_rows=True)
    _same_examples(streamed, labelled_text.load(
        str(tmp_path), skip_bad_rows=True))
    assert streamed.train_texts.tolist() == ["a", "b", "c"]
    assert streamed.train_labels.tolist() == [1, 0, 1]


def test_stream_aclimdb_layout(tmp_path):
    _imdb(str(tmp_path))
    streamed = _streamed(str(tmp_path))
    _same_examples(streamed, labelled_text.load(str(tmp_path)))
    assert "bad \ufffd" in streamed.train_texts


def test_stream_writes_its_records_in_the_folder_given(tmp_path):
    path = write(tmp_path / "all.tsv", rows(*_many(10)))
    folder = tmp_path / "records"
    labelled_text.stream_local(path, str(folder))
    assert os.listdir(folder) == ["rows.tfrecord"]
    write(tmp_path / "data" / "train.tsv", rows(*_many(4)))
    write(tmp_path / "data" / "test.tsv", rows(*_many(2)))
    labelled_text.stream(str(tmp_path / "data"), str(folder))
    assert sorted(os.listdir(folder)) == [
        "rows.tfrecord", "test.tfrecord", "train.tfrecord"]


def test_stream_tfds_imdb_reviews_on_mock_data(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "network_available", lambda *a, **k: True)
    with tfds.testing.mock_data(num_examples=4):
        loaded = labelled_text.load("imdb_reviews", tfds_data_dir=str(tmp_path))
        streams = labelled_text.stream("imdb_reviews", str(tmp_path / "x"),
                                       tfds_data_dir=str(tmp_path))
        got = {name: [(t.decode("utf-8"), int(y)) for t, y in
                      getattr(streams, name).as_numpy_iterator()]
               for name in ("train", "test")}
    assert streams.class_names == loaded.class_names == ["neg", "pos"]
    assert streams.source == loaded.source
    assert (streams.train_size, streams.test_size) == (4, 4)
    assert got["train"] == list(zip(loaded.train_texts, loaded.train_labels))
    assert got["test"] == list(zip(loaded.test_texts, loaded.test_labels))
    assert not os.path.exists(tmp_path / "x")


def test_stream_tfds_offline_says_how_to_provide_data(tmp_path):
    with pytest.raises(sources.DataUnavailableError,
                       match=r"'imdb_reviews'.*\.tsv/\.csv file of"):
        labelled_text.stream("imdb_reviews", str(tmp_path / "x"),
                             tfds_data_dir=str(tmp_path))


@pytest.mark.parametrize(
    "call, files, outcome, target, kwargs",
    [pytest.param(_streamed, *case.values[1:], id=case.id)
     for case in MALFORMED_FILES if case.values[0] is labelled_text.load])
def test_stream_refuses_what_load_refuses(
    tmp_path, call, files, outcome, target, kwargs
):
    check_malformed_files(tmp_path, call, files, outcome, target, **kwargs)


def test_as_lists_reads_a_dataset_of_rows():
    rows = tf.data.Dataset.from_tensor_slices(
        ([b"good", b"bad \xff"], [1, 0]))
    assert labelled_text.as_lists(rows) == (["good", "bad \ufffd"], [1, 0])
