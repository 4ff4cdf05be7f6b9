"""Labelled texts for classification: local TSV/CSV, aclImdb folders, tfds.

`load(data)` returns train and test texts with string labels and says where
they came from. `--data` may be:

* a tensorflow-datasets name (`imdb_reviews`);
* a `.tsv`/`.csv` file of `label, text` rows (header optional; labels may be
  0/1 or any strings, two or more classes); its test split is carved off
  with a fixed seed;
* a folder holding `train.*` and `test.*` files of that format;
* a folder in the `aclImdb/` layout: `train/<class>/*.txt` and
  `test/<class>/*.txt` (classes are the subfolders present in both, so
  `train/unsup` is ignored).

A malformed row (fewer than two fields, an empty label, or a NUL byte, the
mark of binary data or UTF-16 text) is an error that names the file and
line, or, with `skip_bad_rows=True`, is skipped and counted in the log.
Bytes that are not UTF-8 become U+FFFD; a UTF-8 byte order mark is
dropped. A file that cannot be read as rows at all (UTF-16 with a byte
order mark, a CSV quote left open to the end of the file, a CSV field over
the `csv` module's size limit) and a file without rows are errors whatever
`skip_bad_rows` says.
"""

import csv
import dataclasses
import glob
import os

import numpy as np
from absl import logging

from zoo.data import sources

HEADER_FIELDS = {"label", "labels", "sentiment", "class", "target", "y"}
TEXT_SUFFIXES = (".tsv", ".csv", ".txt")
SINGLE_FILE_TEST_FRACTION = 0.1
TFDS_CLASS_NAMES = {"imdb_reviews": ["neg", "pos"]}


class MalformedRowError(ValueError):
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


def _numbered_rows(path, f, delimiter):
    """`(line number, fields)` per row of the open text file `f`.

    A CSV row is numbered by its first line (a quoted field may span
    lines).
    """
    if delimiter == "\t":
        for number, line in enumerate(f, start=1):
            yield number, line.rstrip("\r\n").split("\t")
        return
    ended = []  # Set once the reader asks for a line past the last.

    def lines():
        yield from f
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
        yield number, row


def read_rows(path, skip_bad_rows=False):
    """`(labels, texts)` lists from a `label<sep>text` file, and rows skipped.

    The separator is a tab for `.tsv` and `.txt`, a comma for `.csv`
    (with CSV quoting); separators after the first belong to the text.
    An empty file gives no rows.

    Raises:
        MalformedRowError: A malformed row (unless `skip_bad_rows`), or a
            file that cannot be read as rows (see the module docstring).
    """
    delimiter = "," if path.lower().endswith(".csv") else "\t"
    labels, texts, skipped = [], [], 0
    _check_not_utf16(path)
    # utf-8-sig: drop the byte order mark some editors (Excel) write first.
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
        for number, row in _numbered_rows(path, f, delimiter):
            if not "".join(row).strip():
                continue  # Blank line.
            label = row[0].strip()
            problem = None
            if any("\x00" in field for field in row):
                problem = _NUL_PROBLEM
            elif len(row) < 2:
                problem = f"expected `label{delimiter!r}text`, found 1 field"
            elif not label:
                problem = "empty label"
            if problem:
                if not skip_bad_rows:
                    raise MalformedRowError(
                        f"{path}:{number}: {problem}; fix the row or pass "
                        "--skip_bad_rows to skip such rows"
                    )
                skipped += 1
                continue
            if number == 1 and label.lower() in HEADER_FIELDS:
                continue  # Header.
            labels.append(label)
            texts.append(delimiter.join(row[1:]))
    if skipped:
        logging.warning("Skipped %d malformed rows of %s", skipped, path)
    return labels, texts, skipped


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


def _read_class_folders(directory):
    labels, texts = [], []
    for name in sorted(os.listdir(directory)):
        folder = os.path.join(directory, name)
        if os.path.isdir(folder):
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
                texts.append(text)
                labels.append(name)
    return labels, texts


def _read_some_rows(path, skip_bad_rows):
    """`read_rows`, but a file without rows is a `MalformedRowError`."""
    labels, texts, skipped = read_rows(path, skip_bad_rows)
    if not labels:
        delimiter = "," if path.lower().endswith(".csv") else "\t"
        why = (
            f"all {skipped} were malformed and skipped" if skipped
            else "the file is empty, or blank but for a header"
        )
        raise MalformedRowError(
            f"{path}: no `label{delimiter!r}text` rows; {why}"
        )
    return labels, texts, skipped


def _splits(train, test, source, skipped=0):
    (train_labels, train_texts), (test_labels, test_texts) = train, test
    names = class_names_of(train_labels)
    unknown = set(test_labels) - set(names)
    if unknown:
        raise ValueError(
            f"{source}: test labels {sorted(unknown)} never occur in training"
        )
    if len(names) < 2:
        raise ValueError(
            f"{source}: found {len(names)} class(es) {names}; a classifier "
            "needs at least two"
        )
    index = {name: i for i, name in enumerate(names)}
    return Splits(
        np.array(train_texts, dtype=object),
        np.array([index[x] for x in train_labels], dtype=np.int64),
        np.array(test_texts, dtype=object),
        np.array([index[x] for x in test_labels], dtype=np.int64),
        class_names=names,
        source=source,
        skipped_rows=skipped,
    )


def load_local(path, skip_bad_rows=False, seed=0):
    """Loads a local file or folder (see the module docstring).

    Raises:
        FileNotFoundError: `path` does not exist, or is a folder in neither
            layout.
        MalformedRowError: A malformed file or row (see `read_rows`), or a
            file without rows.
        ValueError: Fewer than two classes, or test labels that never occur
            in training.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} does not exist")
    if os.path.isfile(path):
        labels, texts, skipped = _read_some_rows(path, skip_bad_rows)
        order = np.random.default_rng(seed).permutation(len(labels))
        count = max(1, int(round(len(labels) * SINGLE_FILE_TEST_FRACTION)))
        test, train = order[:count], order[count:]
        pick = lambda idx: ([labels[i] for i in idx], [texts[i] for i in idx])
        return _splits(
            pick(train), pick(test),
            f"{path} (test: a fixed {SINGLE_FILE_TEST_FRACTION:.0%} of rows)",
            skipped,
        )
    train_dir = os.path.join(path, "train")
    test_dir = os.path.join(path, "test")
    if os.path.isdir(train_dir) and os.path.isdir(test_dir):
        train = _read_class_folders(train_dir)
        test = _read_class_folders(test_dir)
        shared = set(train[0]) & set(test[0])
        keep = lambda pair: tuple(
            zip(*[(l, t) for l, t in zip(*pair) if l in shared])
        ) or ((), ())
        return _splits(keep(train), keep(test), f"class folders in {path}")
    train_file = _find_split_file(path, "train")
    test_file = _find_split_file(path, "test")
    if train_file and test_file:
        *train, skipped_train = _read_some_rows(train_file, skip_bad_rows)
        *test, skipped_test = _read_some_rows(test_file, skip_bad_rows)
        return _splits(
            train, test, f"{train_file} and {test_file}",
            skipped_train + skipped_test,
        )
    raise FileNotFoundError(
        f"{path} holds neither train.tsv/.csv/.txt and test.tsv/.csv/.txt "
        "files of `label, text` rows nor train/<class>/*.txt and "
        "test/<class>/*.txt folders (the aclImdb layout)"
    )


def load(data, tfds_data_dir=None, skip_bad_rows=False, seed=0):
    """Loads labelled texts from a local path or a tensorflow-datasets name.

    Raises:
        sources.DataUnavailableError: A tfds name that cannot be had here;
            the message says how to provide local data.
        MalformedRowError, FileNotFoundError, ValueError: Bad local data.
    """
    if sources.is_local(data):
        return load_local(os.path.expanduser(data), skip_bad_rows, seed)
    (train_x, train_y), (test_x, test_y) = sources.load_tfds(
        data, ["train", "test"], data_dir=tfds_data_dir,
        local_hint="For text classification, --data may also be a .tsv/.csv "
        "file of `label<TAB>text` rows, a folder with train.tsv and "
        "test.tsv, or an aclImdb-style folder.",
    )
    names = TFDS_CLASS_NAMES.get(data) or [
        str(i) for i in range(int(max(train_y.max(), test_y.max())) + 1)
    ]
    decode = np.vectorize(lambda b: b.decode("utf-8", "replace"), otypes=[object])
    return Splits(
        decode(train_x), train_y.astype(np.int64),
        decode(test_x), test_y.astype(np.int64),
        class_names=names, source=f"tensorflow-datasets {data}",
    )
