"""Tests for zoo.layers.ngrams: MultiHotDense and ProductOfExperts."""

import os

import keras
import numpy as np
import pytest

from zoo.layers import ngrams
from zoo.layers.ngrams import MultiHotDense
from zoo.layers.ngrams import ProductOfExperts
from zoo.testing import run_docstring_examples
from zoo.testing import run_layer_test
from zoo.testing import run_serialization_test


def _dense(input_dims, units, seed=0, activation=None):
    layer = MultiHotDense(input_dims, units, activation=activation)
    layer.build([None, None])
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(size=w.shape).astype("float32")
                       for w in layer.get_weights()])
    return layer


def _multi_hot(ids, size):
    """The dense encoding the layer avoids building: 1 where an id occurs."""
    encoding = np.zeros((len(ids), size), "float32")
    for row, row_ids in enumerate(ids):
        for i in row_ids:
            if i:
                encoding[row, i] = 1.0
    return encoding


def test_multi_hot_dense_counts_each_distinct_id_once_and_never_padding():
    ids = np.array([[3, 1, 3, 0, 3], [0, 0, 0, 0, 0], [0, 2, 0, 4, 4]])
    layer = _dense(5, 2)
    kernel, bias = layer.get_weights()
    expected = _multi_hot(ids, 5) @ kernel + bias
    np.testing.assert_allclose(np.asarray(layer(ids)), expected, atol=1e-5)


def test_multi_hot_dense_gives_each_id_tensor_its_own_block_of_rows():
    words = np.array([[1, 2, 0], [2, 2, 2]])
    pairs = np.array([[1, 0], [3, 1]])
    layer = _dense([3, 4], 2)
    kernel, bias = layer.get_weights()
    expected = (_multi_hot(words, 3) @ kernel[:3]
                + _multi_hot(pairs, 4) @ kernel[3:] + bias)
    np.testing.assert_allclose(np.asarray(layer([words, pairs])), expected,
                               atol=1e-5)


def test_multi_hot_dense_activation_and_shapes():
    layer = _dense(6, 3, activation="softmax")
    ids = np.array([[1, 5, 2, 0], [4, 4, 0, 0]], "float32")
    output = run_layer_test(layer, ids, (2, 3))
    np.testing.assert_allclose(np.asarray(output).sum(-1), 1.0, atol=1e-6)


def test_multi_hot_dense_serialization():
    run_serialization_test(
        _dense([6], 2, activation="softmax"),
        np.array([[1, 5, 2, 0], [4, 4, 0, 0]], "float32"),
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(input_dims=0, units=2), r"`input_dims`.*0"),
        (dict(input_dims=[5, -1], units=2), r"`input_dims`.*-1"),
        (dict(input_dims=[], units=2), r"`input_dims`.*at least one"),
        (dict(input_dims=5, units=0), r"`units`.*0"),
    ],
)
def test_multi_hot_dense_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MultiHotDense(**kwargs)


def test_multi_hot_dense_rejects_the_wrong_number_of_id_tensors():
    layer = _dense([3, 4], 2)
    with pytest.raises(ValueError, match=r"2 vocabularies.*called on 1 id"):
        layer([np.array([[1, 2]])])


def test_product_of_experts_is_the_renormalised_weighted_geometric_mean():
    p = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]], "float32")
    q = np.array([[0.1, 0.1, 0.8], [0.5, 0.25, 0.25]], "float32")
    found = np.asarray(ProductOfExperts([0.7, 0.3])([p, q]))
    expected = p ** 0.7 * q ** 0.3
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(found, expected, atol=1e-6)


def test_product_of_experts_with_weights_one_and_zero_is_the_first():
    p = np.array([[0.6, 0.4]], "float32")
    q = np.array([[0.01, 0.99]], "float32")
    np.testing.assert_allclose(
        np.asarray(ProductOfExperts([1.0, 0.0])([p, q])), p, atol=1e-6)


def test_product_of_experts_scale_sharpens_without_changing_the_argmax():
    p = np.array([[0.6, 0.4]], "float32")
    found = np.asarray(ProductOfExperts([2.0])([p]))
    np.testing.assert_allclose(found, [[0.36 / 0.52, 0.16 / 0.52]], atol=1e-6)


def test_product_of_experts_survives_a_keras_file(tmp_path):
    a = keras.Input((2,))
    b = keras.Input((2,))
    model = keras.Model([a, b], ProductOfExperts([0.25, 0.5])([a, b]))
    p = np.array([[0.3, 0.7]], "float32")
    q = np.array([[0.9, 0.1]], "float32")
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(reloaded([p, q])),
                               np.asarray(model([p, q])), atol=1e-6)
    assert reloaded.layers[-1].get_config() == model.layers[-1].get_config()


@pytest.mark.parametrize("weights", [[], [0.5, -0.1], [float("nan")]])
def test_product_of_experts_rejects_bad_weights(weights):
    with pytest.raises(ValueError, match=r"`weights`.*non-negative"):
        ProductOfExperts(weights)


def test_product_of_experts_rejects_the_wrong_number_of_experts():
    p = np.array([[0.5, 0.5]], "float32")
    with pytest.raises(ValueError, match=r"2 weights but was called on 1"):
        ProductOfExperts([0.5, 0.5])([p])


def test_docstring_examples():
    run_docstring_examples(ngrams)
