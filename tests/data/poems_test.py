"""Tests for zoo.data.poems: poem files, text windows, splits and tfds."""

import gzip
import json
import os
import re
import time

import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from zoo import testing
from zoo.data import poems
from zoo.data import sources
from zoo.data.poems import MalformedTextError
from zoo.testing import FOLDER, Raises, Returns, check_malformed_files

# No test contacts a host (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("no_network")

RECORDS = [
    {"title": "靜夜思", "author": "李白",
     "paragraphs": ["床前明月光，疑是地上霜。", "舉頭望明月，低頭思故鄉。"]},
    {"title": "空", "author": "無名", "paragraphs": []},  # Skipped: no text.
    {"title": "缺", "author": "無名", "paragraphs": ["。"]},  # No words.
    {"title": "春曉", "author": "孟浩然",
     "paragraphs": ["春眠不覺曉，處處聞啼鳥。", " 夜來風雨聲，花落知多少。 "]},
]
TEXTS = ["床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。",
         "春眠不覺曉，處處聞啼鳥。夜來風雨聲，花落知多少。"]


def write(path, text, compress=False):
    if compress:
        path = str(path) + ".gz"
        with gzip.open(path, "wb") as f:
            f.write(text if isinstance(text, bytes) else text.encode())
        return path
    return testing.write_file(path, text)


def jsonl(records):
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("layout", ["json", "jsonl", "one-object"])
def test_read_poems_joins_paragraphs(tmp_path, layout, compress):
    if layout == "jsonl":
        path = write(tmp_path / "p.jsonl", jsonl(RECORDS) + "\n", compress)
        assert poems.read_poems(path) == TEXTS
        return
    if layout == "json":
        text, expected = json.dumps(RECORDS, ensure_ascii=False), TEXTS
    else:
        text, expected = json.dumps(RECORDS[0], ensure_ascii=False), TEXTS[:1]
    path = write(tmp_path / "p.json", text, compress)
    assert poems.read_poems(path) == expected


@pytest.mark.parametrize("name, content, message", [
    ("p.jsonl", jsonl(RECORDS[:1]) + "{oops\n",
     r"p\.jsonl:2: not JSON \(Expecting property name"),
    ("p.jsonl", jsonl(RECORDS[:1]) + '{"title": "x"}\n',
     r"p\.jsonl:2: expected a poem object with a `paragraphs` list of "
     r"strings, got \"\{'title': 'x'\}\""),
    ("p.jsonl", '{"paragraphs": [1, 2]}\n',
     r"p\.jsonl:1: expected a poem object with a `paragraphs` list"),
    ("p.json", "[\n" + json.dumps(RECORDS[0]) + ",\n oops]",
     r"p\.json:3: not JSON"),
    ("p.json", '"just a string"', r"p\.json: expected a list of poem "
     r"objects, got str"),
    ("p.json", '[{"paragraphs": "not a list"}]',
     r"p\.json: poem 0: expected a poem object"),
    ("p.json", "[]", r"p\.json: no poem with any text"),
    ("p.jsonl", jsonl(RECORDS[1:2]), r"p\.jsonl: no poem with any text"),
    ("p.jsonl", b'{"paragraphs": ["ok"]}\n{"paragraphs": ["\xff"]}\n',
     r"p\.jsonl:2: not UTF-8 \(invalid start byte at byte 40\)"),
])
def test_malformed_poems_name_file_and_line(tmp_path, name, content, message):
    path = write(tmp_path / name, content)
    with pytest.raises(MalformedTextError, match=message):
        poems.read_poems(path)


def test_malformed_text_error_is_a_value_error():
    assert issubclass(MalformedTextError, ValueError)


def test_read_text_and_its_errors(tmp_path):
    path = write(tmp_path / "t.txt", "To be,\nor not.\n")
    assert poems.read_text(path) == "To be,\nor not.\n"
    with pytest.raises(MalformedTextError, match=r"t2\.txt: no text"):
        poems.read_text(write(tmp_path / "t2.txt", " \n\n"))
    with pytest.raises(MalformedTextError, match=r"t3\.txt:2: not UTF-8"):
        poems.read_text(write(tmp_path / "t3.txt", b"fine\nbad \xc3("))


def test_windows_cover_the_text_in_order():
    assert poems.windows("abcdefg", 3) == ["abc", "def", "g"]
    assert poems.windows("abcdef", 3) == ["abc", "def"]
    assert poems.windows("", 3) == []


def many_records(n):
    return [{"paragraphs": [f"第{i}首，" + "山" * (i % 7)]} for i in range(n)]


def test_load_poems_holds_out_a_fixed_random_test_split(tmp_path):
    path = write(tmp_path / "p.jsonl", jsonl(many_records(30)))
    corpus = poems.load(path, test_size=5, seed=0)
    assert corpus.poems and len(corpus.test) == 5 and len(corpus.train) == 25
    assert sorted(corpus.train + corpus.test) == sorted(
        poems.read_poems(path))
    assert poems.load(path, test_size=5, seed=0).test == corpus.test
    assert poems.load(path, test_size=5, seed=1).test != corpus.test
    assert corpus.test != poems.read_poems(path)[:5]  # Drawn, not the head.
    assert corpus.source == f"{path} (poems; test: 5)"


def test_load_poems_drops_long_ones_and_needs_enough(tmp_path):
    path = write(tmp_path / "p.jsonl", jsonl(many_records(30)))
    corpus = poems.load(path, test_size=2, max_chars=6)
    short = [t for t in poems.read_poems(path) if len(t) <= 6]
    assert 0 < len(short) < 30
    assert sorted(corpus.train + corpus.test) == sorted(short)
    assert "poems of at most 6 characters" in corpus.source
    with pytest.raises(ValueError, match=r"p\.jsonl: 30 poems, expected "
                       r"more than test_size=30"):
        poems.load(path, test_size=30)


def test_load_a_folder_of_poem_files(tmp_path):
    write(tmp_path / "poet.tang.0.json",
          json.dumps(RECORDS, ensure_ascii=False))
    write(tmp_path / "poet.tang.1.jsonl", jsonl(many_records(3)), True)
    write(tmp_path / "README.md", "not poems")
    corpus = poems.load(str(tmp_path), test_size=1)
    assert sorted(corpus.train + corpus.test) == sorted(
        TEXTS + [r["paragraphs"][0] for r in many_records(3)])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"empty holds no poem files "
                       r"\(expected \.json, \.jsonl, \.json\.gz, "
                       r"\.jsonl\.gz files with poem objects\)"):
        poems.load(str(empty))


def test_load_text_holds_out_the_last_windows(tmp_path):
    text = "".join(chr(ord("a") + i % 26) for i in range(100))
    path = write(tmp_path / "t.txt", text, compress=True)
    corpus = poems.load(path, test_size=3, window=10)
    assert not corpus.poems
    assert corpus.train == poems.windows(text, 10)[:7]
    assert corpus.test == poems.windows(text, 10)[7:]
    assert corpus.source == f"{path} (windows of 10 characters; test: 3)"
    with pytest.raises(ValueError, match=r"10 windows of 10 characters, "
                       r"expected more than test_size=10"):
        poems.load(path, test_size=10, window=10)


def test_load_rejects_an_unknown_file_type(tmp_path):
    path = write(tmp_path / "poems.csv", "a,b\n")
    with pytest.raises(ValueError, match=r"poems\.csv: unknown file type; "
                       r"expected poems \(\.json, .*\) or text \(\.txt, "
                       r"\.txt\.gz\)"):
        poems.load(path)


def test_load_expands_user(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    write(tmp_path / "p.jsonl", jsonl(many_records(4)))
    assert len(poems.load("~/p.jsonl", test_size=1).train) == 3


def test_tfds_tiny_shakespeare_on_mock_data(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "network_available", lambda *a, **k: True)
    with tfds.testing.mock_data(num_examples=1):
        corpus = poems.load("tiny_shakespeare", window=16,
                            tfds_data_dir=str(tmp_path))
    assert not corpus.poems and corpus.train and corpus.test
    assert all(isinstance(t, str) and 0 < len(t) <= 16
               for t in corpus.train + corpus.test)
    assert corpus.source == ("tensorflow-datasets tiny_shakespeare (windows "
                             "of 16 characters)")


def test_tfds_offline_says_how_to_provide_data(tmp_path):
    start = time.monotonic()
    with pytest.raises(sources.DataUnavailableError,
                       match=r"--data=PATH.*--data may also be a "
                       r"chinese-poetry JSON/JSONL file or folder, or a "
                       r"\.txt file"):
        poems.load("tiny_shakespeare", tfds_data_dir=str(tmp_path))
    assert time.monotonic() - start < 10


TANG = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir,
    os.pardir, "shared", "data", "tang_poems", "poems.jsonl.gz",
)


@pytest.mark.skipif(not os.path.exists(TANG),
                    reason="../shared/data/tang_poems is not on this machine")
def test_real_tang_poems_load():
    corpus = poems.load(TANG, max_chars=200)
    assert corpus.poems and len(corpus.test) == 2000
    assert len(corpus.train) > 50000
    assert all(0 < len(t) <= 200 for t in corpus.test)


def test_a_folder_skips_files_without_poems(tmp_path):
    write(tmp_path / "poet.tang.0.json", json.dumps(RECORDS, ensure_ascii=False))
    write(tmp_path / "authors.tang.json",
          json.dumps([{"name": "李白", "desc": "..."}], ensure_ascii=False))
    assert sorted(poems.read_folder(str(tmp_path))) == sorted(TEXTS)
    # A file of poems with one bad record is still an error.
    write(tmp_path / "poet.tang.1.json", json.dumps(
        [RECORDS[0], {"title": "no paragraphs"}], ensure_ascii=False))
    with pytest.raises(MalformedTextError, match=r"poet\.tang\.1\.json: "
                       r"poem 1: expected a poem object"):
        poems.read_folder(str(tmp_path))


def test_a_file_of_no_poems_says_so(tmp_path):
    path = write(tmp_path / "authors.json", '[{"name": "a"}, {"name": "b"}]')
    with pytest.raises(poems.NoPoemsError, match=r"authors\.json: no poem "
                       r"object \(with `paragraphs`\) in 2 records"):
        poems.read_poems(path)
    with pytest.raises(ValueError, match=r"holds no poem files \(expected "
                       r"\.json, .* files with poem objects\)"):
        poems.load(str(tmp_path))


@pytest.mark.parametrize("kwargs, message", [
    ({"test_size": 0}, r"`test_size`, expected a positive integer, got 0"),
    ({"window": 0}, r"`window`, expected a positive integer, got 0"),
])
def test_load_rejects_bad_sizes(tmp_path, kwargs, message):
    path = write(tmp_path / "t.txt", "some text " * 20)
    with pytest.raises(ValueError, match=message):
        poems.load(path, **kwargs)


# Malformed files: one table of hostile inputs, each with its defined
# outcome (an error naming the file and the problem, or a documented
# result). The README counts the cases of `MALFORMED_FILES`.


def _case(case_id, files, outcome, call=poems.read_poems, target=None,
          **kwargs):
    """A case of `check_malformed_files`: `target` is by default the only
    file, or the folder of several."""
    return pytest.param(call, files, outcome, target, kwargs, id=case_id)


def _gz(data):
    return gzip.compress(data, mtime=0)


POEM = json.dumps({"paragraphs": ["床前明月光"]}, ensure_ascii=False)
POEM_LINES = (POEM + "\n").encode()
# A gzip header, then a deflate block of the reserved type 3.
GZIP_BAD_BLOCK = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\x07" + bytes(8)
EMPTY = "{path}: no poem with any text (the file is empty or blank)"
NOT_GZIP = "; the gzip file is truncated or corrupt"
NUL = " (binary data or UTF-16 text?); save the file as UTF-8"
NOT_A_POEM = "expected a poem object with a `paragraphs` list of strings"
DEEP = 50_000  # Far past Python's recursion limit.

MALFORMED_FILES = [
    # Empty and blank files.
    _case("empty_json", {"p.json": b""}, Raises(MalformedTextError, EMPTY)),
    _case("empty_jsonl", {"p.jsonl": b""}, Raises(MalformedTextError, EMPTY)),
    _case("whitespace_only_json", {"p.json": b" \n\t\r\n"}, Raises(
        MalformedTextError, EMPTY)),
    _case("empty_gzip_stream", {"p.jsonl.gz": _gz(b"")}, Raises(
        MalformedTextError, EMPTY)),
    _case("empty_txt", {"t.txt": b""}, Raises(
        MalformedTextError, "{path}: no text"), poems.read_text),
    _case("whitespace_only_txt", {"t.txt": b"\n \t\n"}, Raises(
        MalformedTextError, "{path}: no text"), poems.read_text),
    _case("poems_without_words", {"p.jsonl": '{"paragraphs": ["\u3002"]}\n'},
          Raises(MalformedTextError, "{path}: no poem with any text")),
    # Truncated files.
    _case("truncated_json", {"p.json": "[" + POEM + ",\n " + POEM[:12]},
          Raises(MalformedTextError, "{path}:2: not JSON (Unterminated string "
                 "starting at)")),
    _case("truncated_jsonl", {"p.jsonl": POEM + "\n" + POEM[:-5]}, Raises(
        MalformedTextError, "{path}:2: not JSON (")),
    _case("truncated_mid_utf8_char",
          {"p.jsonl": '{"paragraphs": ["\u5e8a'.encode()[:-1]},
          Raises(MalformedTextError, "{path}:1: not UTF-8 (unexpected end of "
                 "data at byte 17)")),
    _case("truncated_gzip_stream", {"p.jsonl.gz": _gz(POEM_LINES)[:11]},
          Raises(MalformedTextError, "{path}: cannot decompress (Compressed "
                 "file ended before the end-of-stream marker was reached)"
                 + NOT_GZIP)),
    _case("gzip_corrupt_deflate", {"p.json.gz": GZIP_BAD_BLOCK}, Raises(
        MalformedTextError, "{path}: cannot decompress (Error -3 while "
        "decompressing data: invalid block type)" + NOT_GZIP)),
    _case("plain_json_with_gz_suffix", {"p.json.gz": POEM_LINES}, Raises(
        MalformedTextError, "{path}: cannot decompress (Not a gzipped file")),
    _case("gzip_without_gz_suffix", {"p.jsonl": _gz(POEM_LINES)}, Raises(
        MalformedTextError, "{path}:1: NUL byte at byte 3" + NUL)),
    # Encodings.
    _case("big5_poem", {"p.jsonl": POEM.encode("big5")}, Raises(
        MalformedTextError, "{path}:1: not UTF-8 (invalid start byte at byte "
        "17)")),
    _case("latin1_text", {"t.txt": "caf\u00e9\nau lait\n".encode("latin-1")},
          Raises(MalformedTextError, "{path}:1: not UTF-8 (invalid "
                 "continuation byte at byte 3)"), poems.read_text),
    _case("utf8_byte_order_mark_json", {"p.json": "\ufeff" + POEM},
          Returns(["床前明月光"])),
    _case("utf8_byte_order_mark_txt", {"t.txt": "\ufeffTo be"},
          Returns("To be"), poems.read_text),
    _case("utf16_byte_order_mark", {"p.json": POEM.encode("utf-16")}, Raises(
        MalformedTextError, "{path}: UTF-16 text (byte order mark fffe), "
        "expected UTF-8; save the file as UTF-8")),
    _case("utf16_without_byte_order_mark",
          {"t.txt": "To be\n".encode("utf-16-le")},
          Raises(MalformedTextError, "{path}:1: NUL byte at byte 1" + NUL),
          poems.read_text),
    _case("binary_garbage", {"t.txt": b"text\n" + bytes(range(256))}, Raises(
        MalformedTextError, "{path}:2: NUL byte at byte 5" + NUL),
        poems.read_text),
    # JSON escapes for half a UTF-16 surrogate pair: no character, so
    # U+FFFD, as for bytes that are not UTF-8; a whole pair is one.
    _case("lone_surrogate_escapes",
          {"p.jsonl": '{"paragraphs": ["a\\ud800b", "\\udfff"]}\n'},
          Returns(["a\ufffdb\ufffd"])),
    _case("surrogate_pair_escape",
          {"p.jsonl": '{"paragraphs": ["\\ud83d\\ude00 a"]}\n'},
          Returns(["\U0001f600 a"])),
    # JSON that the parser cannot nest into.
    _case("deeply_nested_json", {"p.json": "[" * DEEP + "]" * DEEP}, Raises(
        MalformedTextError, "{path}: JSON nested too deeply to read")),
    _case("deeply_nested_jsonl",
          {"p.jsonl": POEM + "\n" + "[" * DEEP + "]" * DEEP + "\n"},
          Raises(MalformedTextError, "{path}:2: JSON nested too deeply to "
                 "read")),
    # The fields of a poem object (this format's columns).
    _case("object_without_paragraphs",
          {"p.jsonl": POEM + '\n{"title": "x"}\n'},
          Raises(MalformedTextError, "{path}:2: " + NOT_A_POEM)),
    _case("paragraphs_a_string", {"p.json": '[{"paragraphs": "x"}]'}, Raises(
        MalformedTextError, "{path}: poem 0: " + NOT_A_POEM)),
    _case("paragraphs_of_numbers", {"p.jsonl": '{"paragraphs": [1, 2]}\n'},
          Raises(MalformedTextError, "{path}:1: " + NOT_A_POEM)),
    _case("extra_fields", {"p.jsonl": json.dumps(
        {"paragraphs": ["a b"], "rhythm": 5, "notes": None}) + "\n"},
        Returns(["a b"])),
    _case("lines_that_are_lists", {"p.jsonl": "[1, 2]\n[3]\n"}, Raises(
        poems.NoPoemsError, "{path}: no poem object (with `paragraphs`) in 2 "
        "records")),
    _case("a_json_string", {"p.json": '"poems"'}, Raises(
        MalformedTextError, "{path}: expected a list of poem objects, got "
        "str")),
    # JSON lines end at \n or \r\n; a lone \r inside one is JSON
    # whitespace, or, raw inside a string, not JSON.
    _case("crlf_line_ends_jsonl",
          {"p.jsonl": POEM + "\r\n\r\n" + POEM + "\r\n"},
          Returns(["床前明月光", "床前明月光"])),
    _case("lone_cr_between_json_tokens_jsonl",
          {"p.jsonl": '{"paragraphs":\r["床前", "明月光"]\r}\n' + POEM},
          Returns(["床前明月光", "床前明月光"])),
    _case("lone_cr_inside_a_json_string_jsonl",
          {"p.jsonl": POEM + '\n{"paragraphs": ["床前\r明月光"]}\n'},
          Raises(MalformedTextError, "{path}:2: not JSON (Invalid control "
                 "character at)")),
    _case("utf8_byte_order_mark_jsonl", {"p.jsonl": "\ufeff" + POEM + "\r\n"},
          Returns(["床前明月光"])),
    _case("trailing_tab_jsonl", {"p.jsonl": POEM + "\t\n"},
          Returns(["床前明月光"])),
    # Old Mac line ends: a file without \n whose lines end in a lone \r; a
    # line separator that JSON keeps unescaped ends no line.
    _case("cr_line_ends_jsonl", {"p.jsonl": POEM + "\r" + POEM + "\r"},
          Returns(["床前明月光", "床前明月光"])),
    _case("cr_line_ends_gzipped_jsonl",
          {"p.jsonl.gz": _gz(("\ufeff" + POEM + "\r\r" + POEM).encode())},
          Returns(["床前明月光", "床前明月光"])),
    _case("unicode_line_separators_in_a_poem", {"p.jsonl": json.dumps(
        {"paragraphs": ["a\u2028b", "c\x85d\x1ce"]}, ensure_ascii=False)
        + "\n"}, Returns(["a\u2028bc\x85d\x1ce"])),
    # Folders and paths.
    _case("folder_named_like_a_poem_file",
          {"a.json": POEM, "b.json": FOLDER}, Returns(["床前明月光"]),
          poems.read_folder),
    _case("empty_file_in_a_folder", {"a.json": POEM, "b.json": ""}, Raises(
        MalformedTextError, "{tmp}/b.json: no poem with any text (the file "
        "is empty or blank)"), poems.read_folder),
    _case("folder_without_poem_files",
          {"README.md": "poems", "authors.json": '[{"name": "a"}]'},
          Raises(ValueError, "{tmp} holds no poem files"), poems.load),
    _case("unknown_file_type", {"poems.csv": "a,b\n"}, Raises(
        ValueError, "{path}: unknown file type"), poems.load),
]


@pytest.mark.parametrize("call, files, outcome, target, kwargs",
                         MALFORMED_FILES)
def test_malformed_files_end_in_a_defined_outcome(
    tmp_path, call, files, outcome, target, kwargs
):
    check_malformed_files(tmp_path, call, files, outcome, target, **kwargs)


# Streaming: `stream` writes the texts to a TFRecord file as it reads them
# once, then streams them back.


def _texts(dataset):
    return [t.decode("utf-8") for t in dataset.as_numpy_iterator()]


def test_stream_poems_holds_out_the_poems_load_holds_out(tmp_path):
    path = write(tmp_path / "p.jsonl", jsonl(many_records(30)))
    folder = str(tmp_path / "records")
    for seed in (0, 1):
        streams = poems.stream(path, folder, test_size=5, seed=seed)
        corpus = poems.load(path, test_size=5, seed=seed)
        assert (streams.train_size, streams.test_size) == (25, 5)
        assert int(streams.train.cardinality()) == 25
        assert int(streams.test.cardinality()) == 5
        assert streams.poems and streams.source == corpus.source
        train, test = _texts(streams.train), _texts(streams.test)
        # The same poems, each split in the order of the file.
        assert sorted(test) == sorted(corpus.test)
        assert sorted(train) == sorted(corpus.train)
        assert test != poems.read_poems(path)[:5]  # Drawn, not the head.
        assert sorted(train + test) == sorted(poems.read_poems(path))
        assert test == [t for t in poems.read_poems(path) if t in test]
    assert os.listdir(folder) == ["texts.tfrecord"]  # Nothing left over.
    # Streamed again from disk: a second pass gives the same texts.
    assert _texts(streams.test) == test


def test_stream_poems_drops_long_ones_and_needs_enough(tmp_path):
    path = write(tmp_path / "p.jsonl", jsonl(many_records(30)))
    folder = str(tmp_path / "records")
    streams = poems.stream(path, folder, test_size=2, max_chars=6)
    corpus = poems.load(path, test_size=2, max_chars=6)
    assert sorted(_texts(streams.train) + _texts(streams.test)) == sorted(
        corpus.train + corpus.test)
    assert streams.source == corpus.source
    with pytest.raises(ValueError, match=r"p\.jsonl: 30 poems, expected "
                       r"more than test_size=30"):
        poems.stream(path, folder, test_size=30)


def test_stream_a_folder_of_poem_files(tmp_path):
    data = tmp_path / "data"
    write(data / "poet.tang.0.json", json.dumps(RECORDS, ensure_ascii=False))
    write(data / "poet.tang.1.jsonl", jsonl(many_records(3)), True)
    write(data / "authors.tang.json", json.dumps([{"name": "李白"}]))
    streams = poems.stream(str(data), str(tmp_path / "records"), test_size=1)
    corpus = poems.load(str(data), test_size=1)
    assert _texts(streams.test) == corpus.test
    assert sorted(_texts(streams.train)) == sorted(corpus.train)


def test_stream_text_holds_out_the_last_windows(tmp_path):
    text = "".join(chr(ord("a") + i % 26) for i in range(100))
    path = write(tmp_path / "t.txt", text, compress=True)
    folder = str(tmp_path / "records")
    streams = poems.stream(path, folder, test_size=3, window=10)
    corpus = poems.load(path, test_size=3, window=10)
    assert not streams.poems and streams.source == corpus.source
    assert (streams.train_size, streams.test_size) == (7, 3)
    assert _texts(streams.train) == corpus.train
    assert _texts(streams.test) == corpus.test
    with pytest.raises(ValueError, match=r"10 windows of 10 characters, "
                       r"expected more than test_size=10"):
        poems.stream(path, folder, test_size=10, window=10)


@pytest.mark.parametrize("kwargs, message", [
    ({"test_size": 0}, r"`test_size`, expected a positive integer, got 0"),
    ({"window": 0}, r"`window`, expected a positive integer, got 0"),
])
def test_stream_rejects_bad_sizes(tmp_path, kwargs, message):
    path = write(tmp_path / "t.txt", "some text " * 20)
    with pytest.raises(ValueError, match=message):
        poems.stream(path, str(tmp_path / "records"), **kwargs)


# Multi-byte characters and lines that chunks of 4 bytes cut anywhere.
CUT_TEXT = "床前明月光，\n疑是地上霜。\r\nab\n" * 3


@pytest.mark.parametrize("compress", [False, True])
def test_text_windows_come_as_the_file_is_read(tmp_path, monkeypatch,
                                               compress):
    monkeypatch.setattr(poems, "READ_SIZE", 4)
    path = write(tmp_path / "t.txt", "\ufeff" + CUT_TEXT, compress)
    found = poems.text_windows(path, 5)
    assert not isinstance(found, list)
    assert list(found) == poems.windows(CUT_TEXT, 5)
    assert poems.read_text(path) == CUT_TEXT


@pytest.mark.parametrize("bad, message", [
    # The bad byte within one chunk, at a chunk's start, and cutting a
    # character that a chunk began short.
    (b"\xff", "not UTF-8 (invalid start byte at byte {at})"),
    (b"\xe5\x8c(", "not UTF-8 (invalid continuation byte at byte {at})"),
    (b"\x00", "NUL byte at byte {at}"),
])
@pytest.mark.parametrize("before", [0, 1, 7, 21])
def test_errors_name_the_same_line_and_byte_in_chunks(
        tmp_path, monkeypatch, bad, message, before):
    head = CUT_TEXT.encode()[:before]
    while True:  # Whole characters only.
        try:
            head.decode()
            break
        except UnicodeDecodeError:
            head = head[:-1]
    path = write(tmp_path / "t.txt", head + bad + b"\nmore text\n")
    line = head.count(b"\n") + 1
    expected = f"{path}:{line}: " + message.format(at=len(head))
    for size in (poems.READ_SIZE, 4, 5):
        monkeypatch.setattr(poems, "READ_SIZE", size)
        with pytest.raises(MalformedTextError) as error:
            poems.read_text(path)
        assert str(error.value).startswith(expected), size


def test_a_failed_stream_leaves_no_file(tmp_path):
    path = write(tmp_path / "p.jsonl", POEM + "\n" + '{"title": "x"}\n')
    folder = tmp_path / "records"
    with pytest.raises(MalformedTextError, match=r"p\.jsonl:2: expected a "
                       r"poem object"):
        poems.stream(path, str(folder))
    assert not folder.exists() or not os.listdir(folder)


def test_stream_tfds_windows_are_loads(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "network_available", lambda *a, **k: True)
    with tfds.testing.mock_data(num_examples=2):
        streams = poems.stream("tiny_shakespeare", str(tmp_path / "records"),
                               window=16, tfds_data_dir=str(tmp_path))
        corpus = poems.load("tiny_shakespeare", window=16,
                            tfds_data_dir=str(tmp_path))
        train, test = _texts(streams.train), _texts(streams.test)
    assert not streams.poems and streams.source == corpus.source
    assert (train, test) == (corpus.train, corpus.test)
    assert train and test
    assert (streams.train_size, streams.test_size) == (len(train), len(test))
    assert int(streams.train.cardinality()) == len(train)
    assert not os.path.exists(tmp_path / "records")  # Not copied.


@pytest.mark.parametrize(
    "files, outcome, target, kwargs",
    [pytest.param(*case.values[1:], id=case.id) for case in MALFORMED_FILES
     if isinstance(case.values[2], Raises)],
)
def test_stream_refuses_what_the_readers_refuse(tmp_path, files, outcome,
                                                target, kwargs):
    (tmp_path / "files").mkdir()
    check_malformed_files(tmp_path / "files", poems.stream, files, outcome,
                          target, folder=str(tmp_path / "records"),
                          test_size=1, **kwargs)


@pytest.mark.parametrize("size", [1, 2, 3, 7])
@pytest.mark.parametrize("text, lines", [
    # Lines end at \n (and \r\n); a lone \r is text.
    ('a\r\nb\rc\n\r\n\u5e8a\r\r\nd\u2028e\r',
     ["a", "b\rc", "", "\u5e8a", "d\u2028e"]),
    ("\ufeffab\n\ncd", ["ab", "", "cd"]),
    # No \n at all: classic Mac line ends.
    ("\ufeffa\rb\u5e8a\r\rc\r", ["a", "b\u5e8a", "", "c"]),
], ids=["lf", "bom_no_last_line_end", "mac"])
def test_jsonl_lines_split_alike_across_read_chunks(tmp_path, monkeypatch,
                                                    size, text, lines):
    path = str(tmp_path / "p.jsonl")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    monkeypatch.setattr(poems, "READ_SIZE", size)
    assert list(poems._lines(path)) == list(enumerate(lines, start=1))


def test_iter_poems_yields_jsonl_poems_as_it_reads_them(tmp_path,
                                                        monkeypatch):
    path = str(tmp_path / "p.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        f.write(POEM + "\n" + POEM + "\n{broken\n")
    monkeypatch.setattr(poems, "READ_SIZE", 8)
    found = poems.iter_poems(path)
    assert next(found) == next(found) == "床前明月光"
    with pytest.raises(MalformedTextError, match=re.escape(
            f"{path}:3: not JSON (")):
        next(found)


@pytest.mark.parametrize("files, outcome", [
    # Other records before the first poem: the first is malformed.
    ({"p.jsonl": '[1]\n{"title": "x"}\n' + POEM + "\n"},
     Raises(MalformedTextError, "{path}:1: " + NOT_A_POEM)),
    ({"p.json": "[]"}, Raises(MalformedTextError, "{path}: no poem with any "
                              "text")),
    ({"p.json": "[" + POEM + ', {"paragraphs": ["\u3002"]}]'},
     Returns(["床前明月光"])),
])
def test_read_poems_records_before_and_without_poems(tmp_path, files,
                                                     outcome):
    check_malformed_files(tmp_path, poems.read_poems, files, outcome)


def test_a_folder_skips_a_file_without_poem_objects(tmp_path, caplog):
    write(str(tmp_path / "a.jsonl"), "[1]\n[2]\n")
    write(str(tmp_path / "b.jsonl"), POEM + "\n")
    assert poems.read_folder(str(tmp_path)) == ["床前明月光"]
    assert "Skipping" in caplog.text and "a.jsonl" in caplog.text


def _marked(texts):
    """Ids of the characters (their code points, mod 50, plus 4) between
    markers 2 and 3: a stand-in for a model's reading of its texts."""
    codes = tf.strings.unicode_decode(texts, "UTF-8")
    ids = codes.with_flat_values(codes.flat_values % 50 + 4)
    n = ids.nrows()
    return tf.concat([tf.fill([n, 1], 2), ids, tf.fill([n, 1], 3)], axis=1)


MARKED_TEXTS = ["春山", "水", "", "山水春"]


def test_id_chunks_rows_and_mean_targets():
    texts = tf.data.Dataset.from_tensor_slices(MARKED_TEXTS)
    chunks = poems.id_chunks(texts, _marked, chunk=3)
    assert [int(c.nrows()) for c in chunks] == [3, 1]
    rows = [row.tolist() for row in poems.rows(chunks)]
    assert rows == _marked(tf.constant(MARKED_TEXTS)).to_list()
    # Predicted: every id but the first (characters and the end marker).
    assert poems.mean_targets(chunks) == pytest.approx((3 + 2 + 1 + 4) / 4)


@pytest.mark.parametrize("bucket", [True, False])
def test_shifted_batches_pair_each_text_with_itself_one_step_on(bucket):
    texts = tf.data.Dataset.from_tensor_slices(MARKED_TEXTS)
    batches = poems.shifted_batches(texts, _marked, 3, longest=10,
                                    bucket=bucket)
    found = []
    for inputs, targets in batches:
        assert inputs.shape == targets.shape and inputs.shape[0] <= 3
        for x, y in zip(inputs.numpy(), targets.numpy()):
            found.append(([i for i in x if i], [i for i in y if i]))
    expected = [(ids[:-1], ids[1:]) for ids in _marked(
        tf.constant(MARKED_TEXTS)).to_list()]
    assert sorted(found) == sorted(expected)
