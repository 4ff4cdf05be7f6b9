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
        (b"caf\xe9\tcafe", r"pairs.tsv:3: not UTF-8"),
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
