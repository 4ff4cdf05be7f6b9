"""Texts for character language models: poems or windows of running text.

`stream(data, folder)` gives training and held-out test texts as datasets
of strings read from disk, and says whether each is a whole poem (a
sequence with begin and end markers) or a window of running text; local
files are read once, as their checks require, into a TFRecord file in
`folder` that the datasets stream (see `zoo.data.records`).
`load(data)` reads the same streams into lists in memory. `--data` may be:

* poems in the chinese-poetry project's schema, one JSON object
  `{"title", "author", "paragraphs": [lines]}` per poem: a `.json` file (a
  list of objects, or one object), a `.jsonl` file (an object a line;
  lines end at "\\n" or "\\r\\n", or, in a file without "\\n", at a lone
  "\\r": a lone "\\r" inside a line is JSON whitespace, or an error inside
  a string), either optionally gzipped (`.json.gz`, `.jsonl.gz`), or a
  folder of such files (not its subfolders; files without any poem, such
  as the project's `authors.*.json`, are skipped with a warning). A
  poem's text is its paragraphs joined; poems without a letter or digit
  (the corpus has poems that are only "。", where the text is lost) are
  skipped; a fixed random `test_size` poems are held out;
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
is dropped; a JSON escape of half a surrogate pair (`"\\ud800"`) becomes
U+FFFD. A file is read a megabyte at a time, each checked for NUL
bytes before it is decoded: of several problems, the earliest megabyte
with one decides which is named.
"""

import codecs
import dataclasses
import gzip
import json
import os
import re
import tempfile
import unicodedata
import zlib

import numpy as np
import tensorflow as tf
from absl import logging

from zoo import errors
from zoo import utils
from zoo.data import pipeline
from zoo.data import records
from zoo.data import sources

POEM_SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz")
TEXT_SUFFIXES = (".txt", ".txt.gz")
# Bytes read from a file at a time.
READ_SIZE = 1 << 20
# The one column of the TFRecord file `stream` writes.
COLUMNS = {"text": records.Column("string")}


class MalformedTextError(errors.DataError):
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


@dataclasses.dataclass
class Streams:
    """Training and test texts, streamed from disk as they are used.

    `train` and `test` are datasets of scalar strings (UTF-8), each in the
    order of its source, with their cardinality known; `train_size` and
    `test_size` count them. `poems` and `source` are `Corpus`'.
    """

    train: tf.data.Dataset
    train_size: int
    test: tf.data.Dataset
    test_size: int
    poems: bool
    source: str


def _utf8_pieces(path):
    """The text of `path` (gunzipped if it ends in `.gz`), without a BOM,
    decoded `READ_SIZE` bytes at a time.

    Raises:
        MalformedTextError: A truncated or corrupt gzip stream, a UTF-16
            or UTF-32 byte order mark, a NUL byte, or bytes that are not
            UTF-8, the first of these in the file; the message names the
            line and the byte.
    """
    opener = gzip.open if path.endswith(".gz") else open
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = lines = 0  # Bytes and line ends before `chunk`.
    started = False  # Whether any text was decoded (a BOM comes first).
    with opener(path, "rb") as f:
        while True:
            try:
                chunk = f.read(READ_SIZE)
            # OSError: a bad gzip header or CRC; EOFError: a truncated
            # stream; zlib.error: corrupt compressed data.
            except (OSError, EOFError, zlib.error) as error:
                if opener is open:
                    raise
                raise MalformedTextError(
                    f"{path}: cannot decompress ({error}); the gzip file is "
                    "truncated or corrupt"
                ) from None
            if not offset:
                problem = sources.foreign_bom(chunk)
                if problem:
                    raise MalformedTextError(f"{path}: {problem}")
            if b"\x00" in chunk:
                start = chunk.index(0)
                line = lines + chunk[:start].count(b"\n") + 1
                raise MalformedTextError(
                    f"{path}:{line}: NUL byte at byte {offset + start} "
                    "(binary data or UTF-16 text?); save the file as UTF-8"
                )
            # Bytes of a character that the last chunk cut in two.
            carried = len(decoder.getstate()[0])
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as error:
                # Carried bytes hold no line end (they are >= 0x80).
                start = offset - carried + error.start
                line = lines + chunk[:max(start - offset, 0)].count(b"\n") + 1
                raise MalformedTextError(
                    f"{path}:{line}: not UTF-8 ({error.reason} at byte "
                    f"{start})"
                ) from None
            if text and not started:
                started = True
                # Drop the byte order mark some editors write.
                text = text.removeprefix("\ufeff")
            if text:
                yield text
            if not chunk:
                return
            offset += len(chunk)
            lines += chunk.count(b"\n")


def _read_utf8(path):
    """The text of `path` (gunzipped if it ends in `.gz`), without a BOM."""
    return "".join(_utf8_pieces(path))


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


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


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
    # A JSON escape of half a surrogate pair decodes to no character.
    text = "".join(p.strip() for p in paragraphs)
    return _LONE_SURROGATE.sub("\ufffd", text)


def _has_words(text):
    """True if `text` holds a letter or a digit."""
    return any(unicodedata.category(c)[0] in "LN" for c in text)


def _split_after_newlines(pieces):
    """The text that the strings `pieces` make, cut after each "\\n".

    Not `str.splitlines()`, which also splits at "\\r", U+2028, U+0085 and
    other characters that a JSON line may hold.
    """
    held = []  # The pieces of a line not yet ended.
    for piece in pieces:
        *ended, rest = piece.split("\n")
        for line in ended:
            held.append(line)
            yield "".join(held) + "\n"
            held = []
        held.append(rest)
    last = "".join(held)
    if last:
        yield last


def _lines(path):
    """`(number, line)` of a text file as it is read (see `_utf8_pieces`),
    without line ends; `sources.numbered_lines` says where lines end."""
    for number, line in sources.numbered_lines(
            _split_after_newlines(_utf8_pieces(path))):
        yield number, line.rstrip("\r\n")


def _records(path):
    """`(record, where)` of each JSON value of a poems file, as read.

    A `.jsonl` file is read a line at a time; a `.json` file is one JSON
    value, parsed whole (a list of records, or one record).

    Raises:
        MalformedTextError: As `read_poems`; a file of whitespace only.
    """
    blank = MalformedTextError(
        f"{path}: no poem with any text (the file is empty or blank)")
    if path.endswith((".jsonl", ".jsonl.gz")):
        empty = True
        for number, line in _lines(path):
            if line.strip():
                empty = False
                where = f"{path}:{number}"
                yield _parse_json(line, where, lineno=False), where
        if empty:
            raise blank
        return
    text = _read_utf8(path)
    if not text.strip():
        raise blank
    records = _parse_json(text, path)
    if isinstance(records, dict):
        records = [records]
    if not isinstance(records, list):
        raise MalformedTextError(
            f"{path}: expected a list of poem objects, got "
            f"{type(records).__name__}"
        )
    for i, record in enumerate(records):
        yield record, f"{path}: poem {i}"


def iter_poems(path):
    """Yields the poems of a chinese-poetry JSON/JSONL file as it reads it.

    See `read_poems`; a `.jsonl` file is read a line at a time.
    """
    poem_seen = words_seen = False
    others, first_other = 0, None  # Records before the first poem object.
    for record, where in _records(path):
        if not poem_seen:
            if not (isinstance(record, dict) and "paragraphs" in record):
                others += 1
                first_other = first_other or (record, where)
                continue
            poem_seen = True
            if first_other:
                # Among poem objects, the first other record is a
                # malformed poem: this raises, naming it.
                _poem_text(*first_other)
        poem = _poem_text(record, where)
        if _has_words(poem):
            words_seen = True
            yield poem
    if others and not poem_seen:
        raise NoPoemsError(
            f"{path}: no poem object (with `paragraphs`) in {others} records"
        )
    if not words_seen:
        raise MalformedTextError(f"{path}: no poem with any text")


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
    return list(iter_poems(path))


def _text_pieces(path):
    """`_utf8_pieces` of a text file; raises `MalformedTextError` at its
    end if it held no text but whitespace."""
    blank = True
    for piece in _utf8_pieces(path):
        blank = blank and piece.isspace()
        yield piece
    if blank:
        raise MalformedTextError(f"{path}: no text")


def read_text(path):
    """Reads a UTF-8 text file; raises `MalformedTextError` if it is empty."""
    return "".join(_text_pieces(path))


def _cut(pieces, size):
    """Consecutive windows of `size` characters of the text that the
    strings `pieces` make, as they come; a last piece shorter than `size`
    is kept if it holds any character."""
    rest = ""
    for piece in pieces:
        rest += piece
        whole = len(rest) - len(rest) % size
        for start in range(0, whole, size):
            yield rest[start:start + size]
        rest = rest[whole:]
    if rest:
        yield rest


def windows(text, size):
    """Cuts `text` into consecutive windows of `size` characters.

    A last piece shorter than `size` is kept if it holds any character.

    >>> windows("abcdefg", 3)
    ['abc', 'def', 'g']
    """
    size = utils.check_positive_int("window", size)
    return list(_cut([text], size))


def text_windows(path, size):
    """`windows` of the text file `path`, yielded as the file is read.

    Raises:
        ValueError: `size` is not a positive integer (at once).
        MalformedTextError: As `read_text` (as the windows are drawn).
    """
    size = utils.check_positive_int("window", size)
    return _cut(_text_pieces(path), size)


def _folder_poems(folder):
    """The poems of every poem file in `folder`, as they are read."""
    names = sorted(
        name for name in os.listdir(folder)
        if name.endswith(POEM_SUFFIXES)
        and os.path.isfile(os.path.join(folder, name))
    )
    found = False
    for name in names:
        try:
            # Before its first poem, a file may still prove to hold none.
            yield from iter_poems(os.path.join(folder, name))
        except NoPoemsError as error:
            logging.warning("Skipping %s", error)
            continue
        found = True
    if not found:
        raise errors.DataError(
            f"{folder} holds no poem files (expected "
            + ", ".join(POEM_SUFFIXES) + " files with poem objects)"
        )


def read_folder(folder):
    """The poems of every poem file in `folder` (see the module)."""
    return list(_folder_poems(folder))


def _local_texts(path, window, max_chars):
    """The texts of a local `path`, yielded as they are read.

    Returns:
        `(texts, poems, what)`: a generator of the texts (poems longer
        than `max_chars` left out, if it is set), whether they are poems,
        and what they are, in words, for messages.

    Raises:
        ValueError: An unknown file type, or a `window` of a text file
            that is not a positive integer.
    """
    if os.path.isdir(path):
        texts = _folder_poems(path)
    elif path.endswith(POEM_SUFFIXES):
        texts = iter_poems(path)
    elif path.endswith(TEXT_SUFFIXES):
        return text_windows(path, window), False, (
            f"windows of {window} characters")
    else:
        raise errors.DataError(
            f"{path}: unknown file type; expected poems ("
            + ", ".join(POEM_SUFFIXES) + ") or text ("
            + ", ".join(TEXT_SUFFIXES) + ")"
        )
    if not max_chars:
        return texts, True, "poems"
    return ((t for t in texts if len(t) <= max_chars), True,
            f"poems of at most {max_chars} characters")


def _check_enough(path, count, what, test_size):
    """Raises a `ValueError` unless `count` texts leave some for training."""
    if count <= test_size:
        raise errors.DataError(
            f"{path}: {count} {what}, expected more than "
            f"test_size={test_size}"
        )


def stream_local(path, folder, test_size=2000, window=128, max_chars=0,
                 seed=0):
    """Streams poems or a text file from a TFRecord copy in `folder`.

    The texts are read once, with their checks, and written to
    `<folder>/texts.tfrecord` as they come (only their count is kept);
    the test split holds the poems `pipeline.held_out` flags for `seed`,
    or the last `test_size` windows (a contiguous tail).

    Args:
        path: A poems file or folder, or a `.txt` file (see the module).
        folder: Where the records file is written.
        test_size: Positive integer, poems (or windows) held out.
        window: Positive integer, characters per window of a text file.
        max_chars: Poems longer than this are dropped (0 = keep all).
        seed: Seed of the held-out poems.

    Returns:
        A `Streams`, each split in the order of the files.

    Raises:
        MalformedTextError: Malformed data.
        ValueError: An unknown file type, no more than `test_size` poems or
            windows, or a `test_size` or `window` that is not a positive
            integer.
    """
    test_size = utils.check_positive_int("test_size", test_size)
    texts, poems, what = _local_texts(path, window, max_chars)
    file = os.path.join(folder, "texts.tfrecord")
    count = records.write(file, ({"text": t} for t in texts), COLUMNS,
                          what="texts")
    _check_enough(path, count, what, test_size)
    if poems:
        held = pipeline.held_out(count, test_size, seed)
    else:
        held = np.arange(count) >= count - test_size
    train, test = (
        records.parse(part, COLUMNS).map(lambda row: row["text"])
        for part in pipeline.split_stream(
            records.serialized(file, count), held)
    )
    return Streams(train, count - test_size, test, test_size, poems,
                   source=f"{path} ({what}; test: {test_size})")


def _tfds_streams(data, window, tfds_data_dir):
    """Windows of a tensorflow-datasets dataset's train and test texts."""
    window = utils.check_positive_int("window", window)
    splits = sources.tfds_datasets(
        data, ["train", "test"], data_dir=tfds_data_dir, as_supervised=False,
        local_hint="For a character language model, --data may also be a "
        "chinese-poetry JSON/JSONL file or folder, or a .txt file.",
    )

    def cut(example):
        # `windows` in TensorFlow: bytes that are not UTF-8 become U+FFFD.
        characters = tf.strings.unicode_split(
            example["text"], "UTF-8", errors="replace")
        starts = tf.range(0, tf.size(characters, out_type=tf.int64), window)
        return tf.strings.reduce_join(
            tf.RaggedTensor.from_row_starts(characters, starts), axis=1)

    found = []
    for split in splits:
        pieces = split.map(cut)  # [windows] per example.
        # One pass to count the windows, so that their number is known.
        count = int(pieces.reduce(
            tf.constant(0, tf.int64),
            lambda n, texts: n + tf.size(texts, out_type=tf.int64)))
        found += [pieces.unbatch().apply(
            tf.data.experimental.assert_cardinality(count)), count]
    return Streams(*found, poems=False,
                   source=f"tensorflow-datasets {data} (windows of {window} "
                   "characters)")


def stream(data, folder, test_size=2000, window=128, max_chars=0, seed=0,
           tfds_data_dir=None):
    """Streams texts from local files or a tensorflow-datasets name.

    Local files are read once into `folder` (see `stream_local`); a tfds
    dataset streams from tensorflow-datasets' own files, cut into windows
    as it is read (`test_size`, `max_chars` and `seed` do not apply).

    Returns:
        A `Streams`.

    Raises:
        sources.DataUnavailableError: A tfds name that cannot be had here;
            the message says how to provide local files.
        MalformedTextError, ValueError: Bad local data.
    """
    if sources.is_local(data):
        return stream_local(os.path.expanduser(data), folder, test_size,
                            window, max_chars, seed)
    return _tfds_streams(data, window, tfds_data_dir)


def load(data, test_size=2000, window=128, max_chars=0, seed=0,
         tfds_data_dir=None):
    """The texts `stream` gives, as lists of str in memory: `stream`'s own
    code path, its records written to a temporary folder and read back.

    Returns:
        A `Corpus`, each split in the order of the files.

    Raises:
        As `stream`.
    """
    with tempfile.TemporaryDirectory() as folder:
        streams = stream(data, folder, test_size, window, max_chars, seed,
                         tfds_data_dir)
        train, test = (
            [t.decode("utf-8") for t in texts.as_numpy_iterator()]
            for texts in (streams.train, streams.test))
        return Corpus(train, test, streams.poems, source=streams.source)

def id_chunks(texts, to_ids, chunk=pipeline.CHUNK):
    """A dataset of strings -> `to_ids` of `chunk` of them at a time.

    Args:
        texts: A dataset of string scalars.
        to_ids: Strings `[n]` -> ragged int32 ids `[n, (length)]` (a
            model's reading of its texts, markers included).
        chunk: Texts per call.

    Returns:
        A dataset of ragged batches `[chunk, (length)]` (the last one may
        be smaller), in the order of `texts`.
    """
    return texts.batch(chunk).map(to_ids, num_parallel_calls=tf.data.AUTOTUNE,
                                  deterministic=True)


def rows(chunks):
    """The rows of `id_chunks`' batches, as numpy vectors."""
    for batch in chunks:
        values, splits = batch.flat_values.numpy(), batch.row_splits.numpy()
        for start, end in zip(splits[:-1], splits[1:]):
            yield values[start:end]


def mean_targets(chunks):
    """Ids predicted per sequence (all but the first), on average, of
    `id_chunks`' batches."""
    total, count = chunks.reduce(
        (tf.constant(0, tf.int64), tf.constant(0, tf.int64)),
        lambda found, ids: (found[0] + tf.reduce_sum(ids.row_lengths() - 1),
                            found[1] + ids.nrows()))
    return float(total) / max(int(count), 1)


def shifted_batches(texts, to_ids, batch_size, longest, bucket=True,
                    shuffle=False, seed=0):
    """`(inputs, targets)` batches of a language model: each text's ids and
    the same ids one step on, padded with 0.

    Args:
        texts, to_ids: As for `id_chunks`.
        batch_size: Texts per batch.
        longest: The most ids an input has (bounds the length buckets).
        bucket: Batch texts of similar length together.
        shuffle: Draw each text at random from the next
            `pipeline.SHUFFLE_BUFFER`, anew every epoch (`seed`).

    Returns:
        A dataset of int32 `([batch, time], [batch, time])`.
    """
    pairs = id_chunks(texts, to_ids).unbatch().map(
        lambda ids: (ids[:-1], ids[1:]))
    return pipeline.id_sequence_stream(pairs, batch_size, longest,
                                       bucket=bucket, shuffle=shuffle,
                                       seed=seed)
