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

A malformed row (fewer than two fields, or an empty label) is an error that
names the file and line, or, with `skip_bad_rows=True`, is skipped and
counted in the log.
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
    """A row of a local file is malformed; the message names file and line."""


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


def read_rows(path, skip_bad_rows=False):
    """`(labels, texts)` lists from a `label<sep>text` file, and rows skipped.

    The separator is a tab for `.tsv` and `.txt`, a comma for `.csv`
    (with CSV quoting); separators after the first belong to the text.
    """
    delimiter = "," if path.lower().endswith(".csv") else "\t"
    labels, texts, skipped = [], [], 0
    # utf-8-sig: drop the byte order mark some editors (Excel) write first.
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
        if delimiter == ",":
            rows = csv.reader(f)
        else:
            rows = (line.rstrip("\r\n").split("\t") for line in f)
        end = 0
        for number, row in enumerate(rows, start=1):
            if delimiter == ",":
                # A quoted field may span lines: name the row's first line.
                number, end = end + 1, rows.line_num
            if not "".join(row).strip():
                continue  # Blank line.
            label = row[0].strip()
            problem = None
            if len(row) < 2:
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
        if p.lower().endswith(TEXT_SUFFIXES)
    )
    return matches[0] if matches else None


def _read_class_folders(directory):
    labels, texts = [], []
    for name in sorted(os.listdir(directory)):
        folder = os.path.join(directory, name)
        if os.path.isdir(folder):
            for path in sorted(glob.glob(os.path.join(glob.escape(folder), "*.txt"))):
                with open(path, encoding="utf-8", errors="replace") as f:
                    texts.append(f.read())
                labels.append(name)
    return labels, texts


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
    """Loads a local file or folder (see the module docstring)."""
    if os.path.isfile(path):
        labels, texts, skipped = read_rows(path, skip_bad_rows)
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
        *train, skipped_train = read_rows(train_file, skip_bad_rows)
        *test, skipped_test = read_rows(test_file, skip_bad_rows)
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
