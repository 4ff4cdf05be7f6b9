"""Tests for zoo.data.pairs: pair files, filters, splits and tfds."""

import gzip
import os
import re
import time

import pytest
import tensorflow_datasets as tfds

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


def test_tfds_pairs_on_mock_data(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "network_available", lambda *a, **k: True)
    with tfds.testing.mock_data(num_examples=6):
        splits = pairs.load("ted_hrlr_translate/pt_to_en",
                            tfds_data_dir=str(tmp_path))
    assert len(splits.train_sources) == len(splits.train_targets) == 6
    assert len(splits.test_sources) == 6
    assert all(isinstance(s, str) for s in splits.train_sources)
    assert splits.source == "tensorflow-datasets ted_hrlr_translate/pt_to_en"


def test_tfds_offline_says_how_to_provide_data(tmp_path):
    start = time.monotonic()
    with pytest.raises(sources.DataUnavailableError,
                       match=r"--data=PATH.*`source<TAB>target` lines"):
        pairs.load("ted_hrlr_translate/pt_to_en", tfds_data_dir=str(tmp_path))
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
          pairs.load_local),
    _case("whitespace_only", {"p.tsv": b" \n\t\n\r\n"}, Raises(
        MalformedPairError, NO_PAIRS), pairs.load_local),
    _case("empty_gzip_stream", {"p.tsv.gz": _gz(b"")}, Raises(
        MalformedPairError, NO_PAIRS), pairs.load_local),
    _case("fewer_pairs_than_test_size", {"p.tsv": PAIR.encode() * 2}, Raises(
        ValueError, "{path}: 2 pairs, expected more than test_size=5"),
        pairs.load_local, test_size=5),
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
    # Old Mac line ends (a lone \r) would make the file one line.
    _case("cr_line_ends", {"p.tsv": b"Hi.\tHola.\rBye.\tAdios.\r"}, Raises(
        MalformedPairError, "{path}:1: carriage return (\\r) inside the line; "
        "line ends must be \\n or \\r\\n, not a lone \\r: "
        "'Hi.\\tHola.\\rBye.\\tAdios.'")),
    # Paths.
    _case("folder_instead_of_file", {"p.tsv": FOLDER}, Raises(
        ValueError, "{path} is a folder; expected a file of "
        "`source<TAB>target` lines"), pairs.load_local),
    _case("missing_file", {"p.tsv": None}, Raises(
        FileNotFoundError, "No such file or directory: '{path}'"),
        pairs.load_local),
]


@pytest.mark.parametrize("call, files, outcome, kwargs", MALFORMED_FILES)
def test_malformed_files_end_in_a_defined_outcome(
    tmp_path, call, files, outcome, kwargs
):
    check_malformed_files(tmp_path, call, files, outcome, **kwargs)
