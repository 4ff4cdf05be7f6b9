"""Tests for zoo.cells.simple_rnn: golden numerics against Keras' cell."""


import keras
import numpy as np
import pytest

from zoo.cells import simple_rnn
from zoo.cells.simple_rnn import SimpleRNNCell
from zoo.testing import random_array
from zoo.testing import step_and_grads
from zoo.testing import run_docstring_examples

BATCH, INPUT, UNITS, TIME = 2, 3, 4, 5


def _pair(activation="tanh", use_bias=True):
    """Our cell and Keras' with the same (random, nonzero-bias) weights."""
    keras.utils.set_random_seed(0)
    theirs = keras.layers.SimpleRNNCell(
        UNITS, activation=activation, use_bias=use_bias,
        bias_initializer="random_normal",
    )
    ours = SimpleRNNCell(UNITS, activation=activation, use_bias=use_bias)
    theirs.build((BATCH, INPUT))
    ours.build((BATCH, INPUT))
    ours.set_weights(theirs.get_weights())
    return ours, theirs


@pytest.mark.parametrize(
    "activation,use_bias", [("tanh", True), ("relu", False)]
)
def test_step_and_gradients_match_keras(activation, use_bias):
    ours, theirs = _pair(activation, use_bias)
    x = random_array((BATCH, INPUT), 1)
    h = random_array((BATCH, UNITS), 2)
    our_results, our_grads = step_and_grads(ours, x, [h])
    their_results, their_grads = step_and_grads(theirs, x, [h])
    # Gradients w.r.t. x, h, kernel, recurrent_kernel (and bias).
    assert len(our_grads) == len(their_grads) == 4 + int(use_bias)
    for a, b in zip(our_results + our_grads, their_results + their_grads):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert np.abs(our_grads[0]).max() > 0  # The check is not vacuous.


def test_sequence_matches_keras_rnn_wrapper():
    ours, theirs = _pair()
    x = random_array((BATCH, TIME, INPUT), 3)
    mask = np.array([[True] * TIME, [True] * 3 + [False] * 2])
    kwargs = dict(return_sequences=True, return_state=True)
    our_out = keras.layers.RNN(ours, **kwargs)(x, mask=mask)
    their_out = keras.layers.RNN(theirs, **kwargs)(x, mask=mask)
    for a, b in zip(our_out, their_out):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)


def test_hand_computed_step():
    cell = SimpleRNNCell(
        2,
        kernel_initializer="ones",
        recurrent_initializer=keras.initializers.Constant(0.5),
        bias_initializer=keras.initializers.Constant(-1.0),
    )
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], "float32")
    s = np.array([[1.0, -1.0], [2.0, 2.0]], "float32")
    out, (state,) = cell(x, [s])
    # Row 0: 6 + 0.5 * (1 - 1) - 1 = 5; row 1: 0 + 0.5 * 4 - 1 = 1.
    expected = np.tanh([[5.0, 5.0], [1.0, 1.0]])
    np.testing.assert_allclose(np.asarray(out), expected, atol=1e-6)
    np.testing.assert_allclose(np.asarray(state), expected, atol=1e-6)


def test_state_size_output_size_and_initial_state():
    cell = SimpleRNNCell(UNITS)
    assert cell.state_size == [UNITS]
    assert cell.output_size == UNITS
    (state,) = cell.get_initial_state(batch_size=BATCH)
    np.testing.assert_array_equal(np.asarray(state), np.zeros((BATCH, UNITS)))


def test_zero_recurrent_dropout_mask_equals_zero_previous_state():
    ours, _ = _pair()
    x = random_array((BATCH, INPUT), 4)
    h = random_array((BATCH, UNITS), 5)
    zeros = np.zeros((BATCH, UNITS), "float32")
    masked, _ = ours(x, [h], recurrent_dropout_mask=zeros)
    from_zero, _ = ours(x, [zeros])
    unmasked, _ = ours(x, [h])
    np.testing.assert_allclose(np.asarray(masked), np.asarray(from_zero),
                               atol=1e-6)
    assert np.abs(np.asarray(unmasked) - np.asarray(masked)).max() > 1e-3


def test_recurrent_dropout_mask_scales_previous_state():
    ours, _ = _pair()
    x = random_array((BATCH, INPUT), 6)
    h = random_array((BATCH, UNITS), 7)
    mask = np.array([[2.0, 0.0, 2.0, 0.0], [0.0, 0.0, 2.0, 2.0]], "float32")
    masked, _ = ours(x, [h], recurrent_dropout_mask=mask)
    expected, _ = ours(x, [h * mask])
    np.testing.assert_allclose(np.asarray(masked), np.asarray(expected),
                               atol=1e-6)


def test_get_config_round_trip():
    cell = SimpleRNNCell(3, activation="relu", use_bias=False, name="s")
    config = cell.get_config()
    assert "recurrent_activation" not in config
    assert config["units"] == 3 and config["activation"] == "relu"
    clone = SimpleRNNCell.from_config(config)
    assert clone.get_config() == config
    serialized = keras.saving.serialize_keras_object(cell)
    assert serialized["registered_name"] == "zoo>SimpleRNNCell"
    revived = keras.saving.deserialize_keras_object(serialized)
    assert isinstance(revived, SimpleRNNCell)
    assert revived.get_config() == config


def test_recurrent_activation_is_rejected():
    with pytest.raises(ValueError, match="SimpleRNNCell has no gates"):
        SimpleRNNCell(2, recurrent_activation="relu")


def test_docstring_example_runs():
    run_docstring_examples(simple_rnn.SimpleRNNCell)
