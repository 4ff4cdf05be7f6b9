"""Tests for zoo.layers.attention: scores, masks and shapes."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.layers import attention
from zoo.layers.attention import SequenceAttention
from zoo.testing import random_array
from zoo.testing import run_docstring_examples
from zoo.training import precision

# Rows: right-padded, left-padded, a hole, empty (all padding).
MASK = np.array(
    [
        [True, True, True, False, False],
        [False, False, True, True, True],
        [True, False, True, True, False],
        [False] * 5,
    ]
)
QUERY = random_array((4, 2, 3), 1)
VALUE = random_array((4, 5, 3), 2)
LAYERS = {
    "bahdanau": dict(score="bahdanau", units=4),
    "luong_dot": dict(score="luong_dot"),
    "luong_general": dict(score="luong_general"),
}


def _layer(name, seed=0):
    keras.utils.set_random_seed(seed)
    layer = SequenceAttention(**LAYERS[name])
    layer(QUERY, VALUE)  # Builds.
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(size=w.shape) for w in layer.get_weights()])
    return layer


def _softmax_masked(scores, mask):
    """Softmax over the real values of each row; zeros for empty rows."""
    scores = np.where(mask[:, None, :], scores, -np.inf)
    top = np.max(scores, axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    e = np.where(mask[:, None, :], np.exp(scores - top), 0.0)
    total = e.sum(-1, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)


def _reference_scores(layer, name):
    q, v = QUERY.astype("float64"), VALUE.astype("float64")
    if name == "luong_dot":
        return q @ np.swapaxes(v, 1, 2)
    if name == "luong_general":
        (kernel,) = layer.key_projection.get_weights()
        return q @ np.swapaxes(v @ kernel, 1, 2)
    (w_query,) = layer.query_projection.get_weights()
    w_key, b_key = layer.key_projection.get_weights()
    (scale,) = layer.attention.get_weights()
    # [batch, time_q, 1, units] + [batch, 1, time_v, units].
    hidden = np.tanh((q @ w_query)[:, :, None, :] + (v @ w_key + b_key)[:, None])
    return (hidden * scale).sum(-1)


@pytest.mark.parametrize("name", LAYERS)
def test_weights_and_context_match_a_numpy_reference(name):
    layer = _layer(name)
    context, weights = layer(QUERY, VALUE, value_mask=MASK)
    expected = _softmax_masked(_reference_scores(layer, name), MASK)
    np.testing.assert_allclose(weights, expected, atol=1e-5)
    np.testing.assert_allclose(context, expected @ VALUE, atol=1e-5)


@pytest.mark.parametrize("name", LAYERS)
def test_weights_sum_to_one_over_real_values_and_are_zero_on_padding(name):
    _, weights = _layer(name)(QUERY, VALUE, value_mask=MASK)
    weights = np.asarray(weights)
    np.testing.assert_allclose(weights.sum(-1)[:3], 1.0, atol=1e-6)
    assert np.all(weights[np.broadcast_to(~MASK[:, None, :], weights.shape)] == 0)
    assert np.all(weights[3] == 0)  # An empty source: no weight anywhere.


@pytest.mark.parametrize("name", LAYERS)
def test_more_padding_changes_nothing_and_one_step_equals_a_sequence(name):
    layer = _layer(name)
    context, weights = layer(QUERY, VALUE, value_mask=MASK)
    padded = np.concatenate([VALUE, random_array((4, 2, 3), 3)], axis=1)
    mask = np.concatenate([MASK, np.zeros((4, 2), bool)], axis=1)
    more_context, more_weights = layer(QUERY, padded, value_mask=mask)
    np.testing.assert_allclose(more_context, context, atol=1e-6)
    np.testing.assert_allclose(np.asarray(more_weights)[:, :, :5], weights, atol=1e-6)
    step_context, step_weights = layer(QUERY[:, 1], VALUE, value_mask=MASK)
    np.testing.assert_allclose(step_context, np.asarray(context)[:, 1], atol=1e-6)
    np.testing.assert_allclose(step_weights, np.asarray(weights)[:, 1], atol=1e-6)


@pytest.mark.parametrize("name", LAYERS)
def test_gradients_reach_every_weight(name):
    layer = _layer(name)
    with tf.GradientTape() as tape:
        context, _ = layer(QUERY, VALUE, value_mask=MASK)
        loss = tf.reduce_sum(context ** 2)
    grads = tape.gradient(loss, layer.trainable_weights)
    assert len(grads) == {"bahdanau": 4, "luong_dot": 0, "luong_general": 1}[name]
    assert all(np.any(np.asarray(g) != 0) for g in grads)


@pytest.mark.parametrize("name", LAYERS)
def test_config_round_trip(name):
    layer = _layer(name)
    clone = SequenceAttention.from_config(layer.get_config())
    clone(QUERY, VALUE)
    clone.set_weights(layer.get_weights())
    assert clone.get_config() == layer.get_config()
    for got, expected in zip(clone(QUERY, VALUE, value_mask=MASK),
                             layer(QUERY, VALUE, value_mask=MASK)):
        np.testing.assert_allclose(got, expected, atol=1e-6)


def test_runs_in_a_functional_model_with_unknown_lengths():
    query = keras.Input((None, 3))
    value = keras.Input((None, 3))
    mask = keras.Input((None,), dtype="bool")
    outputs = SequenceAttention("luong_dot")(query, value, value_mask=mask)
    model = keras.Model([query, value, mask], outputs)
    context, weights = model([QUERY, VALUE, MASK])
    assert context.shape == (4, 2, 3) and weights.shape == (4, 2, 5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(score="cosine"),
         "Received an invalid value for argument `score`"),
        (dict(score="bahdanau"),
         "Received an invalid value for argument `units`, expected a "
         "positive integer"),
        (dict(score="luong_general", units=4),
         "Received an invalid value for argument `units`, expected None with "
         "score 'luong_general'"),
    ],
)
def test_invalid_arguments_rejected(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        SequenceAttention(**kwargs)


def test_luong_dot_needs_equal_widths():
    with pytest.raises(ValueError, match=re.escape(
        "needs queries and values of one width, got 3 and 4"
    )):
        SequenceAttention("luong_dot")(QUERY, random_array((4, 5, 4), 5))


def test_docstring_examples():
    run_docstring_examples(attention)


def test_query_mask_passes_on_to_context_and_weights():
    query_mask = np.array([[True, False]] * 4)
    query = keras.layers.Masking()(
        np.where(query_mask[:, :, None], QUERY, 0.0).astype("float32")
    )
    context, weights = SequenceAttention("luong_dot")(query, VALUE)
    for output in (context, weights):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(output._keras_mask), query_mask
        )


def test_without_a_query_mask_outputs_have_none():
    context, weights = SequenceAttention("luong_dot")(QUERY, VALUE)
    assert getattr(context, "_keras_mask", None) is None
    assert getattr(weights, "_keras_mask", None) is None


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("name", LAYERS)
def test_under_mixed_precision_the_weights_are_float32(name, policy):
    reference = _layer(name)
    want_context, want_weights = reference(QUERY, VALUE, value_mask=MASK)
    with precision.applied(policy, gpus=[]):
        layer = SequenceAttention(**LAYERS[name])
        layer(QUERY, VALUE)
    layer.set_weights(reference.get_weights())
    context, weights = layer(QUERY, VALUE, value_mask=MASK)
    assert weights.dtype == "float32"
    assert context.dtype == policy.split("_")[1]
    weights = np.asarray(weights)
    np.testing.assert_allclose(weights.sum(-1)[:3], 1.0, atol=1e-6)
    assert np.all(weights[np.broadcast_to(~MASK[:, None, :], weights.shape)]
                  == 0)
    # Queries, values and projections in 16 bits: bfloat16 keeps 8 bits.
    atol = 0.05 if policy == "mixed_bfloat16" else 5e-3
    np.testing.assert_allclose(weights, want_weights, atol=atol)
    np.testing.assert_allclose(np.asarray(context, "float32"), want_context,
                               atol=atol * 4)
