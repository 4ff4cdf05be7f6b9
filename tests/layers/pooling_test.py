"""Tests for zoo.layers.pooling: masked mean, max and attention pooling."""

import re

import keras
import numpy as np
import pytest

from zoo.layers.pooling import SequencePooling
from zoo.testing import random_array
from zoo.testing import run_layer_test
from zoo.testing import run_serialization_test
from zoo.testing import run_docstring_examples
from zoo.training import precision

BATCH, TIME, FEATURES, UNITS = 3, 5, 4, 3

# Rows: right-padded, left-padded, fully padded.
MASK = np.array(
    [
        [True, True, True, False, False],
        [False, False, True, True, True],
        [False] * 5,
    ]
)


def _inputs(seed=0):
    x = random_array((BATCH, TIME, FEATURES), seed)
    # Padded steps hold large values: they must never leak into the output.
    return np.where(MASK[:, :, None], x, 50.0).astype("float32")


def _pool(mode, seed=1):
    layer = SequencePooling(mode, attention_units=UNITS)
    layer.build((None, None, FEATURES))
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(size=w.shape).astype("float32")
                       for w in layer.get_weights()])
    return layer


@pytest.mark.parametrize("mode", ["mean", "max", "attention"])
def test_masked_rows_equal_their_unpadded_rows(mode):
    layer = _pool(mode)
    x = _inputs()
    output = np.asarray(layer(x, mask=MASK))
    assert output.shape == (BATCH, FEATURES)
    for b, real in enumerate(MASK[:2]):
        unpadded = np.asarray(layer(x[b : b + 1, real]))[0]
        np.testing.assert_allclose(output[b], unpadded, atol=1e-6)
    np.testing.assert_array_equal(output[2], 0.0)  # Fully padded.
    assert np.abs(output[:2]).max() < 50.0


def test_mean_and_max_values():
    x = np.array([[[1.0, -5.0], [3.0, -1.0], [100.0, 100.0]],
                  [[-2.0, 7.0], [-4.0, 9.0], [-8.0, 8.0]]], dtype="float32")
    mask = np.array([[True, True, False], [True, True, True]])
    np.testing.assert_allclose(
        np.asarray(SequencePooling("mean")(x, mask=mask)),
        [[2.0, -3.0], [-14 / 3, 8.0]], rtol=1e-6,
    )
    np.testing.assert_array_equal(
        np.asarray(SequencePooling("max")(x, mask=mask)),
        [[3.0, -1.0], [-2.0, 9.0]],
    )


def test_max_ignores_larger_padded_values_when_all_real_ones_are_negative():
    x = np.array([[[-3.0], [-2.0], [0.0], [10.0]]], dtype="float32")
    mask = np.array([[True, True, False, False]])
    assert np.asarray(SequencePooling("max")(x, mask=mask)).tolist() == [[-2.0]]


@pytest.mark.parametrize("mode", ["mean", "max", "attention"])
def test_without_a_mask_every_step_counts(mode):
    layer = _pool(mode)
    x = random_array((2, TIME, FEATURES), 2)
    everything = np.ones((2, TIME), dtype=bool)
    np.testing.assert_allclose(np.asarray(layer(x)),
                               np.asarray(layer(x, mask=everything)), atol=1e-6)
    if mode == "mean":
        np.testing.assert_allclose(np.asarray(layer(x)), x.mean(axis=1),
                                   atol=1e-6)
    if mode == "max":
        np.testing.assert_array_equal(np.asarray(layer(x)), x.max(axis=1))


def test_attention_is_a_convex_combination_of_real_steps():
    layer = _pool("attention", seed=3)
    x = _inputs(4)
    output = np.asarray(layer(x, mask=MASK))
    for b, real in enumerate(MASK[:2]):
        steps = x[b][real]
        # Within the per-feature range of the real steps only.
        assert np.all(output[b] >= steps.min(axis=0) - 1e-6)
        assert np.all(output[b] <= steps.max(axis=0) + 1e-6)
    # One real step: its weight is 1.
    one = np.array([[False, False, True, False, False]])
    np.testing.assert_allclose(np.asarray(layer(x[:1], mask=one))[0],
                               x[0, 2], atol=1e-6)


def test_attention_weights():
    layer = _pool("attention")
    # W [features, units], its bias [units] and the query v [units].
    assert sorted(tuple(w.shape) for w in layer.trainable_weights) == [
        (UNITS,), (UNITS,), (FEATURES, UNITS)
    ]
    assert not SequencePooling("mean").weights


@pytest.mark.parametrize("mode", ["mean", "max", "attention"])
def test_shared_layer_checks(mode):
    keras.utils.set_random_seed(0)
    x = _inputs()
    output = run_layer_test(
        SequencePooling(mode, attention_units=UNITS), x, (BATCH, FEATURES),
        mask=MASK,
    )
    np.testing.assert_array_equal(np.asarray(output)[2], 0.0)
    run_layer_test(SequencePooling(mode, attention_units=UNITS), x,
                   (BATCH, FEATURES))
    assert SequencePooling(mode).compute_mask(x, MASK) is None


@pytest.mark.parametrize("mode", ["mean", "max", "attention"])
def test_shared_serialization_checks(mode):
    keras.utils.set_random_seed(1)
    x = _inputs()
    run_serialization_test(SequencePooling(mode, attention_units=UNITS), x)
    run_serialization_test(SequencePooling(mode, attention_units=UNITS), x,
                           mask=MASK)


def test_get_config_round_trip():
    layer = SequencePooling("attention", attention_units=7, name="pool")
    config = layer.get_config()
    assert config["mode"] == "attention"
    assert config["attention_units"] == 7
    assert config["name"] == "pool"
    clone = SequencePooling.from_config(config)
    assert clone.get_config() == config
    assert SequencePooling().get_config()["mode"] == "mean"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(mode="last"),
         "Received an invalid value for argument `mode`, expected one of "
         "'mean', 'max', 'attention', got 'last'"),
        (dict(mode=None),
         "Received an invalid value for argument `mode`, expected one of "
         "'mean', 'max', 'attention', got None"),
        (dict(attention_units=0),
         "Received an invalid value for argument `attention_units`, "
         "expected a positive integer, got 0"),
        (dict(attention_units=4.0),
         "Received an invalid value for argument `attention_units`, "
         "expected a positive integer, got 4.0"),
    ],
    ids=["mode_last", "mode_none", "units_0", "units_float"],
)
def test_invalid_arguments_rejected(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        SequencePooling(**kwargs)


def test_docstring_example_runs():
    run_docstring_examples(SequencePooling)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("mode", ["mean", "max", "attention"])
def test_under_mixed_precision_padding_never_counts(mode, policy):
    reference = _pool(mode)
    x = _inputs()
    want = np.asarray(reference(x, mask=MASK))
    with precision.applied(policy, gpus=[]):
        layer = SequencePooling(mode, attention_units=UNITS)
        layer.build((None, None, FEATURES))
    layer.set_weights(reference.get_weights())
    got = layer(x, mask=MASK)
    assert got.dtype == policy.split("_")[1]
    atol = 0.05 if policy == "mixed_bfloat16" else 5e-3
    np.testing.assert_allclose(np.asarray(got, "float32"), want, atol=atol)
    # Other values at the padded steps: the same output, exactly.
    other = np.where(MASK[:, :, None], x, -7.0).astype("float32")
    np.testing.assert_array_equal(np.asarray(layer(other, mask=MASK)),
                                  np.asarray(got))
