"""Sentence pairs for translation: tab-separated files or tensorflow-datasets.

`load(data)` returns source and target sentences for training and a
held-out test split, and says where they came from. `--data` may be:

* a file of pairs, one a line, `source<TAB>target[<TAB>attribution...]`
  (the Tatoeba/Anki layout; optionally gzipped). Blank lines are skipped
  and a UTF-8 byte order mark is dropped; a line with one column, an empty
  side, bytes that are not UTF-8 (or a UTF-16 file), a NUL byte or a
  carriage return that is not part of a line end, a truncated or corrupt
  gzip stream, and a file without pairs are errors naming the file (and
  line). A fixed random `test_size` pairs (per seed) are held out as the
  test split;
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
import zlib

import numpy as np

from zoo.data import sources


class MalformedPairError(ValueError):
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


def _numbered_lines(path):
    """`(number, bytes)` per line of `path`, gunzipped if it ends in `.gz`."""
    if not path.endswith(".gz"):
        with open(path, "rb") as f:
            yield from enumerate(f, start=1)
        return
    with gzip.open(path, "rb") as f:
        number = 0
        try:
            for number, raw in enumerate(f, start=1):
                yield number, raw
        # OSError: a bad gzip header or CRC; EOFError: a truncated stream;
        # zlib.error: corrupt compressed data.
        except (OSError, EOFError, zlib.error) as error:
            raise MalformedPairError(
                f"{path}:{number + 1}: cannot decompress ({error}); the gzip "
                "file is truncated or corrupt"
            ) from None


def read_pairs(path):
    """Reads `first<TAB>second[<TAB>...]` lines.

    Returns:
        `(firsts, seconds)`: two lists of str of equal length.

    Raises:
        MalformedPairError: A line with fewer than two columns, an empty
            side, bytes that are not UTF-8, a NUL byte or a carriage
            return inside it, or a truncated or corrupt gzip stream (the
            message says `path:line`); a UTF-16 file.
    """
    firsts, seconds = [], []
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
        if "\r" in line.strip():
            # Old Mac line ends would make the whole file one line.
            raise MalformedPairError(
                f"{path}:{number}: carriage return (\\r) inside the line; "
                "line ends must be \\n or \\r\\n, not a lone \\r: "
                f"{line[:60]!r}"
            )
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
        firsts.append(first)
        seconds.append(second)
    return firsts, seconds


def _short_enough(pairs, max_words):
    if not max_words:
        return pairs
    return [
        (s, t) for s, t in pairs
        if len(s.split()) <= max_words and len(t.split()) <= max_words
    ]


def load_local(path, reverse=False, max_words=None, test_size=1000, seed=0):
    """Loads a pairs file and holds out `test_size` pairs (see the module).

    Raises:
        MalformedPairError: A malformed file or line, or no pairs at all.
        ValueError: `path` is a folder, or fewer than `test_size + 1` pairs
            survive the filter.
    """
    if os.path.isdir(path):
        raise ValueError(
            f"{path} is a folder; expected a file of `source<TAB>target` lines"
        )
    firsts, seconds = read_pairs(path)
    if not firsts:
        raise MalformedPairError(
            f"{path}: no `source<TAB>target` lines; the file is empty or "
            "blank"
        )
    pairs = list(zip(seconds, firsts) if reverse else zip(firsts, seconds))
    pairs = _short_enough(pairs, max_words)
    if len(pairs) <= test_size:
        raise ValueError(
            f"{path}: {len(pairs)} pairs"
            + (f" of at most {max_words} words" if max_words else "")
            + f", expected more than test_size={test_size}"
        )
    order = np.random.default_rng(seed).permutation(len(pairs))
    test, train = order[:test_size], order[test_size:]
    return Splits(
        [pairs[i][0] for i in train], [pairs[i][1] for i in train],
        [pairs[i][0] for i in test], [pairs[i][1] for i in test],
        source=f"{path} (test: a fixed {test_size} pairs"
        + (f", at most {max_words} words a side" if max_words else "")
        + (", reversed" if reverse else "") + ")",
    )


def load(data, reverse=False, max_words=None, test_size=1000, seed=0,
         tfds_data_dir=None):
    """Loads sentence pairs from a local file or a tensorflow-datasets name.

    Raises:
        sources.DataUnavailableError: A tfds name that cannot be had here;
            the message says how to provide a local file.
        MalformedPairError, ValueError: Bad local data.
    """
    if sources.is_local(data):
        path = os.path.expanduser(data)
        return load_local(path, reverse, max_words, test_size, seed)
    train, test = sources.tfds_datasets(
        data, ["train", "test"], data_dir=tfds_data_dir,
        local_hint="For translation, --data may also be a file of "
        "`source<TAB>target` lines (the Tatoeba/Anki layout).",
    )

    def pairs(dataset):
        found = [
            (s.decode("utf-8", "replace"), t.decode("utf-8", "replace"))
            for s, t in dataset.as_numpy_iterator()
        ]
        if reverse:
            found = [(t, s) for s, t in found]
        found = _short_enough(found, max_words)
        return [s for s, _ in found], [t for _, t in found]

    return Splits(
        *pairs(train), *pairs(test),
        source=f"tensorflow-datasets {data}"
        + (" (reversed)" if reverse else ""),
    )
