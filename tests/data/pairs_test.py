"""Tests for zoo.data.pairs: pair files, filters, splits and tfds."""

import gzip
import os
import re
import time

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from zoo import layers
from zoo import testing
from zoo.data import pairs
from zoo.data import sources
from zoo.data.pairs import MalformedPairError
from zoo.testing import FOLDER, Raises, Returns, check_malformed_files

# No test contacts a host (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("no_network")

LINES = [
    "Hello.\tHola.\tCC-BY 2.0 (France) Attribution: tatoeba.org",
    "I am here.\tEstoy aquí.",
    "",
    "The cat sleeps all day long.\tEl gato duerme todo el día.",
    "Go!\t¡Vete!",
]


def write_pairs(path, lines=LINES, compress=False):
    text = "\r\n".join(lines) + "\n"
    if compress:
        path = str(path) + ".gz"
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
        return path
    return testing.write_file(path, text)


@pytest.mark.parametrize("compress", [False, True])
def test_read_pairs_takes_two_columns_and_skips_blank_lines(tmp_path, compress):
    path = write_pairs(tmp_path / "pairs.tsv", compress=compress)
    firsts, seconds = pairs.read_pairs(path)
    assert firsts == ["Hello.", "I am here.", "The cat sleeps all day long.",
                      "Go!"]
    assert seconds == ["Hola.", "Estoy aquí.", "El gato duerme todo el día.",
                       "¡Vete!"]


@pytest.mark.parametrize(
    "line, message",
    [
        ("only one column", r"pairs.tsv:3: expected `source<TAB>target`, "
                            r"found one column: 'only one column'"),
        ("\tno source", r"pairs.tsv:3: a side of the pair is empty"),
        ("no target\t  ", r"pairs.tsv:3: a side of the pair is empty"),
        (b"caf\xe9\tcafe", r"pairs.tsv:3: not valid UTF-8"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, line, message):
    head = "a\tb\nc\td\n".encode()
    body = line if isinstance(line, bytes) else line.encode()
    path = testing.write_file(tmp_path / "pairs.tsv", head + body + b"\n")
    with pytest.raises(MalformedPairError, match=message):
        pairs.read_pairs(path)


def _many(n):
    return [f"source {i} {'w ' * (i % 5)}\ttarget {i}" for i in range(n)]


def test_load_holds_out_a_fixed_test_split(tmp_path):
    path = write_pairs(tmp_path / "pairs.tsv", _many(30))
    splits = pairs.load(path, test_size=10, seed=3)
    assert len(splits.test_sources) == 10 and len(splits.train_sources) == 20
    assert not set(splits.test_sources) & set(splits.train_sources)
    for s, t in zip(splits.test_sources + splits.train_sources,
                    splits.test_targets + splits.train_targets):
        assert s.split()[1] == t.split()[1]  # Pairs stay together.
    again = pairs.load(path, test_size=10, seed=3)
    assert again.test_sources == splits.test_sources
    assert pairs.load(path, test_size=10, seed=4).test_sources != splits.test_sources
    assert splits.source == f"{path} (test: a fixed 10 pairs)"


def test_reverse_and_max_words(tmp_path):
    path = write_pairs(tmp_path / "pairs.tsv", _many(30))
    splits = pairs.load(path, reverse=True, max_words=4, test_size=5)
    # "source i" plus i % 5 words: at most 4 words keeps i % 5 <= 2.
    kept = sorted(splits.train_targets + splits.test_targets,
                  key=lambda s: int(s.split()[1]))
    assert [int(s.split()[1]) for s in kept] == [
        i for i in range(30) if i % 5 <= 2
    ]
    assert all(s.startswith("target") for s in splits.train_sources)
    assert splits.source.endswith("at most 4 words a side, reversed)")


def test_too_few_pairs_and_folders_are_rejected(tmp_path):
    path = write_pairs(tmp_path / "pairs.tsv", _many(30))
    with pytest.raises(ValueError, match=re.escape(
        "12 pairs of at most 3 words, expected more than test_size=12"
    )):
        pairs.load(path, max_words=3, test_size=12)
    with pytest.raises(ValueError, match=r"is a folder; expected a file"):
        pairs.load(str(tmp_path))


def _pairs_of(streams):
    """The train and test pairs of a `Streams`, as `(source, target)` str."""
    return [list(zip(*pairs.as_lists(split)))
            for split in (streams.train, streams.test)]


@pytest.mark.parametrize("options", [
    dict(test_size=10, seed=3),
    dict(reverse=True, max_words=4, test_size=5),
], ids=["plain", "reverse-max_words"])
def test_stream_holds_out_a_fixed_split_and_load_reads_it(tmp_path,
                                                          options):
    path = write_pairs(tmp_path / "pairs.tsv", _many(30))
    streams = pairs.stream(path, str(tmp_path / "data"), **options)
    splits = pairs.load(path, **options)
    train, test = _pairs_of(streams)
    assert len(test) == options["test_size"]
    assert not set(test) & set(train)
    # `load` is the streams read into lists.
    assert test == list(zip(splits.test_sources, splits.test_targets))
    assert train == list(zip(splits.train_sources, splits.train_targets))
    # In the file's order, with their sizes known.
    for split in (train, test):
        order = [int(s.split()[1]) for s, _ in split]
        assert order == sorted(order)
    assert (streams.train_size, streams.test_size) == (len(train), len(test))
    assert int(streams.train.cardinality()) == len(train)
    assert int(streams.test.cardinality()) == len(test)
    assert streams.source == splits.source
    assert os.listdir(tmp_path / "data") == [pairs.RECORDS_FILE]


def test_stream_reads_the_file_once_and_streams_its_records(
    tmp_path, monkeypatch
):
    path = write_pairs(tmp_path / "pairs.tsv", _many(12))
    opened = []
    numbered_lines = pairs._numbered_lines
    monkeypatch.setattr(pairs, "_numbered_lines",
                        lambda p: opened.append(p) or numbered_lines(p))
    streams = pairs.stream(path, str(tmp_path / "data"), test_size=2)
    first = _pairs_of(streams)
    # The pairs file changes: the streams read the records written.
    write_pairs(tmp_path / "pairs.tsv", _many(3))
    assert _pairs_of(streams) == first
    assert opened == [path]
    # A stream of other options replaces the records.
    again = pairs.stream(path, str(tmp_path / "data"), test_size=1)
    assert (again.train_size, again.test_size) == (2, 1)


def test_stream_keeps_the_text_of_pairs_as_written(tmp_path):
    rows = [("Ça va?", "¿Qué tal?"), ("a  b\u00a0c", "漢字 ☃"),
            ("x", "y")]
    path = write_pairs(tmp_path / "pairs.tsv",
                       [f"{s}\t{t}" for s, t in rows])
    streams = pairs.stream(path, str(tmp_path / "data"), test_size=1)
    train, test = _pairs_of(streams)
    assert sorted(train + test) == sorted(rows)
    assert streams.train.element_spec == (tf.TensorSpec([], tf.string),) * 2


def test_word_counts_split_like_python():
    spaces = [chr(c) for c in range(0x3001) if chr(c).isspace()]
    assert len(spaces) == 29  # Unicode's whitespace, as Python sees it.
    texts = ["", " ", "a", "a b", "\u200bab", "é ü  ", "\xff"] + [
        f" a{space}b{space}" for space in spaces
    ]
    np.testing.assert_array_equal(
        pairs.word_counts(tf.constant(texts)),
        [len(text.split()) for text in texts],
    )


def test_stream_rejects_a_folder_before_writing(tmp_path):
    with pytest.raises(ValueError, match=r"is a folder; expected a file"):
        pairs.stream(str(tmp_path), str(tmp_path / "data"))
    assert not os.path.exists(tmp_path / "data")


def test_tfds_pairs_on_mock_data(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "network_available", lambda *a, **k: True)
    with tfds.testing.mock_data(num_examples=6):
        splits = pairs.load("ted_hrlr_translate/pt_to_en",
                            tfds_data_dir=str(tmp_path))
    assert len(splits.train_sources) == len(splits.train_targets) == 6
    assert len(splits.test_sources) == 6
    assert all(isinstance(s, str) for s in splits.train_sources)
    assert splits.source == "tensorflow-datasets ted_hrlr_translate/pt_to_en"


@pytest.mark.parametrize("reverse", [False, True])
def test_stream_tfds_filters_like_python(tmp_path, monkeypatch, reverse):
    monkeypatch.setattr(sources, "network_available", lambda *a, **k: True)
    folder = str(tmp_path / "data")
    with tfds.testing.mock_data(num_examples=12):
        every = pairs.stream("ted_hrlr_translate/pt_to_en", folder,
                             tfds_data_dir=str(tmp_path))
        streams = pairs.stream("ted_hrlr_translate/pt_to_en", folder,
                               reverse=reverse, max_words=5,
                               tfds_data_dir=str(tmp_path))
        loaded = pairs.load("ted_hrlr_translate/pt_to_en", reverse=reverse,
                            max_words=5, tfds_data_dir=str(tmp_path))
        for split, kept, size in zip(
            _pairs_of(every), _pairs_of(streams),
            (streams.train_size, streams.test_size),
        ):
            expected = [
                (t, s) if reverse else (s, t) for s, t in split
                if len(s.split()) <= 5 and len(t.split()) <= 5
            ]
            assert 0 < len(expected) < len(split)  # The filter has work.
            assert kept == expected and size == len(kept)
        assert kept == list(zip(loaded.test_sources, loaded.test_targets))
        assert int(streams.train.cardinality()) == streams.train_size
    assert streams.source == (
        "tensorflow-datasets ted_hrlr_translate/pt_to_en"
        + (" (reversed)" if reverse else ""))
    assert not os.path.exists(folder)  # tfds' own files are streamed.


@pytest.mark.parametrize("read", [pairs.load, pairs.stream])
def test_tfds_offline_says_how_to_provide_data(tmp_path, read):
    start = time.monotonic()
    with pytest.raises(sources.DataUnavailableError,
                       match=r"--data=PATH.*`source<TAB>target` lines"):
        if read is pairs.stream:
            read("ted_hrlr_translate/pt_to_en", str(tmp_path / "data"),
                 tfds_data_dir=str(tmp_path))
        else:
            read("ted_hrlr_translate/pt_to_en", tfds_data_dir=str(tmp_path))
    assert time.monotonic() - start < 10


BIBLE = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir,
    os.pardir, "shared", "data", "bible_en_es", "pairs.tsv",
)


@pytest.mark.skipif(not os.path.isfile(BIBLE),
                    reason="../shared/data/bible_en_es is absent")
def test_reads_the_real_bible_pairs():
    splits = pairs.load(BIBLE, max_words=20)
    assert len(splits.test_sources) == 1000
    assert len(splits.train_sources) > 5000
    assert splits.train_sources[0] and splits.train_targets[0]


# Malformed files: one table of hostile inputs, each with its defined
# outcome (an error naming the file and the problem, or a documented
# result). The README counts the cases of `MALFORMED_FILES`.


def _case(case_id, files, outcome, call=pairs.read_pairs, **kwargs):
    """A case of `check_malformed_files`: `files` holds the one file."""
    return pytest.param(call, files, outcome, kwargs, id=case_id)


def _gz(data):
    return gzip.compress(data, mtime=0)


PAIR = "Hello.\tHola.\n"
# A gzip header, then a deflate block of the reserved type 3.
GZIP_BAD_BLOCK = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\x07" + bytes(8)
NO_PAIRS = "{path}: no `source<TAB>target` lines; the file is empty or blank"
NOT_GZIP = "; the gzip file is truncated or corrupt"
NUL = " of the line (binary data or UTF-16 text?); save the file as UTF-8"

MALFORMED_FILES = [
    # Empty and blank files.
    _case("empty_file_has_no_pairs", {"p.tsv": b""}, Returns(([], []))),
    _case("empty_file", {"p.tsv": b""}, Raises(MalformedPairError, NO_PAIRS),
          pairs.load),
    _case("whitespace_only", {"p.tsv": b" \n\t\n\r\n"}, Raises(
        MalformedPairError, NO_PAIRS), pairs.load),
    _case("empty_gzip_stream", {"p.tsv.gz": _gz(b"")}, Raises(
        MalformedPairError, NO_PAIRS), pairs.load),
    _case("fewer_pairs_than_test_size", {"p.tsv": PAIR.encode() * 2}, Raises(
        ValueError, "{path}: 2 pairs, expected more than test_size=5"),
        pairs.load, test_size=5),
    # Truncated files.
    _case("truncated_mid_line", {"p.tsv": b"a\tb\nc"}, Raises(
        MalformedPairError, "{path}:2: expected `source<TAB>target`, found "
        "one column: 'c'")),
    _case("truncated_mid_utf8_char", {"p.tsv": b"a\tb\nc\tcaf\xc3"}, Raises(
        MalformedPairError, "{path}:2: not valid UTF-8 (unexpected end of "
        "data at byte 5 of the line); save the file as UTF-8")),
    _case("truncated_gzip_stream", {"p.tsv.gz": _gz(PAIR.encode())[:11]},
          Raises(MalformedPairError, "{path}:1: cannot decompress (Compressed "
                 "file ended before the end-of-stream marker was reached)"
                 + NOT_GZIP)),
    _case("gzip_bad_crc",
          {"p.tsv.gz": _gz(PAIR.encode())[:-8] + bytes(4)
           + _gz(PAIR.encode())[-4:]},
          Raises(MalformedPairError, "{path}:2: cannot decompress (CRC check "
                 "failed")),
    _case("gzip_corrupt_deflate", {"p.tsv.gz": GZIP_BAD_BLOCK}, Raises(
        MalformedPairError, "{path}:1: cannot decompress (Error -3 while "
        "decompressing data: invalid block type)" + NOT_GZIP)),
    _case("plain_text_with_gz_suffix", {"p.tsv.gz": PAIR.encode()}, Raises(
        MalformedPairError, "{path}:1: cannot decompress (Not a gzipped "
        "file")),
    _case("gzip_without_gz_suffix", {"p.tsv": _gz(PAIR.encode())}, Raises(
        MalformedPairError, "{path}:1: NUL byte at byte 3" + NUL)),
    # Encodings.
    _case("latin1_bytes",
          {"p.tsv": "caf\u00e9\tcaf\u00e9\n".encode("latin-1")},
          Raises(MalformedPairError, "{path}:1: not valid UTF-8 "
                 "(invalid continuation byte at byte 3 of the line)")),
    _case("utf8_byte_order_mark", {"p.tsv": ("\ufeff" + PAIR).encode()},
          Returns((["Hello."], ["Hola."]))),
    _case("utf16_le_byte_order_mark", {"p.tsv": PAIR.encode("utf-16")}, Raises(
        MalformedPairError, "{path}: UTF-16 text (byte order mark fffe), "
        "expected UTF-8; save the file as UTF-8")),
    _case("utf32_byte_order_mark", {"p.tsv": PAIR.encode("utf-32")}, Raises(
        MalformedPairError, "{path}: UTF-32 text (byte order mark "
        "fffe0000)")),
    _case("utf16_without_byte_order_mark", {"p.tsv": PAIR.encode("utf-16-le")},
          Raises(MalformedPairError, "{path}:1: NUL byte at byte 1" + NUL)),
    _case("binary_garbage", {"p.tsv": bytes(range(256)) * 2}, Raises(
        MalformedPairError, "{path}:1: NUL byte at byte 0" + NUL)),
    # Columns.
    _case("one_column", {"p.tsv": b"Hello.\nBye.\tAdios.\n"}, Raises(
        MalformedPairError, "{path}:1: expected `source<TAB>target`, found "
        "one column: 'Hello.'")),
    _case("empty_source", {"p.tsv": b"\tHola.\n"}, Raises(
        MalformedPairError, "{path}:1: a side of the pair is empty: "
        "'\\tHola.'")),
    _case("two_tabs_in_a_row", {"p.tsv": b"Hello.\t\tHola.\n"}, Raises(
        MalformedPairError, "{path}:1: a side of the pair is empty: "
        "'Hello.\\t\\tHola.'")),
    _case("attribution_columns",
          {"p.tsv": b"Hello.\tHola.\tCC-BY 2.0\t#1\nBye.\tAdios.\n"},
          Returns((["Hello.", "Bye."], ["Hola.", "Adios."]))),
    # Line ends: \n or \r\n; a lone \r inside a line is text.
    _case("crlf_line_ends", {"p.tsv": b"Hi.\tHola.\r\nBye.\tAdios.\r\r\n"},
          Returns((["Hi.", "Bye."], ["Hola.", "Adios."]))),
    _case("lone_cr_inside_a_sentence",
          {"p.tsv": b"Hi.\rHow are you?\tHola.\r\xc2\xbfQu\xc3\xa9 tal?\n"
                    b"Bye.\tAdios.\n"},
          Returns((["Hi.\rHow are you?", "Bye."],
                   ["Hola.\r\u00bfQu\u00e9 tal?", "Adios."]))),
    _case("lone_cr_in_a_line_of_one_column",
          {"p.tsv": b"Hi.\tHola.\nBye.\rAdios.\n"}, Raises(
              MalformedPairError, "{path}:2: expected `source<TAB>target`, "
              "found one column: 'Bye.\\rAdios.'")),
    _case("lone_cr_in_a_gzipped_file",
          {"p.tsv.gz": _gz(b"Hi.\rYou.\tHola.\nBye.\tAdios.\n")},
          Returns((["Hi.\rYou.", "Bye."], ["Hola.", "Adios."]))),
    # Old Mac line ends: a file without \n whose lines end in a lone \r.
    _case("cr_line_ends", {"p.tsv": b"Hi.\tHola.\rBye.\tAdios.\r"},
          Returns((["Hi.", "Bye."], ["Hola.", "Adios."]))),
    _case("cr_line_ends_gzipped",
          {"p.tsv.gz": _gz(b"\xef\xbb\xbfHi.\tHola.\r\rBye.\tAdios.")},
          Returns((["Hi.", "Bye."], ["Hola.", "Adios."]))),
    # Quotes and trailing tabs: a `"` is text; a trailing tab is an empty
    # attribution column.
    _case("quotes_are_text",
          {"p.tsv": b'He said "hi.\t"Dijo hola.\nBye.\tAdios.\n'},
          Returns((['He said "hi.', "Bye."], ['"Dijo hola.', "Adios."]))),
    _case("trailing_tab", {"p.tsv": b"Hi.\tHola.\t\r\nBye.\tAdios.\t\n"},
          Returns((["Hi.", "Bye."], ["Hola.", "Adios."]))),
    # Paths.
    _case("folder_instead_of_file", {"p.tsv": FOLDER}, Raises(
        ValueError, "{path} is a folder; expected a file of "
        "`source<TAB>target` lines"), pairs.load),
    _case("missing_file", {"p.tsv": None}, Raises(
        FileNotFoundError, "No such file or directory: '{path}'"),
        lambda path: pairs.stream_local(path, os.path.dirname(path))),
]


@pytest.mark.parametrize("call, files, outcome, kwargs", MALFORMED_FILES)
def test_malformed_files_end_in_a_defined_outcome(
    tmp_path, call, files, outcome, kwargs
):
    check_malformed_files(tmp_path, call, files, outcome, **kwargs)


def _stream_local(path, **kwargs):
    """`stream_local`, writing its records next to the case's files."""
    folder = os.path.join(os.path.dirname(path), "records")
    return pairs.stream_local(path, folder, **kwargs)


def _stream_case(case):
    """A `MALFORMED_FILES` case run through `stream_local`: refused alike,
    or, for a file that reads, the same pairs (all for training)."""
    call, files, outcome, kwargs = case.values
    if isinstance(outcome, Returns):
        # No pairs: `read_pairs` returns none; a stream refuses the file.
        if outcome.expected == ([], []):
            outcome = Raises(MalformedPairError, NO_PAIRS)
        else:
            outcome = Returns(outcome.expected, view=lambda streams:
                              pairs.as_lists(streams.train))
            kwargs = {**kwargs, "test_size": 0}
    return pytest.param(_stream_local, files, outcome, kwargs, id=case.id)


@pytest.mark.parametrize("call, files, outcome, kwargs",
                         [_stream_case(case) for case in MALFORMED_FILES])
def test_stream_refuses_what_load_refuses(
    tmp_path, call, files, outcome, kwargs
):
    check_malformed_files(tmp_path, call, files, outcome, **kwargs)


@pytest.mark.parametrize("bucket", [True, False])
def test_teacher_forcing_batches_shift_the_target(bucket):
    sources = ["a b c", "d", "e f", "g h i j k l", ""]
    targets = ["u v", "w x y", "z", "u u", "v"]
    source_layer = layers.TextToIds(20, 4, name="s")
    source_layer.fit_vocabulary(sources)
    target_layer = layers.TextToIds(20, 4, name="t")
    target_layer.fit_vocabulary(targets, reserved=["<s>", "</s>"])
    dataset = tf.data.Dataset.from_tensor_slices((sources, targets))
    seen = []
    for (source, target_in), target_out in pairs.teacher_forcing_batches(
        dataset, source_layer, target_layer, batch_size=2, max_length=4,
        start_id=2, end_id=3, bucket=bucket,
    ):
        source, target_in = source.numpy(), target_in.numpy()
        target_out = target_out.numpy()
        assert source.dtype == target_in.dtype == target_out.dtype == np.int32
        assert target_in.shape == target_out.shape and len(source) <= 2
        for s, t_in, t_out in zip(source, target_in, target_out):
            n = int((t_out != 0).sum())
            assert t_in[0] == 2 and t_out[n - 1] == 3
            np.testing.assert_array_equal(t_in[1:n], t_out[:n - 1])
            assert not t_in[n:].any() and not t_out[n:].any()  # Padding.
            seen.append((s[s != 0].tolist(), t_out[:n - 1].tolist()))
    expected = [
        (ids[ids != 0].tolist(), out[out != 0].tolist())
        for ids, out in zip(source_layer(tf.constant(sources)).numpy(),
                            target_layer(tf.constant(targets)).numpy())
    ]
    assert sorted(seen) == sorted(expected)
    # Not vacuous: the long source is truncated to max_length.
    assert max(len(s) for s, _ in seen) == 4
