"""Tests for zoo.layers.text: TextToIds, sanitize and PaddingMonitor."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.layers.text import PaddingMonitor
from zoo.layers.text import TextToIds
from zoo.layers.text import sanitize
from zoo.layers.text import split_bigrams
from zoo.layers.text import standardize
from zoo.testing import run_docstring_examples

# Ids: "" 0 (padding), "[UNK]" 1 (out of vocabulary), then these from 2.
VOCABULARY = ["the", "good", "film", "Bad"]


def _ids(layer, strings):
    return layer(tf.constant(strings)).numpy().tolist()


def _layer(**kwargs):
    arguments = dict(max_tokens=10, max_length=5, vocabulary=VOCABULARY)
    arguments.update(kwargs)
    return TextToIds(**arguments)


# TextToIds


def test_ids_oov_and_right_padding():
    layer = _layer()
    ids = layer(tf.constant(["the good film", "good", "a good plot"]))
    assert ids.dtype == tf.int64
    assert ids.numpy().tolist() == [
        [2, 3, 4],
        [3, 0, 0],  # Padded on the right to the longest row...
        [1, 3, 1],  # ...and unknown tokens are 1.
    ]


def test_width_is_the_longest_row_up_to_max_length():
    layer = _layer(max_length=3)
    assert _ids(layer, ["the", "good"]) == [[2], [3]]
    assert _ids(layer, ["the good film the good", "film"]) == [
        [2, 3, 4],  # Truncated to max_length.
        [4, 0, 0],
    ]


@pytest.mark.parametrize(
    "lowercase, expected",
    [(True, [[2, 3, 4, 1]]), (False, [[1, 1, 4, 5]])],
)
def test_lowercase(lowercase, expected):
    # "Bad" is in the vocabulary as written; lower-cased input never has it.
    layer = _layer(lowercase=lowercase)
    assert _ids(layer, ["THE Good film Bad"]) == expected
    assert layer.lowercase is lowercase


def test_empty_strings_give_one_padding_step():
    assert _ids(_layer(), ["", "", ""]) == [[0], [0], [0]]


def test_zero_size_batch():
    ids = _layer()(tf.constant([], dtype=tf.string))
    assert tuple(ids.shape) == (0, 1)


def test_whitespace_only_and_mixed_whitespace():
    assert _ids(_layer(), [" \t\n ", "  the\tgood\n"]) == [[0, 0], [2, 3]]


def test_invalid_utf8_does_not_raise_and_known_tokens_map():
    # Each U+FFFD that replaces a bad byte is a symbol, so a token of its own.
    ids = _ids(_layer(), [b"\xff\xfe good", b"film \xc3"])
    assert ids == [[1, 1, 3], [4, 1, 0]]


def test_punctuation_is_split_off_by_default():
    layer = _layer(
        max_length=10, vocabulary=["the", "film", "is", "n't", ",", "!"]
    )
    # the=2 film=3 is=4 n't=5 ,=6 !=7; "good" is out of vocabulary.
    assert _ids(layer, ["The film, isn't good!"]) == [[2, 3, 6, 4, 5, 1, 7]]
    kept = _layer(vocabulary=["the", "film"], split_punctuation=False)
    assert _ids(kept, ["The film, isn't"]) == [[2, 1, 1]]  # "film," unknown.


def test_count_tokens_counts_after_standardizing_and_before_truncation():
    layer = _layer(max_length=2)
    counts = layer.count_tokens(tf.constant(["a, b!", "", "one two three"]))
    assert counts.dtype == tf.int64
    assert counts.numpy().tolist() == [4, 0, 3]
    kept = _layer(split_punctuation=False)
    assert kept.count_tokens(tf.constant(["a, b!"])).numpy().tolist() == [2]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Isn't it 'GREAT', Ana?", "is n't it ' great ' , ana ?"),
        ("the actors' film's end--so", "the actors ' film 's end - - so"),
        ("they'd, we'll, I'm, you're, we've", "they 'd , we 'll , i 'm , "
         "you 're , we 've"),
        ("L'ÉTÉ  d'un café", "l'été d'un café"),  # Inner apostrophes stay.
        ("ÀÉÎ Σ", "àéî σ"),  # Unicode lower-casing.
        ("  \t\n ", ""),
        ("(1.5) $", "( 1 . 5 ) $"),
    ],
)
def test_standardize_lowercases_and_splits_punctuation(text, expected):
    result = standardize(tf.constant([text])).numpy()[0].decode()
    assert result == expected


def test_standardize_options():
    text = tf.constant(["Hi, YOU!"])
    assert standardize(text, lowercase=False).numpy()[0] == b"Hi , YOU !"
    assert standardize(text, split_punctuation=False).numpy()[0] == b"hi, you!"
    assert standardize(tf.constant([b"a\xff."])).numpy()[0] == (
        "a \ufffd .".encode()
    )


def test_standardize_docstring_example_runs():
    run_docstring_examples(standardize)


def test_split_bigrams_pairs_each_token_with_the_one_before():
    pairs = split_bigrams(tf.constant(["a b c", "", "x", "  y  z "]))
    assert pairs.to_list() == [
        [b"<s> a", b"a b", b"b c"], [], [b"<s> x"], [b"<s> y", b"y z"],
    ]
    assert split_bigrams(tf.constant([], tf.string)).to_list() == []


def test_split_bigrams_docstring_example_runs():
    run_docstring_examples(split_bigrams)


def test_bigram_ids_line_up_with_token_ids():
    texts = ["The film, bad", "film bad film bad", "", "bad"]
    words = TextToIds(max_tokens=20, max_length=3)
    pairs = TextToIds(max_tokens=20, max_length=3, bigrams=True)
    for layer in (words, pairs):
        layer.adapt(texts)
    assert pairs.get_vocabulary()[:3] == ["", "[UNK]", "film bad"]
    word_ids, pair_ids = _ids(words, texts), _ids(pairs, texts)
    # Same shape, and 0 (padding) at exactly the same positions.
    assert np.array_equal(np.equal(word_ids, 0), np.equal(pair_ids, 0))
    assert len(word_ids[0]) == 3  # Truncated to max_length, pairs too.
    vocabulary = pairs.get_vocabulary()
    assert [vocabulary[i] for i in pair_ids[0]] == ["<s> the", "the film",
                                                    "film ,"]
    assert _ids(pairs, ["bad the"]) == [[vocabulary.index("<s> bad"), 1]]


def test_sanitize_replaces_invalid_bytes():
    result = sanitize(tf.constant([b"ok \xff\xfe", b"\xc3\xa9t\xc3\xa9", b""]))
    assert result.numpy().tolist() == [
        "ok \ufffd\ufffd".encode(), "\u00e9t\u00e9".encode(), b"",
    ]


def test_adapt_builds_the_vocabulary_by_frequency():
    layer = TextToIds(max_tokens=5, max_length=4)
    layer.adapt(["x x y y y z z z z", "w", b"Z \xff"])
    # max_tokens 5: padding, OOV and the three most frequent tokens.
    assert layer.get_vocabulary() == ["", "[UNK]", "z", "y", "x"]
    assert _ids(layer, ["z y x w q"]) == [[2, 3, 4, 1]]


def test_adapt_accepts_a_dataset():
    layer = TextToIds(max_tokens=10, max_length=4)
    layer.adapt(tf.data.Dataset.from_tensor_slices(["b a b", "b"]))
    assert layer.get_vocabulary() == ["", "[UNK]", "b", "a"]


def test_get_config_round_trip_keeps_vocabulary_and_outputs():
    layer = _layer(lowercase=False, split_punctuation=False, name="t2i")
    config = layer.get_config()
    keys = ("max_tokens", "max_length", "lowercase", "split_punctuation",
            "bigrams", "vocabulary")
    assert {k: config[k] for k in keys} == dict(
        max_tokens=10, max_length=5, lowercase=False, split_punctuation=False,
        bigrams=False, vocabulary=VOCABULARY,
    )
    clone = TextToIds.from_config(config)
    assert clone.get_vocabulary() == layer.get_vocabulary()
    assert clone.get_config() == config
    strings = ["THE good Bad film, x", ""]
    assert _ids(clone, strings) == _ids(layer, strings)


def test_get_config_round_trip_of_bigrams():
    layer = TextToIds(max_tokens=10, max_length=4, bigrams=True)
    layer.adapt(["a b a b", "b a"])
    clone = TextToIds.from_config(layer.get_config())
    assert clone.bigrams is True
    assert _ids(clone, ["a b a c"]) == _ids(layer, ["a b a c"])


def test_get_config_after_adapt():
    layer = TextToIds(max_tokens=10, max_length=3)
    assert layer.get_config()["vocabulary"] is None
    layer.adapt(["b a b"])
    clone = TextToIds.from_config(layer.get_config())
    assert _ids(clone, ["a b c"]) == _ids(layer, ["a b c"]) == [[3, 2, 1]]


def test_saved_in_a_keras_file(tmp_path):
    strings = tf.constant(["the good film", "bad the"])
    inputs = keras.Input(shape=(), dtype="string")
    model = keras.Model(inputs, _layer()(inputs))
    path = str(tmp_path / "model.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert reloaded(strings).numpy().tolist() == model(strings).numpy().tolist()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(max_tokens=0),
         "Received an invalid value for argument `max_tokens`, expected a "
         "positive integer, got 0"),
        (dict(max_length=-1),
         "Received an invalid value for argument `max_length`, expected a "
         "positive integer, got -1"),
        (dict(max_length=2.5),
         "Received an invalid value for argument `max_length`, expected a "
         "positive integer, got 2.5"),
    ],
    ids=["max_tokens_0", "max_length_negative", "max_length_float"],
)
def test_invalid_arguments_rejected(kwargs, message):
    arguments = dict(max_tokens=10, max_length=5)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=re.escape(message)):
        TextToIds(**arguments)


def test_docstring_example_runs():
    run_docstring_examples(TextToIds)


# PaddingMonitor

MASK = np.array([[True, True, False, False], [True, True, True, False]])


def _x():
    return np.arange(2 * 4 * 3, dtype="float32").reshape(2, 4, 3)


def test_padding_monitor_is_the_identity_and_passes_the_mask():
    monitor = PaddingMonitor()
    x = _x()
    np.testing.assert_array_equal(np.asarray(monitor(x, mask=MASK)), x)
    assert monitor.compute_mask(x, MASK) is MASK
    assert monitor.compute_mask(x, None) is None


def test_padding_monitor_counts_only_in_training_with_a_mask():
    monitor = PaddingMonitor()
    assert monitor.padded_fraction() == 0.0  # No counts yet.
    monitor(_x(), mask=MASK)
    monitor(_x(), mask=MASK, training=False)
    monitor(_x(), training=True)  # No mask: nothing to count.
    assert float(monitor.total.numpy()) == 0.0
    assert monitor.padded_fraction() == 0.0
    monitor(_x(), mask=MASK, training=True)
    assert float(monitor.real.numpy()) == 5.0
    assert float(monitor.total.numpy()) == 8.0
    assert monitor.padded_fraction() == pytest.approx(3 / 8)
    monitor(_x()[:1], mask=MASK[:1], training=True)  # 2 real of 4 more.
    assert monitor.padded_fraction() == pytest.approx(5 / 12)
    monitor.reset()
    assert float(monitor.real.numpy()) == float(monitor.total.numpy()) == 0.0
    assert monitor.padded_fraction() == 0.0


def test_padding_monitor_counts_the_embedding_mask_in_a_model():
    ids = keras.Input(shape=(None,), dtype="int64")
    embedded = keras.layers.Embedding(5, 2, mask_zero=True)(ids)
    monitor = PaddingMonitor()
    model = keras.Model(ids, monitor(embedded))
    batch = np.array([[1, 2, 0], [3, 0, 0]])
    model(batch, training=True)
    assert monitor.padded_fraction() == pytest.approx(3 / 6)
    model(batch)  # Inference: not counted.
    assert float(monitor.total.numpy()) == 6.0
    assert not monitor.trainable_weights
