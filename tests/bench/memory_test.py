"""bench.memory: generated corpora, peak memory of a child, a quick run."""

import importlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from absl import app
from absl import flags

from bench import memory
from zoo.data import conll
from zoo.data import labelled_text
from zoo.data import mnist
from zoo.data import pairs
from zoo.data import poems
from zoo.training import flags as zoo_flags

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_digits_are_bright_strokes_on_black():
    images = memory.digits(50, np.random.default_rng(0))
    assert images.shape == (50, 28, 28) and images.dtype == np.uint8
    assert set(np.unique(images)) == {0, 255}
    lit = (images == 255).sum(axis=(1, 2))
    assert lit.min() >= 9 and lit.max() <= 3 * 9  # Three crosses of 9.


def test_write_corpus_writes_mnist_idx_files_in_chunks(tmp_path):
    written = memory.write_corpus(str(tmp_path), train=25, test=7, chunk=10)
    splits = mnist.load(str(tmp_path))
    assert splits.train_images.shape == (25, 28, 28)
    assert splits.test_images.shape == (7, 28, 28)
    assert set(splits.train_labels) <= set(range(10))
    assert written == (16 + 25 * 784) + (8 + 25) + (16 + 7 * 784) + (8 + 7)
    # Chunks continue one random stream: not the same strokes repeated.
    assert not np.array_equal(splits.train_images[:10],
                              splits.train_images[10:20])


def test_peak_memory_is_the_childs_largest_resident_set():
    small, _ = memory.peak_memory([sys.executable, "-c", "pass"])
    large, seconds = memory.peak_memory(
        [sys.executable, "-c", "x = bytearray(300 * 2**20); x[::4096] = "
         "b'1' * len(x[::4096])"])
    assert large - small > 250
    assert seconds > 0


def test_peak_memory_reports_a_failed_command():
    with pytest.raises(RuntimeError, match=r"(?s)failed:\n.*ZeroDivisionError"):
        memory.peak_memory([sys.executable, "-c", "1 / 0"])


def test_table_has_one_row_per_recipe_and_scale():
    result = {"rows": [
        {"recipe": "mnist_rnn", "scale": 1, "examples": 700,
         "corpus_mb": 0.5, "peak_rss_mb": 700.4, "seconds": 12.2},
        {"recipe": "tagger", "scale": 10, "examples": 6000,
         "corpus_mb": 5.2, "peak_rss_mb": 705.0, "seconds": 20.0},
    ]}
    assert memory.table(result).splitlines()[2:] == [
        "| mnist_rnn | x1 | 700 | 0 | 700 | 12 |",
        "| tagger | x10 | 6,000 | 5 | 705 | 20 |"]


def _write(recipe, tmp_path, divide=1000):
    sizes = {split: max(2, count // divide)
             for split, count in memory.CORPORA[recipe].items()}
    data, written = memory.WRITERS[recipe](
        str(tmp_path), sizes, np.random.default_rng(0))
    on_disk = sum(os.path.getsize(os.path.join(tmp_path, name))
                  for name in os.listdir(tmp_path))
    assert written == on_disk
    return data, sizes


def test_sentiment_corpus_reads_as_labelled_text(tmp_path):
    data, sizes = _write("sentiment", tmp_path)
    splits = labelled_text.load(data)
    assert len(splits.train_texts) == sizes["train"]
    assert len(splits.test_texts) == sizes["test"]
    assert splits.class_names == ["0", "1"]
    lengths = [len(t.split()) for t in splits.train_texts]
    assert 4 <= min(lengths) and max(lengths) <= 40


def test_tagger_corpus_reads_as_conll_with_a_tag_per_word(tmp_path):
    data, sizes = _write("tagger", tmp_path)
    splits = conll.load(data)
    assert [len(splits.train_tokens), len(splits.dev_tokens),
            len(splits.test_tokens)] == [sizes["train"], sizes["dev"],
                                         sizes["test"]]
    tag_of = {}
    for tokens, tags in zip(splits.train_tokens, splits.train_tags):
        for token, tag in zip(tokens, tags):
            assert tag_of.setdefault(token, tag) == tag


def test_translate_corpus_reads_as_pairs(tmp_path):
    data, sizes = _write("translate", tmp_path, divide=100)
    splits = pairs.load(data, test_size=10)
    assert len(splits.train_sources) + 10 == sizes["pairs"]
    assert any("ñ" in t or "á" in t for t in splits.train_targets)


def test_poetry_corpus_reads_as_poems(tmp_path):
    data, sizes = _write("poetry", tmp_path, divide=100)
    corpus = poems.load(data, test_size=10)
    assert len(corpus.train) + 10 == sizes["poems"]
    assert corpus.poems
    assert all(len(poem) <= 8 * 8 for poem in corpus.train)


def test_words_are_distinct_and_sentences_mostly_frequent_words():
    rng = np.random.default_rng(0)
    vocabulary = memory.words(rng, count=100)
    assert len(set(vocabulary)) == 100
    drawn = [w for s in memory.sentences(rng, vocabulary, 200) for w in s]
    ranks = sorted(vocabulary.index(w) for w in drawn)
    assert ranks[len(ranks) // 2] < 20  # Half the draws: the first fifth.


@pytest.mark.parametrize("recipe", sorted(memory.RECIPE_FLAGS))
def test_recipe_flags_are_the_recipes_own(recipe):
    module = importlib.import_module(f"zoo.recipes.{recipe}")
    values = flags.FlagValues()
    zoo_flags.define_flags(module.Config, values)
    values(["prog", *memory.RECIPE_FLAGS[recipe],
            *([f"--test_size={memory.TEST_SIZES[recipe]}"]
              if recipe in memory.TEST_SIZES else [])])
    if recipe in memory.TEST_SIZES:
        assert values["test_size"].default == memory.TEST_SIZES[recipe]


def test_main_rejects_unknown_recipes():
    values = flags.FlagValues()
    memory.define_flags(values)
    values(["prog", "--recipes=sentiment,nope"])
    with pytest.raises(app.UsageError, match="--recipes must name some of "
                       "mnist_rnn, sentiment, tagger, translate, poetry, got "
                       r"\['sentiment', 'nope'\]"):
        memory.main(["prog"], values)


@pytest.mark.parametrize("scales", [["a"], ["0"], ["1", "-2"]])
def test_main_rejects_bad_scales(scales):
    values = flags.FlagValues()
    memory.define_flags(values)
    values(["prog", f"--scales={','.join(scales)}"])
    with pytest.raises(app.UsageError, match="--scales must be whole numbers"):
        memory.main(["prog"], values)


def test_importing_defines_no_flags():
    assert "scales" not in flags.FLAGS


@pytest.mark.slow
def test_quick_run_writes_a_table_and_json(tmp_path):
    output = tmp_path / "memory.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.memory", "--quick", "--scales=1,2",
         "--recipes=mnist_rnn,sentiment",
         f"--workdir={tmp_path / 'work'}", f"--output={output}"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # Each split is cut to its share: 9,512 * 2 // 100 + 1,056 * 2 // 100.
    assert "| sentiment | x2 | 211 |" in done.stdout
    result = json.loads(output.read_text())
    assert [(row["recipe"], row["examples"]) for row in result["rows"]] == [
        ("mnist_rnn", 700), ("mnist_rnn", 1400), ("sentiment", 105),
        ("sentiment", 211)]
    assert all(row["peak_rss_mb"] > 100 for row in result["rows"])
    assert result["quick"] is True
    assert not os.listdir(tmp_path / "work")  # Corpora and runs removed.
