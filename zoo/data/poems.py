"""Texts for character language models: poems or windows of running text.

`load(data)` returns training and held-out test texts and says whether
each is a whole poem (a sequence with begin and end markers) or a window
of running text. `--data` may be:

* poems in the chinese-poetry project's schema, one JSON object
  `{"title", "author", "paragraphs": [lines]}` per poem: a `.json` file (a
  list of objects, or one object), a `.jsonl` file (an object a line),
  either optionally gzipped (`.json.gz`, `.jsonl.gz`), or a folder of such
  files (not its subfolders; files without any poem, such as the
  project's `authors.*.json`, are skipped with a warning). A poem's text is
  its paragraphs joined; poems without a letter or digit (the corpus has
  poems that are only "。", where the text is lost) are skipped; a fixed
  random `test_size` poems are held out;
* a plain UTF-8 `.txt` file (optionally `.txt.gz`): running text cut into
  windows of `window` characters; the last `test_size` windows are held
  out (a contiguous tail, so no test window borders a training window on
  both sides);
* `tiny_shakespeare` (or another tensorflow-datasets dataset with a
  `text` feature and train and test splits): windows of each split.

Malformed input is an error naming the file and the line (or, in a
`.json` list, the poem's index): bytes that are not UTF-8 (or a UTF-16
file), a NUL byte, a truncated or corrupt gzip stream, a line or file that
is not JSON (or nested too deeply to parse), an object without a
`paragraphs` list of strings, a file with no text. A UTF-8 byte order mark
is dropped.
"""

import dataclasses
import gzip
import json
import os
import re
import unicodedata
import zlib

import numpy as np
from absl import logging

from zoo import utils
from zoo.data import sources

POEM_SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz")
TEXT_SUFFIXES = (".txt", ".txt.gz")
# What ends a line of a .jsonl file. Not str.splitlines(), which also
# splits at U+2028, U+0085 and other characters that JSON strings may hold
# unescaped.
_LINE_END = re.compile(r"\r\n|\r|\n")


class MalformedTextError(ValueError):
    """A poems or text file is malformed; the message names file and line."""


class NoPoemsError(MalformedTextError):
    """A JSON file holds no object with `paragraphs` (not a poems file)."""


@dataclasses.dataclass
class Corpus:
    """Training and test texts (lists of str).

    `poems` is True when every text is a whole poem (begin and end markers
    belong to it), False for windows of running text.
    """

    train: list
    test: list
    poems: bool
    source: str


def _read_utf8(path):
    """The text of `path` (gunzipped if it ends in `.gz`), without a BOM."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        try:
            raw = f.read()
        # OSError: a bad gzip header or CRC; EOFError: a truncated stream;
        # zlib.error: corrupt compressed data.
        except (OSError, EOFError, zlib.error) as error:
            if opener is open:
                raise
            raise MalformedTextError(
                f"{path}: cannot decompress ({error}); the gzip file is "
                "truncated or corrupt"
            ) from None
    problem = sources.foreign_bom(raw)
    if problem:
        raise MalformedTextError(f"{path}: {problem}")
    if b"\x00" in raw:
        start = raw.index(0)
        line = raw[:start].count(b"\n") + 1
        raise MalformedTextError(
            f"{path}:{line}: NUL byte at byte {start} (binary data or UTF-16 "
            "text?); save the file as UTF-8"
        )
    try:
        # utf-8-sig: drop the byte order mark some editors write.
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        raise MalformedTextError(
            f"{path}:{line}: not UTF-8 ({error.reason} at byte {error.start})"
        ) from None


def _parse_json(text, where, lineno=True):
    """`json.loads(text)`; errors name `where` (and the line, if `lineno`)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        at = f"{where}:{error.lineno}" if lineno else where
        raise MalformedTextError(f"{at}: not JSON ({error.msg})") from None
    except RecursionError:
        raise MalformedTextError(
            f"{where}: JSON nested too deeply to read"
        ) from None


def _poem_text(record, where):
    """The joined paragraphs of one poem object."""
    paragraphs = record.get("paragraphs") if isinstance(record, dict) else None
    if not isinstance(paragraphs, list) or not all(
        isinstance(p, str) for p in paragraphs
    ):
        raise MalformedTextError(
            f"{where}: expected a poem object with a `paragraphs` list of "
            f"strings, got {str(record)[:80]!r}"
        )
    return "".join(p.strip() for p in paragraphs)


def _has_words(text):
    """True if `text` holds a letter or a digit."""
    return any(unicodedata.category(c)[0] in "LN" for c in text)


def read_poems(path):
    """Reads poems from a chinese-poetry JSON/JSONL file (see the module).

    Returns:
        The poems' texts (paragraphs joined); poems without a letter or
        digit (empty, or punctuation only) are skipped.

    Raises:
        NoPoemsError: Records, none of them a poem (a `MalformedTextError`).
        MalformedTextError: A truncated or corrupt gzip stream, bytes
            that are not UTF-8 (or UTF-16), a NUL byte, invalid or too
            deeply nested JSON, an object without `paragraphs` among
            poems, or no poem with text (an empty file).
    """
    text = _read_utf8(path)
    if not text.strip():
        raise MalformedTextError(
            f"{path}: no poem with any text (the file is empty or blank)"
        )
    records = []  # (record, where)
    if path.endswith((".jsonl", ".jsonl.gz")):
        for number, line in enumerate(_LINE_END.split(text), start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            records.append((_parse_json(line, where, lineno=False), where))
    else:
        records = _parse_json(text, path)
        if isinstance(records, dict):
            records = [records]
        if not isinstance(records, list):
            raise MalformedTextError(
                f"{path}: expected a list of poem objects, got "
                f"{type(records).__name__}"
            )
        records = [(r, f"{path}: poem {i}") for i, r in enumerate(records)]
    if records and not any(
        isinstance(r, dict) and "paragraphs" in r for r, _ in records
    ):
        raise NoPoemsError(
            f"{path}: no poem object (with `paragraphs`) in "
            f"{len(records)} records"
        )
    poems = [_poem_text(r, where) for r, where in records]
    poems = [p for p in poems if _has_words(p)]
    if not poems:
        raise MalformedTextError(f"{path}: no poem with any text")
    return poems


def read_text(path):
    """Reads a UTF-8 text file; raises `MalformedTextError` if it is empty."""
    text = _read_utf8(path)
    if not text.strip():
        raise MalformedTextError(f"{path}: no text")
    return text


def windows(text, size):
    """Cuts `text` into consecutive windows of `size` characters.

    A last piece shorter than `size` is kept if it holds any character.

    >>> windows("abcdefg", 3)
    ['abc', 'def', 'g']
    """
    size = utils.check_positive_int("window", size)
    return [text[i:i + size] for i in range(0, len(text), size)]


def read_folder(folder):
    """The poems of every poem file in `folder` (see the module)."""
    names = sorted(
        name for name in os.listdir(folder)
        if name.endswith(POEM_SUFFIXES)
        and os.path.isfile(os.path.join(folder, name))
    )
    texts = []
    for name in names:
        try:
            texts.extend(read_poems(os.path.join(folder, name)))
        except NoPoemsError as error:
            logging.warning("Skipping %s", error)
    if not texts:
        raise ValueError(
            f"{folder} holds no poem files (expected "
            + ", ".join(POEM_SUFFIXES) + " files with poem objects)"
        )
    return texts


def load_local(path, test_size=2000, window=128, max_chars=0, seed=0):
    """Loads poems or a text file and holds out the test split.

    Args:
        path: A poems file or folder, or a `.txt` file (see the module).
        test_size: Positive integer, poems (or windows) held out.
        window: Positive integer, characters per window of a text file.
        max_chars: Poems longer than this are dropped (0 = keep all).
        seed: Seed of the held-out poems.

    Raises:
        MalformedTextError: Malformed data.
        ValueError: An unknown file type, no more than `test_size` poems or
            windows, or a `test_size` or `window` that is not a positive
            integer.
    """
    test_size = utils.check_positive_int("test_size", test_size)
    if os.path.isdir(path):
        texts, poems = read_folder(path), True
    elif path.endswith(POEM_SUFFIXES):
        texts, poems = read_poems(path), True
    elif path.endswith(TEXT_SUFFIXES):
        texts, poems = windows(read_text(path), window), False
    else:
        raise ValueError(
            f"{path}: unknown file type; expected poems ("
            + ", ".join(POEM_SUFFIXES) + ") or text ("
            + ", ".join(TEXT_SUFFIXES) + ")"
        )
    what = "poems" if poems else f"windows of {window} characters"
    if poems and max_chars:
        texts = [t for t in texts if len(t) <= max_chars]
        what = f"poems of at most {max_chars} characters"
    if len(texts) <= test_size:
        raise ValueError(
            f"{path}: {len(texts)} {what}, expected more than "
            f"test_size={test_size}"
        )
    if poems:
        order = np.random.default_rng(seed).permutation(len(texts))
        test = [texts[i] for i in order[:test_size]]
        train = [texts[i] for i in order[test_size:]]
    else:
        train, test = texts[:-test_size], texts[-test_size:]
    return Corpus(train, test, poems,
                  source=f"{path} ({what}; test: {test_size})")


def load(data, test_size=2000, window=128, max_chars=0, seed=0,
         tfds_data_dir=None):
    """Loads texts from local files or a tensorflow-datasets name.

    Raises:
        sources.DataUnavailableError: A tfds name that cannot be had here;
            the message says how to provide local files.
        MalformedTextError, ValueError: Bad local data.
    """
    if sources.is_local(data):
        return load_local(os.path.expanduser(data), test_size, window,
                          max_chars, seed)
    train, test = sources.tfds_datasets(
        data, ["train", "test"], data_dir=tfds_data_dir, as_supervised=False,
        local_hint="For a character language model, --data may also be a "
        "chinese-poetry JSON/JSONL file or folder, or a .txt file.",
    )

    def split_windows(dataset):
        return [
            w for example in dataset.as_numpy_iterator()
            for w in windows(example["text"].decode("utf-8", "replace"),
                             window)
        ]

    return Corpus(split_windows(train), split_windows(test), poems=False,
                  source=f"tensorflow-datasets {data} (windows of {window} "
                  "characters)")
