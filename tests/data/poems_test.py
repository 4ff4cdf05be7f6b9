"""Tests for zoo.data.poems: poem files, text windows, splits and tfds."""

import gzip
import json
import os
import time

import pytest
import tensorflow_datasets as tfds

from zoo import testing
from zoo.data import poems
from zoo.data import sources
from zoo.data.poems import MalformedTextError

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
