"""Tests for zoo.layers.tokens: TokensToIds, TokensToCharIds and CharCNN."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.layers import tokens
from zoo.layers.tokens import CharCNN
from zoo.layers.tokens import TokensToCharIds
from zoo.layers.tokens import TokensToIds
from zoo.testing import run_docstring_examples
from zoo.testing import run_serialization_test


def _ids(layer, batch):
    return layer(tf.constant(batch)).numpy().tolist()


# TokensToIds


def test_word_ids_padding_unknown_and_case():
    layer = TokensToIds(10, vocabulary=["the", "cat"])
    ids = layer(tf.constant([["The", "cat", "sat"], ["cat", "", ""]]))
    assert ids.dtype == tf.int64
    assert ids.numpy().tolist() == [[2, 3, 1], [3, 0, 0]]
    cased = TokensToIds(10, lowercase=False, vocabulary=["the", "cat"])
    assert _ids(cased, [["The", "the"]]) == [[1, 2]]


def test_word_ids_adapt_counts_lowercased_words_and_min_count():
    layer = TokensToIds(10, min_count=2)
    layer.adapt([["The", "the", "cat"], ["dog", "cat", "the"], [""]])
    # "the" x3, "cat" x2, "dog" x1 (dropped): most frequent first.
    assert layer.get_vocabulary() == ["", "[UNK]", "the", "cat"]
    capped = TokensToIds(3)
    capped.adapt([["b", "a", "a"]])
    assert capped.get_vocabulary() == ["", "[UNK]", "a"]


def test_word_ids_a_corpus_token_named_like_the_unknown_id_stays_unknown():
    layer = TokensToIds(10, lowercase=False)
    layer.adapt([["[UNK]", "a", "[UNK]"]])
    assert layer.get_vocabulary() == ["", "[UNK]", "a"]
    assert _ids(layer, [["[UNK]", "a"]]) == [[1, 2]]
    with pytest.raises(ValueError, match=r"holding '\[UNK\]', the name of the unknown id"):
        TokensToIds(10, vocabulary=["a", "[UNK]"])


def test_tokens_holding_a_nul_stay_unknown_and_cannot_be_entries():
    words = TokensToIds(10, lowercase=False)
    words.adapt([["a\0b", "c"]])
    assert words.get_vocabulary() == ["", "[UNK]", "c"]
    assert _ids(words, [["a\0b", "c"]]) == [[1, 2]]
    chars = TokensToCharIds()
    chars.adapt([["a\0"]])
    assert chars.get_vocabulary() == ["", "[UNK]", "a"]
    for make in (lambda: TokensToIds(10, vocabulary=["a", "\0b"]),
                 lambda: TokensToCharIds(vocabulary=["a", "\0"])):
        with pytest.raises(ValueError, match=r"holding a NUL character, "
                           r"which a lookup table cannot hold: \["):
            make()


def test_word_ids_invalid_utf8_and_empty_batches():
    layer = TokensToIds(10, vocabulary=["x"])
    assert _ids(layer, [[b"\xff\xfe", "x"]]) == [[1, 2]]
    assert layer(tf.zeros([2, 0], tf.string)).shape == (2, 0)


def test_word_ids_rejections():
    with pytest.raises(ValueError, match=r"`max_tokens`, expected an integer >= 3"):
        TokensToIds(2)
    with pytest.raises(ValueError, match=r"`min_count`, expected a positive"):
        TokensToIds(5, min_count=0)
    with pytest.raises(ValueError, match=r"vocabulary of 4 tokens, expected at most"):
        TokensToIds(5, vocabulary=list("abcd"))
    with pytest.raises(ValueError, match=r"empty string, which is reserved"):
        TokensToIds(5, vocabulary=["a", ""])
    with pytest.raises(ValueError, match=r"no tokens given"):
        TokensToIds(5).adapt([["", ""]])


def test_word_ids_config_round_trip():
    layer = TokensToIds(10, lowercase=False, min_count=3, vocabulary=["a"])
    clone = TokensToIds.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert _ids(clone, [["a", "A", ""]]) == [[2, 1, 0]]


# TokensToCharIds


def test_char_ids_width_is_the_longest_kept_token():
    layer = TokensToCharIds(max_chars=6, vocabulary=list("abc"))
    assert _ids(layer, [["a", "cab"], ["b", ""]]) == [
        [[2, 0, 0], [4, 2, 3]],
        [[3, 0, 0], [0, 0, 0]],
    ]


def test_char_ids_long_tokens_keep_prefix_and_suffix():
    layer = TokensToCharIds(max_chars=5, vocabulary=list("abcdefgh"))
    # 5 kept of "abcdefgh": the first 2 and the last 3.
    assert _ids(layer, [["abcdefgh"]]) == [[[2, 3, 7, 8, 9]]]


def test_char_ids_unknown_unicode_and_empty_batches():
    layer = TokensToCharIds(max_chars=4, vocabulary=["é", "a"])
    assert _ids(layer, [["aéz", b"\xff"]]) == [[[3, 2, 1], [1, 0, 0]]]
    assert _ids(layer, [["", ""]]) == [[[0], [0]]]  # At least one position.
    assert layer(tf.zeros([3, 0], tf.string)).shape == (3, 0, 1)
    assert layer(tf.zeros([0, 3], tf.string)).shape == (0, 3, 1)


def test_char_ids_adapt_and_rejections():
    layer = TokensToCharIds(max_symbols=4, min_count=2)
    layer.adapt([["aab", "cb"], ["d"]])
    assert layer.get_vocabulary() == ["", "[UNK]", "a", "b"]
    with pytest.raises(ValueError, match=r"`max_chars`, expected a positive"):
        TokensToCharIds(max_chars=0)
    with pytest.raises(ValueError, match=r"`max_symbols`, expected an integer >= 3"):
        TokensToCharIds(max_symbols=1)
    with pytest.raises(ValueError, match=r"not single characters: \['ab'\]"):
        TokensToCharIds(vocabulary=["a", "ab"])
    with pytest.raises(ValueError, match=r"vocabulary of 2 characters"):
        TokensToCharIds(max_symbols=3, vocabulary=["a", "b"])
    with pytest.raises(ValueError, match=r"no characters given"):
        TokensToCharIds().adapt([[""]])


# CharCNN


def _cnn():
    layer = CharCNN(vocabulary_size=6, embedding_dim=3, filters=4,
                    kernel_size=2)
    layer.build((None, None, None))
    rng = np.random.default_rng(0)
    layer.set_weights([rng.normal(size=w.shape) for w in layer.get_weights()])
    return layer


def test_char_cnn_ignores_char_padding_and_zeros_empty_tokens():
    layer = _cnn()
    ids = np.array([[[2, 3, 0, 0], [0, 0, 0, 0]], [[4, 0, 0, 0], [5, 2, 3, 1]]])
    out = keras.ops.convert_to_numpy(layer(ids))
    assert out.shape == (2, 2, 4)
    np.testing.assert_array_equal(out[0, 1], 0.0)  # A padded token.
    # The same token with more trailing padding gives the same features.
    wider = keras.ops.convert_to_numpy(layer(np.pad(ids, [(0, 0)] * 2 + [(0, 3)])))
    np.testing.assert_allclose(wider, out, atol=1e-6)
    # Features are a max over real characters only: equal to the token alone.
    alone = keras.ops.convert_to_numpy(layer(np.array([[[2, 3]]])))
    np.testing.assert_allclose(alone[0, 0], out[0, 0], atol=1e-6)


# `TokensToCharIds` gives at least one character position.
@pytest.mark.parametrize("shape", [(0, 3, 4), (2, 0, 4), (0, 3, 1)])
def test_char_cnn_of_no_tokens_has_filters_channels(shape):
    # TensorFlow's convolution of no rows alone keeps its input's channels.
    layer = _cnn()
    out = tf.function(layer)(tf.zeros(shape, tf.int32))
    assert tuple(out.shape) == (*shape[:2], 4)


def test_char_cnn_masks_tokens_without_characters():
    ids = keras.Input((None, None), dtype="int32")
    words = keras.Input((None,), dtype="int32")
    # Concatenated with a masked word embedding, the mask stays the words'.
    merged = keras.layers.Concatenate()([
        keras.layers.Embedding(5, 2, mask_zero=True)(words), _cnn()(ids)
    ])
    model = keras.Model([words, ids], merged)
    out = model([np.array([[3, 0]]), np.array([[[2, 1], [0, 0]]])])
    assert out._keras_mask.numpy().tolist() == [[True, False]]


def test_char_cnn_gradients_reach_every_weight():
    layer = _cnn()
    ids = tf.constant([[[2, 3, 4, 0]]])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(ids) ** 2)
    grads = tape.gradient(loss, layer.trainable_weights)
    assert len(grads) == 3 and all(np.any(g != 0) for g in map(tf.convert_to_tensor, grads))


def test_char_cnn_serialization_and_rejections():
    run_serialization_test(_cnn(), np.array([[[2, 3, 0], [1, 5, 4]]]))
    with pytest.raises(ValueError, match=r"`filters`, expected a positive"):
        CharCNN(5, filters=0)
    with pytest.raises(ValueError, match=r"`vocabulary_size`, expected a positive"):
        CharCNN(-1)


def test_docstring_examples():
    run_docstring_examples(tokens)
