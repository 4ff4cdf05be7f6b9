"""Tagged sentences for the tagger: CoNLL column files or tensorflow-datasets.

`load(data)` returns train, dev and test sentences as lists of token strings
with lists of tag strings of the same lengths, and says where they came from;
`stream(data, folder)` gives the same sentences as datasets that read them
from TFRecord files it writes in `folder`.
`--data` may be:

* `conll2003`, the tensorflow-datasets CoNLL-2003 English data; `tfds_tags`
  picks its `ner`, `pos` or `chunks` tags, whose integer ids become the tag
  names of the dataset's `ClassLabel` feature;
* a folder of CoNLL column files: `train`, `dev` (or `valid`,
  `validation`) and `test`, each bare or ending in `.conll`, `.txt` or
  `.tsv`, or the CoNLL-2003 names `eng.train`, `eng.testa` (dev) and
  `eng.testb` (test). The dev file is optional.

A column file holds one token a line, with its columns separated by a tab
when the line holds one, otherwise by runs of spaces (the CoNLL-2003
layout `EU NNP B-NP B-ORG`); every token line has as many columns as the
first. Column 0 is the token, `tag_column` (a Python index, -1 = the last
column) the tag; a `"` is a token like any other (no quoting), and a tab
at the end of a line makes an empty last column (with `tag_column=-1`,
an empty tag). Lines end at "\\n" or "\\r\\n" (or, in a file without
"\\n", at a lone "\\r": classic Mac line ends); a UTF-8 byte order mark
is dropped. A blank line ends a sentence; `-DOCSTART-` lines are skipped
and end a sentence too. A line that cannot be read (too few columns, or
another number than the first token line, an empty token or tag, bytes
that are not UTF-8, a NUL byte, a lone carriage return inside it, which
no token holds) is an error that names the file and line.
"""

import dataclasses
import numbers
import os
import re
import tempfile

import tensorflow as tf

from zoo import errors
from zoo.data import records
from zoo.data import sources

TFDS_NAMES = ("conll2003",)
TFDS_TAGS = ("ner", "pos", "chunks")
TFDS_SPLITS = ("train", "dev", "test")
DOCSTART = "-DOCSTART-"
SUFFIXES = ("", ".conll", ".txt", ".tsv")
# File names each split may have, in a folder; matched ignoring case.
SPLIT_FILES = {
    "train": tuple("train" + s for s in SUFFIXES) + ("eng.train",),
    "dev": tuple(
        stem + s for stem in ("dev", "valid", "validation") for s in SUFFIXES
    ) + ("eng.testa",),
    "test": tuple("test" + s for s in SUFFIXES) + ("eng.testb",),
}
REQUIRED_SPLITS = ("train", "test")
# ASCII whitespace only: str.split() would also split at a no-break space
# inside a token.
_WHITESPACE = " \t\n\r\f\v"
_SPACES = re.compile(f"[{_WHITESPACE}]+")


class MalformedLineError(errors.DataError):
    """A line of a column file is malformed; the message names file and line."""


@dataclasses.dataclass
class Splits:
    """Sentences as lists of tokens, and their tags, per split.

    `*_tokens` and `*_tags` are lists of sentences; a sentence is a list of
    `str` tokens and its tags a list of `str` tag names of the same length.
    The dev lists are empty when the data has no dev split.
    """

    train_tokens: list
    train_tags: list
    dev_tokens: list
    dev_tags: list
    test_tokens: list
    test_tags: list
    source: str


def _check_tag_column(tag_column):
    if (isinstance(tag_column, bool)
            or not isinstance(tag_column, numbers.Integral) or tag_column == 0):
        raise errors.ConfigError(
            "Received an invalid value for argument `tag_column`, expected a "
            "nonzero integer column index (column 0 holds the token; -1 is "
            f"the last column), got {tag_column!r}"
        )


def _columns_needed(tag_column):
    """How many columns a line needs for a token and a distinct tag column."""
    return tag_column + 1 if tag_column > 0 else 1 - tag_column


def _reject_other_encodings(path, first_line):
    """Raises if `first_line` starts with a UTF-16 or UTF-32 byte order
    mark."""
    problem = sources.foreign_bom(first_line)
    if problem:
        raise MalformedLineError(f"{path}:1: {problem}")


def _malformed(path, number, line, problem):
    """The `MalformedLineError` for `problem` on line `number`, shown."""
    shown = line if len(line) <= 60 else line[:57] + "..."
    return MalformedLineError(f"{path}:{number}: {problem}: {shown!r}")


def iter_conll(path, tag_column=-1):
    """Yields the sentences of a CoNLL column file as it reads them.

    Args:
        path: A UTF-8 text file (a byte order mark and CRLF or classic
            Mac line ends are fine) in the layout of the module docstring.
        tag_column: Index of the tag column, as a Python index into a line's
            columns: 1 is the second column, -1 the last. Column 0 is the
            token and cannot be the tag.

    Yields:
        `(tokens, tags)` per sentence: two lists of `str` of one length.
        A file without sentences yields nothing.

    Raises:
        ValueError: `tag_column` is 0 or not an integer.
        MalformedLineError: A line has fewer columns than `tag_column`
            needs or another number than the file's first token line, an
            empty token or tag (a trailing tab, with `tag_column=-1`), a
            NUL byte or a lone carriage return inside it, or is not valid
            UTF-8 (the file may be UTF-16); the message starts with
            `path:line:`.
    """
    _check_tag_column(tag_column)
    tag_column = int(tag_column)
    needed = _columns_needed(tag_column)
    tokens, tags = [], []
    width = None  # (columns, line) of the first token line.

    # Binary, so that only "\n" ends a line (a stray "\r" inside a line
    # is no line break but an error; see `sources.numbered_lines`) and a
    # bad byte can be placed on its line.
    with open(path, "rb") as f:
        for number, raw in sources.numbered_lines(f):
            if number == 1:
                _reject_other_encodings(path, raw)
            line, problem = sources.decode_line(raw, number)
            if problem:
                raise MalformedLineError(f"{path}:{number}: {problem}")
            line = line.rstrip("\r\n")
            if not line.strip(_WHITESPACE):  # A blank line ends a sentence.
                if tokens:
                    yield tokens, tags
                    tokens, tags = [], []
                continue
            if "\r" in line.strip(_WHITESPACE):
                # Lines end at "\n": this "\r" would be part of a column.
                raise _malformed(
                    path, number, line, "carriage return (\\r) inside the "
                    "line; lines end at \\n or \\r\\n, and no token or tag "
                    "holds a \\r"
                )
            if "\t" in line:
                columns = [c.strip(" ") for c in line.split("\t")]
            else:
                columns = _SPACES.split(line.strip(_WHITESPACE))
            if columns[0] == DOCSTART:
                if tokens:
                    yield tokens, tags
                    tokens, tags = [], []
                continue
            problem = None
            if len(columns) < needed:
                problem = (
                    f"expected at least {needed} columns (a token and the "
                    f"tag in tag_column={tag_column}), found {len(columns)}"
                )
            elif not columns[0]:
                problem = "empty token in column 0"
            elif not columns[tag_column]:
                problem = f"empty tag in tag_column={tag_column}"
            elif width and len(columns) != width[0]:
                problem = (
                    f"{len(columns)} columns, but line {width[1]} has "
                    f"{width[0]}; every token line needs the same columns"
                )
            if problem:
                raise _malformed(path, number, line, problem)
            if not width:
                width = (len(columns), number)
            tokens.append(columns[0])
            tags.append(columns[tag_column])
    if tokens:
        yield tokens, tags


def read_conll(path, tag_column=-1):
    """The sentences of a CoNLL column file (see `iter_conll`).

    Returns:
        `(tokens, tags)`: lists of sentences, each a list of `str`, with
        `len(tokens[i]) == len(tags[i])`. Both are empty for a file without
        sentences.
    """
    _check_tag_column(tag_column)
    sentences = list(iter_conll(path, tag_column))
    return [t for t, _ in sentences], [t for _, t in sentences]


def _find_split_files(directory):
    """`{split: path or None}` for `directory` (names in `SPLIT_FILES`)."""
    files = [
        name for name in sorted(os.listdir(directory))
        if os.path.isfile(os.path.join(directory, name))
    ]
    found, missing = {}, []
    for split, candidates in SPLIT_FILES.items():
        matches = [name for name in files if name.lower() in candidates]
        if len(matches) > 1:
            raise errors.DataError(
                f"{directory} holds {len(matches)} {split} files "
                f"({', '.join(matches)}); keep one"
            )
        found[split] = os.path.join(directory, matches[0]) if matches else None
        if not matches and split in REQUIRED_SPLITS:
            missing.append(
                f"no {split} file (looked for {', '.join(candidates)})"
            )
    if missing:
        raise errors.DataNotFoundError(
            f"{directory} holds {' and '.join(missing)}; names are matched "
            "ignoring case"
        )
    return found


def _split_files(directory, tag_column):
    """`{split: path or None}` of a folder, after its checks."""
    _check_tag_column(tag_column)
    if os.path.isfile(directory):
        raise errors.DataError(
            f"{directory} is a file; tagging data is a folder holding train, "
            "test and optionally dev files in CoNLL column format (such as "
            "train.txt, dev.txt, test.txt)"
        )
    if not os.path.isdir(directory):
        raise errors.DataNotFoundError(f"no such file or folder: {directory}")
    return _find_split_files(directory)


def _local_readers(directory, tag_column):
    """`(source, {split: (sentences or None, error if empty)})` of a folder.

    `sentences` is an `iter_conll` generator (None for a missing dev
    file); `error if empty` is what to raise when a required split yields
    no sentence.
    """
    paths = _split_files(directory, tag_column)
    names = ", ".join(os.path.basename(p) for p in paths.values() if p)
    return f"local {directory} ({names})", {
        split: (
            iter_conll(path, tag_column) if path else None,
            ValueError(
                f"{path}: no sentences; expected one `token<TAB>tag` (or "
                "space-separated) line per token and a blank line after "
                "each sentence"
            ),
        )
        for split, path in paths.items()
    }


def _tfds_readers(data, tfds_tags, tfds_data_dir):
    """`_local_readers` for a tensorflow-datasets name."""
    if data not in TFDS_NAMES and sources.looks_like_path(data):
        raise errors.DataNotFoundError(f"no such file or folder: {data}")
    if data not in TFDS_NAMES:
        raise errors.DataNotFoundError(
            f"--data={data!r} is neither an existing folder nor a supported "
            f"tensorflow-datasets name (supported: {', '.join(TFDS_NAMES)})"
        )
    datasets = sources.tfds_datasets(
        data, TFDS_SPLITS, data_dir=tfds_data_dir, as_supervised=False,
        local_hint="For tagging, --data may also be a folder of CoNLL "
        "column files: train.txt, test.txt and optionally dev.txt, one "
        "`token<TAB>tag` line per token, a blank line after each sentence.",
    )
    import tensorflow_datasets as tfds

    info = tfds.builder(data, data_dir=tfds_data_dir).info
    tag_names = list(info.features[tfds_tags].names)
    source = f"tensorflow-datasets {data} ({tfds_tags})"
    readers = {}
    for split, dataset in zip(TFDS_SPLITS, datasets):
        where = f"{source} {split} split"
        readers[split] = (_iter_tfds(dataset, tag_names, tfds_tags, where),
                          ValueError(f"{where}: no sentences"))
    return source, readers


def _readers(data, tag_column, tfds_tags, tfds_data_dir):
    """`_local_readers` of a folder or `_tfds_readers` of a name."""
    _check_tag_column(tag_column)
    if tfds_tags not in TFDS_TAGS:
        raise ValueError(
            "Received an invalid value for argument `tfds_tags`, expected one "
            f"of {', '.join(TFDS_TAGS)}, got {tfds_tags!r}"
        )
    if sources.is_local(data):
        return _local_readers(os.path.expanduser(data), tag_column)
    return _tfds_readers(data, tfds_tags, tfds_data_dir)


def _iter_tfds(dataset, tag_names, tfds_tags, where):
    """Decoded `(tokens, tags)` of each conll2003 feature dict of `dataset`."""
    for index, example in enumerate(dataset.as_numpy_iterator()):
        tokens = [t.decode("utf-8", "replace") for t in example["tokens"]]
        ids = example[tfds_tags]
        if len(tokens) != len(ids):
            raise ValueError(
                f"{where}, example {index}: {len(tokens)} tokens but "
                f"{len(ids)} {tfds_tags!r} tags"
            )
        tags = []
        for i in ids:
            if not 0 <= i < len(tag_names):
                raise ValueError(
                    f"{where}, example {index}: tag id {int(i)} is outside "
                    f"the {len(tag_names)} {tfds_tags!r} tag names"
                )
            tags.append(tag_names[i])
        yield tokens, tags


def load(data, tag_column=-1, tfds_tags="ner", tfds_data_dir=None):
    """The sentences `stream` gives, as lists in memory: `stream`'s own
    code path, its records written to a temporary folder and read back.

    Returns:
        A `Splits` (the dev lists are empty without a dev split).

    Raises:
        As `stream`.
    """
    with tempfile.TemporaryDirectory() as folder:
        streams = stream(data, folder, tag_column, tfds_tags, tfds_data_dir)
        dev = as_lists(streams.dev) if streams.dev is not None else ([], [])
        return Splits(*as_lists(streams.train), *dev,
                      *as_lists(streams.test), source=streams.source)


@dataclasses.dataclass
class Streams:
    """Sentences read from disk as they are used, per split.

    `train`, `dev` and `test` are datasets of `(tokens [n], tags [n])`
    string vectors (`dev` is None without a dev file, and empty for one
    without sentences); `tag_names` are
    the tags of every split, sorted; `longest` is the token count of the
    longest sentence.
    """

    train: tf.data.Dataset
    train_size: int
    dev: tf.data.Dataset
    dev_size: int
    test: tf.data.Dataset
    test_size: int
    tag_names: list
    longest: int
    source: str


COLUMNS = {"tokens": records.Column("string", sequence=True),
           "tags": records.Column("string", sequence=True)}


def stream(data, folder, tag_column=-1, tfds_tags="ner", tfds_data_dir=None):
    """Streams tagged sentences from a local folder or tensorflow-datasets.

    Every split is read once, with its checks, into a TFRecord file in
    `folder`; the sentences then stream from there. What stays in memory
    is the tag set and each split's size.

    Args:
        data: A folder of CoNLL column files (`~` is expanded) or a
            tensorflow-datasets name (only `"conll2003"`).
        folder: Where the TFRecord files are written.
        tag_column: For local files: index of the tag column (see
            `read_conll`).
        tfds_tags: For tensorflow-datasets: which tags, one of `TFDS_TAGS`.
        tfds_data_dir: For tensorflow-datasets: folder of prepared data;
            `None` for the default one.

    Returns:
        A `Streams`, each split in its order.

    Raises:
        ValueError: A bad argument, an empty train or test split, or examples whose tokens and tags
            differ in length; `tag_column` is 0 or not an integer; two
            files claim the same split.
        sources.DataUnavailableError: The tensorflow-datasets data is not on
            disk and cannot be downloaded here; the message says how to
            provide local data.
        zoo.errors.DataNotFoundError: The folder does not exist, or holds
            no train or no test file (the message lists the names looked
            for); `data` is no path and no supported tfds name.
        zoo.errors.DataError: `data` is a file (a ValueError).
        MalformedLineError: A malformed line (see `read_conll`).
    """
    source, readers = _readers(data, tag_column, tfds_tags, tfds_data_dir)
    tally, found = _Tally(), {}
    for split, (sentences, empty) in readers.items():
        if sentences is None:
            found[split] = None, 0
            continue
        path = os.path.join(folder, f"{split}.tfrecord")
        count = records.write(path, tally.rows(sentences), COLUMNS,
                              what="sentences")
        if split in REQUIRED_SPLITS and not count:
            raise empty
        found[split] = records.read(path, COLUMNS, count).map(
            lambda row: (row["tokens"], row["tags"])), count
    return Streams(*found["train"], *found["dev"], *found["test"],
                   tag_names=sorted(tally.tags), longest=tally.longest,
                   source=source)


class _Tally:
    """What streaming keeps of a corpus: its tag set and longest sentence."""

    def __init__(self):
        self.tags = set()
        self.longest = 0

    def rows(self, sentences):
        """`records` rows of `(tokens, tags)` sentences, tallied as they
        pass."""
        for tokens, tags in sentences:
            self.tags.update(tags)
            self.longest = max(self.longest, len(tokens))
            yield {"tokens": tokens, "tags": tags}


def as_lists(sentences):
    """A dataset of `(tokens, tags)` sentences as two lists of lists of str
    (bytes that are not UTF-8 read as U+FFFD)."""
    tokens, tags = [], []
    for words, labels in sentences.as_numpy_iterator():
        tokens.append([w.decode("utf-8", "replace") for w in words])
        tags.append([t.decode("utf-8", "replace") for t in labels])
    return tokens, tags


class TokenLists:
    """The tokens of a dataset of `(tokens, tags)` sentences, as lists of
    str, `CHUNK` sentences' tokens a list, read from the dataset anew by
    each iteration: what a vocabulary's `adapt` counts (where sentences end
    does not matter to it)."""

    CHUNK = 1024

    def __init__(self, sentences):
        self.sentences = sentences

    def __iter__(self):
        chunks = self.sentences.map(lambda tokens, tags: tokens).ragged_batch(
            self.CHUNK)
        for chunk in chunks:
            yield [t.decode("utf-8") for t in chunk.flat_values.numpy()]
