"""Labelled texts for classification: local TSV/CSV, aclImdb folders, tfds.

`stream(data, folder)` gives train and test examples (texts with integer
labels) as datasets, which read a local corpus from TFRecord files it
writes in `folder`, and says where they came from; `load(data)` reads the
same streams into arrays in memory. `--data` may be:

* a tensorflow-datasets name (`imdb_reviews`);
* a `.tsv`/`.csv` file of `label, text` rows (header optional; labels may be
  0/1 or any strings, two or more classes); its test split is carved off
  with a fixed seed;
* a folder holding `train.*` and `test.*` files of that format;
* a folder in the `aclImdb/` layout: `train/<class>/*.txt` and
  `test/<class>/*.txt` (classes are the subfolders present in both, so
  `train/unsup` is ignored).

Rows end at "\\n" or "\\r\\n"; a lone "\\r" inside a text is part of it
(a file without any "\\n" whose lines end in a lone "\\r", as classic Mac
OS and Excel for Mac's "CSV (Macintosh)" write them, is read by those).
In a TSV file a `"` is text, never a quote; separators after the first
belong to the text, so a trailing one stays at its end.

A malformed row (fewer than two fields, an empty label, or a NUL byte, the
mark of binary data or UTF-16 text) is an error that names the file and
line, or, with `skip_bad_rows=True`, is skipped and counted in the log.
Bytes that are not UTF-8 become U+FFFD; a UTF-8 byte order mark is
dropped. A file that cannot be read as rows at all (UTF-16 with a byte
order mark, a CSV quote left open to the end of the file, a CSV field over
the `csv` module's size limit) and a file without rows are errors whatever
`skip_bad_rows` says.
"""

import array
import csv
import dataclasses
import glob
import os
import tempfile

import numpy as np
import tensorflow as tf
from absl import logging

from zoo import errors
from zoo.data import pipeline
from zoo.data import records
from zoo.data import sources

HEADER_FIELDS = {"label", "labels", "sentiment", "class", "target", "y"}
TEXT_SUFFIXES = (".tsv", ".csv", ".txt")
SINGLE_FILE_TEST_FRACTION = 0.1
TFDS_CLASS_NAMES = {"imdb_reviews": ["neg", "pos"]}


class MalformedRowError(errors.DataError):
    """A local file or a row of it is malformed; the message names the file
    and, for a row, the line."""


_NUL_PROBLEM = "NUL byte (binary data or UTF-16 text? expected UTF-8 text)"


def _check_not_utf16(path, head=None):
    """Raises `MalformedRowError` if `path` (whose first bytes `head` are,
    if given) starts with a UTF-16 or UTF-32 byte order mark."""
    if head is None:
        with open(path, "rb") as f:
            head = f.read(4)
    problem = sources.foreign_bom(head)
    if problem:
        raise MalformedRowError(f"{path}: {problem}")


@dataclasses.dataclass
class Splits:
    """Texts `[N]` and integer labels `[N]` indexing `class_names`."""

    train_texts: np.ndarray
    train_labels: np.ndarray
    test_texts: np.ndarray
    test_labels: np.ndarray
    class_names: list
    source: str
    skipped_rows: int = 0


@dataclasses.dataclass
class Streams:
    """Datasets of `(text, label)` pairs, read from disk as they are used:
    a string and an int64 index into `class_names`."""

    train: tf.data.Dataset
    train_size: int
    test: tf.data.Dataset
    test_size: int
    class_names: list
    source: str
    skipped_rows: int = 0


COLUMNS = {"label": records.Column("string"), "text": records.Column("string")}


# Stands in for a lone "\r" inside a CSV line while `csv` parses it, for
# `csv` ends a row at any "\r": a lone surrogate, which no decoded UTF-8
# holds (errors="replace" reads an encoded surrogate as U+FFFD).
_CR = "\ud800"


def _decoded_lines(f):
    """`(line number, line)` of the binary file `f` (see
    `sources.numbered_lines`), each with its line end."""
    for number, raw in sources.numbered_lines(f):
        # utf-8-sig: drop the byte order mark some editors (Excel) write
        # first.
        yield number, raw.decode("utf-8-sig" if number == 1 else "utf-8",
                                 errors="replace")


# How messages show a delimiter.
_SHOWN = {"\t": "<TAB>", ",": ","}


def _numbered_rows(path, f, delimiter):
    """`(line number, fields)` per row of the binary file `f`.

    A CSV row is numbered by its first line (a quoted field may span
    lines).
    """
    if delimiter == "\t":
        for number, line in _decoded_lines(f):
            yield number, line.rstrip("\r\n").split("\t")
        return
    ended = []  # Set once the reader asks for a line past the last.

    def lines():
        for _, line in _decoded_lines(f):
            text = line.rstrip("\r\n")
            yield text.replace("\r", _CR) + line[len(text):]
        ended.append(True)

    rows = csv.reader(lines())
    end = 0
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as error:
            raise MalformedRowError(
                f"{path}:{end + 1}: unreadable CSV ({error}); is a `\"` quote "
                "left open?"
            ) from None
        number, end = end + 1, rows.line_num
        if ended:
            # Only a quoted field still open at the end of the file makes
            # the reader return a row after the last line.
            raise MalformedRowError(
                f"{path}:{number}: a `\"` quote is still open at the end of "
                "the file (the file is truncated, or a quote is missing)"
            )
        yield number, [field.replace(_CR, "\r") for field in row]


def iter_rows(path, skip_bad_rows=False, skipped=None):
    """`(label, text)` of each row of a `label<sep>text` file, as it is read.

    The separator is a tab for `.tsv` and `.txt`, a comma for `.csv`
    (with CSV quoting; a `"` in a TSV row is text). Separators after the
    first belong to the text: a trailing one (an empty field after the
    text) stays at the end of the text. Rows end at "\\n" or "\\r\\n" (any
    "\\r" before the "\\n" goes with it); a lone "\\r" inside a row is
    text (see `sources.numbered_lines`, and its exception for a file of
    classic Mac line ends). An empty file gives no rows.

    Args:
        skipped: A list to which the line number of each malformed row
            skipped (with `skip_bad_rows`) is appended.

    Raises:
        MalformedRowError: A malformed row (unless `skip_bad_rows`), or a
            file that cannot be read as rows (see the module docstring).
    """
    delimiter = "," if path.lower().endswith(".csv") else "\t"
    skipped = [] if skipped is None else skipped
    first_skipped = len(skipped)
    _check_not_utf16(path)
    # Binary: only "\n" ends a line (see `_decoded_lines`).
    with open(path, "rb") as f:
        for number, row in _numbered_rows(path, f, delimiter):
            if not "".join(row).strip():
                continue  # Blank line.
            label = row[0].strip()
            problem = None
            if any("\x00" in field for field in row):
                problem = _NUL_PROBLEM
            elif len(row) < 2:
                problem = (f"expected `label{_SHOWN[delimiter]}text`, found 1 "
                           "field")
            elif not label:
                problem = "empty label"
            if problem:
                if not skip_bad_rows:
                    raise MalformedRowError(
                        f"{path}:{number}: {problem}; fix the row or pass "
                        "--skip_bad_rows to skip such rows"
                    )
                skipped.append(number)
                continue
            if number == 1 and label.lower() in HEADER_FIELDS:
                continue  # Header.
            yield label, delimiter.join(row[1:])
    if len(skipped) > first_skipped:
        logging.warning("Skipped %d malformed rows of %s",
                        len(skipped) - first_skipped, path)


def read_rows(path, skip_bad_rows=False):
    """`(labels, texts)` lists from a `label<sep>text` file, and rows skipped.

    See `iter_rows`.
    """
    skipped = []
    rows = list(iter_rows(path, skip_bad_rows, skipped))
    labels, texts = (list(c) for c in zip(*rows)) if rows else ([], [])
    return labels, texts, len(skipped)


def class_names_of(labels):
    """Sorted class names: numerically when every label is an integer."""
    names = set(labels)
    try:
        return sorted(names, key=int)
    except ValueError:
        return sorted(names)


def _find_split_file(directory, split):
    matches = sorted(
        p for p in glob.glob(os.path.join(glob.escape(directory), split + ".*"))
        if p.lower().endswith(TEXT_SUFFIXES) and os.path.isfile(p)
    )
    return matches[0] if matches else None


def _class_folder_names(directory):
    """Subfolders of `directory` holding `*.txt` files: the classes."""
    return [
        name for name in sorted(os.listdir(directory))
        if any(os.path.isfile(p) for p in glob.glob(os.path.join(
            glob.escape(os.path.join(directory, name)), "*.txt")))
    ]


def _iter_class_folders(directory, classes):
    """`(label, text)` of each `<class>/*.txt` file of `directory`."""
    for name in classes:
        folder = os.path.join(directory, name)
        for path in sorted(glob.glob(os.path.join(glob.escape(folder), "*.txt"))):
            if not os.path.isfile(path):
                continue  # A folder named *.txt.
            with open(path, "rb") as f:
                raw = f.read()
            _check_not_utf16(path, raw[:4])
            # utf-8-sig: drop a byte order mark; line ends become "\n".
            text = raw.decode("utf-8-sig", errors="replace")
            text = text.replace("\r\n", "\n").replace("\r", "\n")
            if "\x00" in text:
                line = text[:text.index("\x00")].count("\n") + 1
                raise MalformedRowError(f"{path}:{line}: {_NUL_PROBLEM}")
            yield name, text


def _shared_classes(train_dir, test_dir):
    """The classes of an aclImdb layout: subfolders with texts in both."""
    test = set(_class_folder_names(test_dir))
    return [name for name in _class_folder_names(train_dir) if name in test]


def _no_rows_error(path, skipped):
    """The error for a file without rows (`skipped` malformed ones)."""
    delimiter = "," if path.lower().endswith(".csv") else "\t"
    why = (
        f"all {skipped} were malformed and skipped" if skipped
        else "the file is empty, or blank but for a header"
    )
    return MalformedRowError(
        f"{path}: no `label{_SHOWN[delimiter]}text` rows; {why}"
    )


def check_classes(train_labels, test_labels, source):
    """The class names of a corpus from the label sets of its splits.

    Raises:
        ValueError: Fewer than two classes, or test labels that never occur
            in training.
    """
    names = class_names_of(train_labels)
    unknown = set(test_labels) - set(names)
    if unknown:
        raise errors.DataError(
            f"{source}: test labels {sorted(unknown)} never occur in training"
        )
    if len(names) < 2:
        raise errors.DataError(
            f"{source}: found {len(names)} class(es) {names}; a classifier "
            "needs at least two"
        )
    return names


def _single_file_test(count, seed):
    """Flags of the rows a single file holds out for testing."""
    return pipeline.held_out(
        count, max(1, int(round(count * SINGLE_FILE_TEST_FRACTION))), seed)


def _single_file_source(path):
    return f"{path} (test: a fixed {SINGLE_FILE_TEST_FRACTION:.0%} of rows)"


def _no_layout_error(path):
    return errors.DataNotFoundError(
        f"{path} holds neither train.tsv/.csv/.txt and test.tsv/.csv/.txt "
        "files of `label, text` rows nor train/<class>/*.txt and "
        "test/<class>/*.txt folders (the aclImdb layout)"
    )


_LOCAL_HINT = (
    "For text classification, --data may also be a .tsv/.csv file of "
    "`label<TAB>text` rows, a folder with train.tsv and test.tsv, or an "
    "aclImdb-style folder."
)


def _tfds_class_names(data, largest_label):
    return TFDS_CLASS_NAMES.get(data) or [
        str(i) for i in range(int(largest_label) + 1)]


def load(data, tfds_data_dir=None, skip_bad_rows=False, seed=0):
    """The labelled texts `stream` gives, in memory: `stream`'s own code
    path, its records written to a temporary folder and read back.

    Returns:
        A `Splits` (texts as object arrays of str, labels as int64), each
        split in the order of its files.

    Raises:
        As `stream`.
    """
    with tempfile.TemporaryDirectory() as folder:
        streams = stream(data, folder, tfds_data_dir, skip_bad_rows, seed)
        (train_texts, train_labels), (test_texts, test_labels) = (
            as_lists(split) for split in (streams.train, streams.test))
    return Splits(
        np.array(train_texts, dtype=object), np.array(train_labels, np.int64),
        np.array(test_texts, dtype=object), np.array(test_labels, np.int64),
        class_names=streams.class_names, source=streams.source,
        skipped_rows=streams.skipped_rows)


class _Tally:
    """What streaming keeps of a corpus: the labels seen and, with
    `codes`, four bytes per row (its label's first-seen position), to
    hold out test rows."""

    def __init__(self, codes=False):
        self.labels = {}
        self.codes = array.array("I") if codes else None

    def rows(self, pairs):
        """`records` rows of `(label, text)` pairs, tallied as they pass."""
        for label, text in pairs:
            code = self.labels.setdefault(label, len(self.labels))
            if self.codes is not None:
                self.codes.append(code)
            yield {"label": label, "text": text}


def _as_examples(rows, class_names):
    """Rows of `COLUMNS` as `(text, label index)` pairs."""
    names = tf.constant(class_names)
    return rows.map(lambda row: (
        row["text"], records.index_of(row["label"], names)))


def stream_local(path, folder, skip_bad_rows=False, seed=0):
    """Streams a local file or folder (see the module docstring).

    The files are read once, with their checks, into TFRecord files in
    `folder`; the rows then stream from those. What stays in memory is the
    label set and, for a single file, a label code per row (to hold out
    its test rows: a fixed `SINGLE_FILE_TEST_FRACTION`, `pipeline.held_out`
    for `seed`).

    Returns:
        A `Streams`, each split in its file order.

    Raises:
        FileNotFoundError: `path` does not exist, or is a folder in neither
            layout.
        MalformedRowError: A malformed file or row (see `read_rows`), or a
            file without rows.
        ValueError: Fewer than two classes, or test labels that never occur
            in training.
    """
    if not os.path.exists(path):
        raise errors.DataNotFoundError(f"no such file or folder: {path}")
    train_dir = os.path.join(path, "train")
    test_dir = os.path.join(path, "test")
    if os.path.isfile(path):
        tally, skipped = _Tally(codes=True), []
        rows_path = os.path.join(folder, "rows.tfrecord")
        count = records.write(
            rows_path, tally.rows(iter_rows(path, skip_bad_rows, skipped)),
            COLUMNS)
        if not count:
            raise _no_rows_error(path, len(skipped))
        held = _single_file_test(count, seed)
        codes = np.array(tally.codes)
        label_of = {code: label for label, code in tally.labels.items()}
        names = check_classes(
            {label_of[c] for c in np.unique(codes[~held])},
            {label_of[c] for c in np.unique(codes[held])},
            _single_file_source(path),
        )
        train, test = (
            records.parse(part, COLUMNS) for part in pipeline.split_stream(
                records.serialized(rows_path, count), held))
        return Streams(
            _as_examples(train, names), count - int(held.sum()),
            _as_examples(test, names), int(held.sum()),
            class_names=names, source=_single_file_source(path),
            skipped_rows=len(skipped),
        )
    if os.path.isdir(train_dir) and os.path.isdir(test_dir):
        classes = _shared_classes(train_dir, test_dir)
        files = {"train": train_dir, "test": test_dir}
        source = f"class folders in {path}"
        read = lambda directory, _: _iter_class_folders(directory, classes)
    else:
        files = {split: _find_split_file(path, split)
                 for split in ("train", "test")}
        if not all(files.values()):
            raise _no_layout_error(path)
        source = " and ".join(files.values())
        read = lambda file, skipped: iter_rows(file, skip_bad_rows, skipped)
    written, skipped = {}, []
    for split, file in files.items():
        tally, skipped_before = _Tally(), len(skipped)
        rows_path = os.path.join(folder, f"{split}.tfrecord")
        count = records.write(rows_path, tally.rows(read(file, skipped)),
                              COLUMNS)
        if not count and os.path.isfile(file):
            raise _no_rows_error(file, len(skipped) - skipped_before)
        written[split] = rows_path, count, set(tally.labels)
    names = check_classes(written["train"][2], written["test"][2], source)
    examples = {split: _as_examples(records.read(rows_path, COLUMNS, count),
                                    names)
                for split, (rows_path, count, _) in written.items()}
    return Streams(
        examples["train"], written["train"][1],
        examples["test"], written["test"][1],
        class_names=names, source=source, skipped_rows=len(skipped),
    )


def stream(data, folder, tfds_data_dir=None, skip_bad_rows=False, seed=0):
    """Streams labelled texts from a local path or a tensorflow-datasets name.

    Args:
        data: A local path (see the module) or a tensorflow-datasets name.
        folder: Where local files are written as TFRecord files (see
            `stream_local`); unused for tensorflow-datasets, which streams
            from its own files.

    Returns:
        A `Streams`.

    Raises:
        sources.DataUnavailableError: A tfds name that cannot be had here;
            the message says how to provide local data.
        MalformedRowError, FileNotFoundError, ValueError: Bad local data.
    """
    if sources.is_local(data):
        return stream_local(os.path.expanduser(data), folder, skip_bad_rows,
                            seed)
    train, test = sources.tfds_datasets(
        data, ["train", "test"], data_dir=tfds_data_dir,
        local_hint=_LOCAL_HINT)
    # One pass over each split: its size, and the largest label.
    (train_size, train_top), (test_size, test_top) = (
        (int(n), int(top)) for n, top in (split.reduce(
            (tf.constant(0, tf.int64), tf.constant(0, tf.int64)),
            lambda tally, example: (tally[0] + 1, tf.maximum(
                tally[1], tf.cast(example[1], tf.int64))),
        ) for split in (train, test)))

    def examples(split):
        return split.map(lambda text, label: (
            tf.strings.unicode_transcode(text, "UTF-8", "UTF-8",
                                         errors="replace"),
            tf.cast(label, tf.int64)))

    return Streams(
        examples(train), train_size, examples(test), test_size,
        class_names=_tfds_class_names(data, max(train_top, test_top)),
        source=f"tensorflow-datasets {data}",
    )


def as_lists(examples):
    """A dataset of `(text, label)` as a list of str (bytes that are not
    UTF-8 read as U+FFFD) and a list of int."""
    texts, labels = [], []
    for text, label in examples.as_numpy_iterator():
        texts.append(text.decode("utf-8", "replace"))
        labels.append(int(label))
    return texts, labels
