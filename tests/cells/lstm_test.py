"""Tests for zoo.cells.lstm: Keras parity, peepholes and cell clipping."""

import re

import keras
import numpy as np
import pytest

from zoo.cells import lstm
from zoo.cells.lstm import LSTMCell
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


def _reference_step(x, h, c, kernel, recurrent, bias, peep=None, clip=None):
    """Gers & Schmidhuber's equations written out in numpy (float64)."""
    units = h.shape[-1]
    z = x @ kernel + h @ recurrent + bias
    z_i, z_f = z[:, :units], z[:, units : 2 * units]
    z_g, z_o = z[:, 2 * units : 3 * units], z[:, 3 * units :]
    if peep is not None:
        z_i = z_i + peep[0] * c
        z_f = z_f + peep[1] * c
    c_new = _sigmoid(z_f) * c + _sigmoid(z_i) * np.tanh(z_g)
    if clip is not None:
        c_new = np.clip(c_new, -clip, clip)
    if peep is not None:
        z_o = z_o + peep[2] * c_new
    h_new = _sigmoid(z_o) * np.tanh(c_new)
    return h_new, c_new


def _pair(unit_forget_bias=True, use_bias=True):
    """Our cell and Keras' with the same (random, nonzero-bias) weights."""
    keras.utils.set_random_seed(0)
    theirs = keras.layers.LSTMCell(
        UNITS, unit_forget_bias=unit_forget_bias, use_bias=use_bias
    )
    ours = LSTMCell(UNITS, unit_forget_bias=unit_forget_bias,
                    use_bias=use_bias)
    theirs.build((BATCH, INPUT))
    ours.build((BATCH, INPUT))
    weights = theirs.get_weights()
    if use_bias:
        weights[2] = weights[2] + random_array(weights[2].shape, 9)
    theirs.set_weights(weights)
    ours.set_weights(weights)
    return ours, theirs


def _tiny_weights(units=2, inputs=3):
    """Small known weights for the hand-computed reference."""
    kernel = (np.arange(inputs * 4 * units).reshape(inputs, 4 * units)
              % 5 - 2) * 0.3
    recurrent = (np.arange(units * 4 * units).reshape(units, 4 * units)
                 % 3 - 1) * 0.2
    bias = np.linspace(-0.4, 0.4, 4 * units)
    peep = np.array([[0.5, -0.3], [0.2, 0.4], [-0.6, 0.7]])
    return kernel, recurrent, bias, peep


@pytest.mark.parametrize(
    "unit_forget_bias,use_bias", [(True, True), (False, True), (True, False)]
)
def test_step_and_gradients_match_keras(unit_forget_bias, use_bias):
    ours, theirs = _pair(unit_forget_bias, use_bias)
    x = random_array((BATCH, INPUT), 1)
    states = [random_array((BATCH, UNITS), 2), random_array((BATCH, UNITS), 3)]
    our_results, our_grads = step_and_grads(ours, x, states)
    their_results, their_grads = step_and_grads(theirs, x, states)
    # Gradients w.r.t. x, h, c, kernel, recurrent_kernel (and bias).
    assert len(our_grads) == len(their_grads) == 5 + int(use_bias)
    for a, b in zip(our_results + our_grads, their_results + their_grads):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert np.abs(our_grads[0]).max() > 0


def test_sequence_matches_keras_rnn_wrapper():
    ours, theirs = _pair()
    x = random_array((BATCH, TIME, INPUT), 4)
    mask = np.array([[True] * TIME, [True] * 2 + [False] * 3])
    kwargs = dict(return_sequences=True, return_state=True)
    our_out = keras.layers.RNN(ours, **kwargs)(x, mask=mask)
    their_out = keras.layers.RNN(theirs, **kwargs)(x, mask=mask)
    assert len(our_out) == 3
    for a, b in zip(our_out, their_out):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)


def _tiny_cell(use_peepholes=True, cell_clip=None):
    kernel, recurrent, bias, peep = _tiny_weights()
    cell = LSTMCell(2, use_peepholes=use_peepholes, cell_clip=cell_clip)
    cell.build((2, 3))
    weights = [kernel, recurrent, bias] + ([peep] if use_peepholes else [])
    cell.set_weights([w.astype("float32") for w in weights])
    return cell


@pytest.mark.parametrize("cell_clip", [None, 0.3])
def test_peephole_two_steps_match_hand_computed_reference(cell_clip):
    kernel, recurrent, bias, peep = _tiny_weights()
    cell = _tiny_cell(cell_clip=cell_clip)
    xs = [np.array([[1.0, -2.0, 0.5], [0.3, 0.8, -1.5]]),
          np.array([[2.0, 1.0, -1.0], [-0.5, 0.0, 1.0]])]
    h = np.array([[0.1, -0.2], [0.0, 0.3]])
    c = np.array([[0.5, -0.4], [0.2, 0.1]])
    h_ref, c_ref = h, c
    states = [h.astype("float32"), c.astype("float32")]
    for x in xs:
        h_ref, c_ref = _reference_step(
            x, h_ref, c_ref, kernel, recurrent, bias, peep, cell_clip
        )
        output, states = cell(x.astype("float32"), states)
        np.testing.assert_allclose(np.asarray(output), h_ref, atol=1e-5)
        np.testing.assert_allclose(np.asarray(states[0]), h_ref, atol=1e-5)
        np.testing.assert_allclose(np.asarray(states[1]), c_ref, atol=1e-5)
    if cell_clip is not None:
        # The reference reached the clip, so clipping was exercised.
        assert np.isclose(np.abs(c_ref).max(), cell_clip)


def test_cell_clip_clips_the_cell_state():
    clip = 0.5
    clipped = _tiny_cell(use_peepholes=False, cell_clip=clip)
    free = _tiny_cell(use_peepholes=False)
    x = np.full((2, 3), 3.0, "float32") * np.array([[1.0], [-1.0]], "float32")
    h = np.zeros((2, 2), "float32")
    c = np.array([[2.0, -2.0], [1.5, -3.0]], "float32")
    _, (h_free, c_free) = free(x, [h, c])
    _, (h_clip, c_clip) = clipped(x, [h, c])
    c_free, c_clip = np.asarray(c_free), np.asarray(c_clip)
    # Some entries exceed the clip on either side; some do not.
    assert c_free.max() > clip and c_free.min() < -clip
    assert np.abs(c_free).min() < clip
    np.testing.assert_allclose(c_clip, np.clip(c_free, -clip, clip), atol=0)
    assert np.abs(c_clip).max() == np.float32(clip)
    # h is computed from the clipped cell state.
    o = np.asarray(h_free) / np.tanh(c_free)
    np.testing.assert_allclose(np.asarray(h_clip), o * np.tanh(c_clip),
                               atol=1e-6)


def test_nonzero_peepholes_change_the_output():
    x = random_array((2, 3), 5)
    states = [random_array((2, 2), 6), random_array((2, 2), 7)]
    with_peep = _tiny_cell()
    without = _tiny_cell(use_peepholes=False)
    out_peep, _ = with_peep(x, states)
    out_plain, _ = without(x, states)
    assert np.abs(np.asarray(out_peep) - np.asarray(out_plain)).min() > 1e-4


def test_zero_peepholes_equal_plain_lstm_and_keras():
    ours, theirs = _pair()
    peephole = LSTMCell(UNITS, use_peepholes=True)  # Zero-initialised.
    peephole.build((BATCH, INPUT))
    np.testing.assert_array_equal(
        np.asarray(peephole.peephole_weights), np.zeros((3, UNITS))
    )
    peephole.set_weights(ours.get_weights() + [np.zeros((3, UNITS))])
    x = random_array((BATCH, INPUT), 8)
    states = [random_array((BATCH, UNITS), 9),
              random_array((BATCH, UNITS), 10)]
    peep_results, peep_grads = step_and_grads(peephole, x, states)
    their_results, their_grads = step_and_grads(theirs, x, states)
    for a, b in zip(peep_results + peep_grads[:6],
                    their_results + their_grads):
        np.testing.assert_allclose(a, b, atol=1e-5)
    # The peephole weights are trained: their gradient is not zero.
    assert peep_grads[6].shape == (3, UNITS)
    assert np.abs(peep_grads[6]).min() > 0


def test_peephole_weight_layout():
    cell = LSTMCell(UNITS, use_peepholes=True, peephole_initializer="ones")
    cell.build((BATCH, INPUT))
    assert [w.name for w in cell.weights] == [
        "kernel", "recurrent_kernel", "bias", "peephole_weights"
    ]
    assert tuple(cell.peephole_weights.shape) == (3, UNITS)
    np.testing.assert_array_equal(np.asarray(cell.peephole_weights), 1.0)
    plain = LSTMCell(UNITS)
    plain.build((BATCH, INPUT))
    assert [w.name for w in plain.weights] == [
        "kernel", "recurrent_kernel", "bias"
    ]


@pytest.mark.parametrize(
    "unit_forget_bias,initializer,expected_blocks",
    [
        (True, "zeros", [0.0, 1.0, 0.0, 0.0]),
        (True, keras.initializers.Constant(0.5), [0.5, 1.0, 0.5, 0.5]),
        (False, "zeros", [0.0, 0.0, 0.0, 0.0]),
        (False, keras.initializers.Constant(0.5), [0.5, 0.5, 0.5, 0.5]),
    ],
)
def test_unit_forget_bias_initialises_forget_block_to_one(
    unit_forget_bias, initializer, expected_blocks
):
    cell = LSTMCell(3, unit_forget_bias=unit_forget_bias,
                    bias_initializer=initializer)
    cell.build((2, 2))
    np.testing.assert_array_equal(
        np.asarray(cell.bias), np.repeat(expected_blocks, 3)
    )


def test_state_size_output_size_and_initial_state():
    cell = LSTMCell(UNITS)
    assert cell.state_size == [UNITS, UNITS]
    assert cell.output_size == UNITS
    states = cell.get_initial_state(batch_size=BATCH)
    assert len(states) == 2
    for state in states:
        np.testing.assert_array_equal(np.asarray(state),
                                      np.zeros((BATCH, UNITS)))


def test_zero_recurrent_dropout_mask_equals_zero_previous_h():
    ours, _ = _pair()
    x = random_array((BATCH, INPUT), 11)
    h, c = random_array((BATCH, UNITS), 12), random_array((BATCH, UNITS), 13)
    zeros = np.zeros((BATCH, UNITS), "float32")
    masked, (mh, mc) = ours(x, [h, c], recurrent_dropout_mask=zeros)
    expected, (eh, ec) = ours(x, [zeros, c])  # c is not masked.
    unmasked, _ = ours(x, [h, c])
    for a, b in [(masked, expected), (mh, eh), (mc, ec)]:
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)
    assert np.abs(np.asarray(unmasked) - np.asarray(masked)).max() > 1e-3


def test_recurrent_dropout_mask_scales_previous_h():
    ours, _ = _pair()
    x = random_array((BATCH, INPUT), 14)
    h, c = random_array((BATCH, UNITS), 15), random_array((BATCH, UNITS), 16)
    mask = np.array([[2.0, 0.0, 2.0, 0.0], [0.0, 0.0, 2.0, 2.0]], "float32")
    _, masked = ours(x, [h, c], recurrent_dropout_mask=mask)
    _, expected = ours(x, [h * mask, c])
    for a, b in zip(masked, expected):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)


def test_get_config_round_trip():
    cell = LSTMCell(
        3,
        activation="relu",
        recurrent_activation="hard_sigmoid",
        use_peepholes=True,
        cell_clip=2.5,
        unit_forget_bias=False,
        peephole_initializer="ones",
        name="peep",
    )
    config = cell.get_config()
    assert config["use_peepholes"] is True
    assert config["cell_clip"] == 2.5
    assert config["unit_forget_bias"] is False
    assert config["units"] == 3
    clone = LSTMCell.from_config(config)
    assert clone.get_config() == config
    revived = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(cell)
    )
    assert isinstance(revived, LSTMCell)
    assert revived.get_config() == config


def test_integer_cell_clip_is_stored_as_float():
    cell = LSTMCell(2, cell_clip=3)
    assert cell.cell_clip == 3.0 and type(cell.cell_clip) is float


@pytest.mark.parametrize("cell_clip", [-1, 0, True, "3", float("nan")])
def test_invalid_cell_clip_rejected(cell_clip):
    message = (
        "Received an invalid value for argument `cell_clip`, expected a "
        f"positive number or None, got {cell_clip!r}"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        LSTMCell(2, cell_clip=cell_clip)


@pytest.mark.parametrize("units", [-3, 0, True])
def test_invalid_units_rejected(units):
    message = (
        "Received an invalid value for argument `units`, expected a "
        f"positive integer, got {units!r}"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        LSTMCell(units, use_peepholes=True)


def test_bad_activation_name_rejected():
    with pytest.raises(ValueError, match=ACTIVATION_ERROR):
        LSTMCell(2, activation="tanhh")


def test_docstring_example_runs():
    run_docstring_examples(lstm.LSTMCell)
