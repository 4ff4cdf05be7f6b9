"""Tests of zoo.models.tagger: the sequence tagger."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo import testing
from zoo.layers import tokens as token_layers
from zoo.models import tagger

SENTENCES = [["The", "cat", "sat"], ["A", "dog", "ran", "home"]]


def tiny(crf=True, chars=True, **overrides):
    keras.utils.set_random_seed(0)
    words = token_layers.TokensToIds(20, name="word_ids")
    words.adapt(SENTENCES)
    char_ids = None
    if chars:
        char_ids = token_layers.TokensToCharIds(max_chars=6, name="char_ids")
        char_ids.adapt(SENTENCES)
    model = tagger.SequenceTagger(
        words, 4, chars=char_ids, embedding_dim=4, char_embedding_dim=3,
        char_filters=2, units=3, use_crf=crf, **overrides)
    testing.randomize_weights(model, seed=1, scale=1.0)
    return model


@pytest.mark.parametrize("crf", [True, False])
@pytest.mark.parametrize("chars", [True, False])
def test_round_trips_through_config_and_keras_file(crf, chars):
    model = tiny(crf, chars)
    assert (model.crf is not None) == crf
    testing.run_model_serialization_test(
        model, tf.constant([["The", "cat", ""], ["unseen", "", ""]]))


@pytest.mark.parametrize("crf", [True, False])
def test_tags_are_the_best_scores_and_padding_gets_none(crf):
    model = tiny(crf)
    tokens = tf.constant([["The", "cat", "sat", ""], ["", "", "", ""]])
    ids, scores, mask = model.tag(tokens)
    np.testing.assert_array_equal(mask, tokens.numpy() != b"")
    assert not ids.numpy()[1].any() and not scores.numpy()[1].any()
    scores = scores.numpy()
    assert ((scores[0, :3] > 0) & (scores[0, :3] <= 1 + 1e-6)).all()
    if not crf:  # The softmax's best tag and its probability.
        potentials = np.asarray(model(tokens))[0, :3]
        probabilities = np.exp(potentials) / np.exp(potentials).sum(
            -1, keepdims=True)
        np.testing.assert_array_equal(ids[0, :3], probabilities.argmax(-1))
        np.testing.assert_allclose(scores[0, :3], probabilities.max(-1),
                                   atol=1e-5)
    fast, none, _ = model.tag(tokens, scores=False)
    assert none is None
    np.testing.assert_array_equal(fast, ids)
    empty, _, _ = model.tag(tf.zeros([2, 0], tf.string))
    assert empty.shape == (2, 0)


@pytest.mark.parametrize("crf", [True, False])
@pytest.mark.parametrize("chars", [True, False])
def test_tag_ids_is_tag_of_the_ids_the_tokenizers_make(crf, chars):
    model = tiny(crf, chars)
    # A token that starts with NUL has word id 0 (lower-casing empties
    # it) but is still a token: with characters, tag_ids sees it too.
    cases = [[["The", "cat", "sat", ""], ["", "", "", ""]],
             [["unseen", "\x00x", "dog", "home"]]]
    for rows in cases:
        tokens = tf.constant(rows)
        expected = model.tag(tokens)
        found = model.tag_ids(model.words(tokens),
                              model.chars(tokens) if chars else None)
        if not chars and any(t.startswith("\x00") for r in rows for t in r):
            # Without characters, the word id is all there is to go by.
            assert not found[2].numpy()[0, 1] and expected[2].numpy()[0, 1]
            continue
        for want, got in zip(expected, found):
            np.testing.assert_allclose(np.asarray(got), np.asarray(want),
                                       atol=1e-6)
    empty, _, _ = model.tag_ids(tf.zeros([2, 0], tf.int64),
                                tf.zeros([2, 0, 1], tf.int64) if chars
                                else None)
    assert empty.shape == (2, 0)
