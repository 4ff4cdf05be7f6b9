"""Tests of zoo.models.classifier: the text classifier and its product with
an n-gram model."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo import layers
from zoo import ngrams
from zoo import testing
from zoo.models import classifier

TEXTS = ["a good film", "a bad film", "good fun , not bad", "dull"]


def tokenizers(bigrams=True):
    found = {"ids": layers.TextToIds(20, max_length=8, name="text_to_ids")}
    if bigrams:
        found["bigram_ids"] = layers.TextToIds(
            24, max_length=8, bigrams=True, name="text_to_bigram_ids")
    for layer in found.values():
        layer.adapt(TEXTS)
    return found


def tiny(pooling="max", bigrams=True, **overrides):
    keras.utils.set_random_seed(0)
    return classifier.TextClassifier(
        tokenizers(bigrams), 3, embedding_dim=4, units=3, pooling=pooling,
        **overrides)


@pytest.mark.parametrize("pooling", classifier.POOLING)
@pytest.mark.parametrize("bigrams", [False, True])
def test_padding_on_either_side_changes_nothing(pooling, bigrams):
    model = tiny(pooling, bigrams)
    inputs = {"ids": np.array([[5, 9, 2, 7]])}
    if bigrams:
        inputs["bigram_ids"] = np.array([[3, 11, 1, 19]])
    pad = np.zeros((1, 3), np.int64)
    plain = np.asarray(model.classify(inputs, training=False))
    for side in ("right", "left"):
        padded = {k: np.concatenate([v, pad] if side == "right" else [pad, v],
                                    axis=1) for k, v in inputs.items()}
        np.testing.assert_allclose(
            np.asarray(model.classify(padded, training=False)), plain,
            atol=1e-6)


@pytest.mark.parametrize("pooling", ["last", "attention"])
def test_round_trips_through_config_and_keras_file(pooling):
    model = tiny(pooling, bidirectional=False, num_layers=2, cell="gru")
    testing.run_model_serialization_test(model, tf.constant(TEXTS))
    np.testing.assert_allclose(
        np.asarray(model(tf.constant(TEXTS))),
        np.asarray(model.classify(model.ids(tf.constant(TEXTS)))), atol=1e-6)


def test_ngrams_beside_the_network_are_the_product_of_both():
    model = tiny()
    features = model.ngram_features(TEXTS, chunk=3)
    assert features.shape == (4, 20 + 24)
    # The columns are the ids of each tokenizer, one block each.
    ids = model.ids(tf.constant(TEXTS[:1]))
    expected = set(ids["ids"].numpy()[0]) - {0}
    expected |= {20 + i for i in ids["bigram_ids"].numpy()[0] if i}
    assert set(features[0].indices) == expected
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(44, 3)).astype("float32")
    bias = rng.normal(size=(3,)).astype("float32")
    combined = model.with_ngrams(kernel, bias, weight=0.3, scale=1.5)
    network = np.asarray(model(tf.constant(TEXTS)))
    linear = ngrams.probabilities(features, kernel, bias)
    np.testing.assert_allclose(
        np.asarray(combined(tf.constant(TEXTS))),
        ngrams.product(network, linear, 0.3, 1.5), atol=1e-5)
    # Its two steps, the ids in any order of the dict's keys.
    ids = combined.ids(tf.constant(TEXTS))
    for order in (["ids", "bigram_ids"], ["bigram_ids", "ids"]):
        np.testing.assert_allclose(
            np.asarray(combined.classify({k: ids[k] for k in order})),
            ngrams.product(network, linear, 0.3, 1.5), atol=1e-5)


def test_rejects_other_tokenizers_and_poolings():
    with pytest.raises(ValueError, match="tokenizers named words; expected "
                       "`ids` and optionally `bigram_ids`"):
        classifier.TextClassifier({"words": tokenizers(False)["ids"]}, 2)
    with pytest.raises(ValueError, match="argument `pooling`, expected one of"):
        classifier.TextClassifier(tokenizers(False), 2, pooling="sum")
