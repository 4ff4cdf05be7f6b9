"""Tests for zoo.cells.gru: Keras parity for both reset conventions."""

import re

import keras
import numpy as np
import pytest

from zoo.cells import gru
from zoo.cells.gru import GRUCell
from zoo.testing import random_array
from zoo.testing import step_and_grads
from zoo.testing import run_docstring_examples

ACTIVATION_ERROR = (
    r"invalid value for argument `(recurrent_)?activation`, expected an "
    r"activation name"
)

BATCH, INPUT, UNITS, TIME = 2, 3, 4, 5


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _reference_step(x, h, kernel, recurrent, bias, reset_after, h_rec=None):
    """Cho et al.'s GRU in numpy. `h_rec` is h_{t-1} as the recurrent
    product sees it (recurrent dropout); `h` is the carried h_{t-1}."""
    h_rec = h if h_rec is None else h_rec
    u = h.shape[-1]
    if reset_after:
        x_proj = x @ kernel + bias[0]
        h_proj = h_rec @ recurrent + bias[1]
        z = _sigmoid(x_proj[:, :u] + h_proj[:, :u])
        r = _sigmoid(x_proj[:, u : 2 * u] + h_proj[:, u : 2 * u])
        n = np.tanh(x_proj[:, 2 * u :] + r * h_proj[:, 2 * u :])
    else:
        x_proj = x @ kernel + bias
        z = _sigmoid(x_proj[:, :u] + h_rec @ recurrent[:, :u])
        r = _sigmoid(x_proj[:, u : 2 * u] + h_rec @ recurrent[:, u : 2 * u])
        n = np.tanh(x_proj[:, 2 * u :] + (r * h_rec) @ recurrent[:, 2 * u :])
    return z * h + (1.0 - z) * n


def _pair(reset_after=True, use_bias=True):
    """Our cell and Keras' with the same (random, nonzero-bias) weights."""
    keras.utils.set_random_seed(0)
    theirs = keras.layers.GRUCell(
        UNITS, reset_after=reset_after, use_bias=use_bias,
        bias_initializer="random_normal",
    )
    ours = GRUCell(UNITS, reset_after=reset_after, use_bias=use_bias)
    theirs.build((BATCH, INPUT))
    ours.build((BATCH, INPUT))
    ours.set_weights(theirs.get_weights())
    return ours, theirs


@pytest.mark.parametrize(
    "reset_after,use_bias", [(True, True), (False, True), (True, False)]
)
def test_step_and_gradients_match_keras(reset_after, use_bias):
    ours, theirs = _pair(reset_after, use_bias)
    x = random_array((BATCH, INPUT), 1)
    h = random_array((BATCH, UNITS), 2)
    our_results, our_grads = step_and_grads(ours, x, [h])
    their_results, their_grads = step_and_grads(theirs, x, [h])
    # Gradients w.r.t. x, h, kernel, recurrent_kernel (and bias).
    assert len(our_grads) == len(their_grads) == 4 + int(use_bias)
    for a, b in zip(our_results + our_grads, their_results + their_grads):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert np.abs(our_grads[0]).max() > 0


@pytest.mark.parametrize("reset_after", [True, False])
def test_sequence_matches_keras_rnn_wrapper(reset_after):
    ours, theirs = _pair(reset_after)
    x = random_array((BATCH, TIME, INPUT), 3)
    mask = np.array([[True] * TIME, [True] * 4 + [False]])
    kwargs = dict(return_sequences=True, return_state=True)
    our_out = keras.layers.RNN(ours, **kwargs)(x, mask=mask)
    their_out = keras.layers.RNN(theirs, **kwargs)(x, mask=mask)
    assert len(our_out) == 2
    for a, b in zip(our_out, their_out):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)


@pytest.mark.parametrize("reset_after", [True, False])
def test_reset_conventions_match_reference_and_differ(reset_after):
    ours, _ = _pair(reset_after)
    kernel, recurrent, bias = ours.get_weights()
    x = random_array((BATCH, INPUT), 4)
    h = random_array((BATCH, UNITS), 5)
    out, (state,) = ours(x, [h])
    expected = _reference_step(x, h, kernel, recurrent, bias, reset_after)
    np.testing.assert_allclose(np.asarray(out), expected, atol=1e-5)
    np.testing.assert_allclose(np.asarray(state), expected, atol=1e-5)
    # The other convention, with the same weights, gives another result.
    if reset_after:
        other = _reference_step(x, h, kernel, recurrent, bias[0] + bias[1],
                                reset_after=False)
    else:
        other = _reference_step(x, h, kernel, recurrent,
                                np.stack([bias, np.zeros_like(bias)]),
                                reset_after=True)
    assert np.abs(other - expected).max() > 1e-3


@pytest.mark.parametrize(
    "reset_after,bias_shape", [(True, (2, 3 * UNITS)), (False, (3 * UNITS,))]
)
def test_weight_shapes(reset_after, bias_shape):
    cell = GRUCell(UNITS, reset_after=reset_after)
    cell.build((BATCH, INPUT))
    assert tuple(cell.kernel.shape) == (INPUT, 3 * UNITS)
    assert tuple(cell.recurrent_kernel.shape) == (UNITS, 3 * UNITS)
    assert tuple(cell.bias.shape) == bias_shape


def test_state_size_output_size_and_initial_state():
    cell = GRUCell(UNITS)
    assert cell.state_size == [UNITS]
    assert cell.output_size == UNITS
    (state,) = cell.get_initial_state(batch_size=BATCH)
    np.testing.assert_array_equal(np.asarray(state), np.zeros((BATCH, UNITS)))


@pytest.mark.parametrize("reset_after", [True, False])
def test_zero_recurrent_dropout_mask_does_not_mask_the_carried_state(
    reset_after,
):
    ours, _ = _pair(reset_after)
    kernel, recurrent, bias = ours.get_weights()
    x = random_array((BATCH, INPUT), 6)
    h = random_array((BATCH, UNITS), 7)
    zeros = np.zeros((BATCH, UNITS), "float32")
    masked, _ = ours(x, [h], recurrent_dropout_mask=zeros)
    # h_t = z * h_{t-1} + (1 - z) * n with z, n computed from a zero
    # recurrent input, but h_{t-1} itself carried unmasked.
    expected = _reference_step(x, h, kernel, recurrent, bias, reset_after,
                               h_rec=zeros)
    np.testing.assert_allclose(np.asarray(masked), expected, atol=1e-5)
    # So it differs from starting at a zero state.
    from_zero, _ = ours(x, [zeros])
    assert np.abs(np.asarray(masked) - np.asarray(from_zero)).max() > 1e-3
    # The difference is exactly z * h_{t-1} (z is the same in both).
    z = _sigmoid((x @ kernel + (bias[0] + bias[1] if reset_after else bias))
                 [:, :UNITS])
    np.testing.assert_allclose(
        np.asarray(masked) - np.asarray(from_zero), z * h, atol=1e-5
    )


@pytest.mark.parametrize("reset_after", [True, False])
def test_recurrent_dropout_mask_scales_recurrent_input(reset_after):
    ours, _ = _pair(reset_after)
    kernel, recurrent, bias = ours.get_weights()
    x = random_array((BATCH, INPUT), 8)
    h = random_array((BATCH, UNITS), 9)
    mask = np.array([[2.0, 0.0, 2.0, 0.0], [0.0, 0.0, 2.0, 2.0]], "float32")
    masked, _ = ours(x, [h], recurrent_dropout_mask=mask)
    expected = _reference_step(x, h, kernel, recurrent, bias, reset_after,
                               h_rec=h * mask)
    np.testing.assert_allclose(np.asarray(masked), expected, atol=1e-5)


def test_get_config_round_trip():
    cell = GRUCell(3, activation="relu", reset_after=False, name="g")
    config = cell.get_config()
    assert config["reset_after"] is False
    assert config["units"] == 3 and config["activation"] == "relu"
    clone = GRUCell.from_config(config)
    assert clone.get_config() == config
    revived = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(cell)
    )
    assert isinstance(revived, GRUCell) and revived.reset_after is False
    assert revived.get_config() == config


@pytest.mark.parametrize("units", [-3, 0, True])
def test_invalid_units_rejected(units):
    message = (
        "Received an invalid value for argument `units`, expected a "
        f"positive integer, got {units!r}"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        GRUCell(units)


def test_bad_activation_name_rejected():
    with pytest.raises(ValueError, match=ACTIVATION_ERROR):
        GRUCell(2, recurrent_activation="sigmoidd")


def test_docstring_example_runs():
    run_docstring_examples(gru.GRUCell)
