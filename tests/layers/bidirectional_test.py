"""Tests for zoo.layers.bidirectional: masking in both directions, merging."""

import re

import keras
import numpy as np
import pytest

from zoo import cells
from zoo.layers.bidirectional import Bidirectional
from zoo.layers.recurrent import Recurrent
from zoo.testing import random_array
from zoo.testing import randomize_weights
from zoo.testing import run_layer_test
from zoo.testing import run_serialization_test
from zoo.testing import to_numpy
from zoo.testing import run_docstring_examples

FEATURES, UNITS, TIME = 3, 2, 6

# Rows: right-padded, left-padded, fully padded, a gap in the middle.
MASK = np.array(
    [
        [True, True, True, True, False, False],
        [False, False, True, True, True, True],
        [False] * 6,
        [True, True, False, False, True, True],
    ]
)

MERGES = {
    "concat": lambda f, b: np.concatenate([f, b], axis=-1),
    "sum": lambda f, b: f + b,
    "mul": lambda f, b: f * b,
    "ave": lambda f, b: (f + b) / 2,
}


def _bi(name, merge_mode, return_sequences, seed=3):
    keras.utils.set_random_seed(1)
    layer = Bidirectional(
        Recurrent(name, units=UNITS, return_sequences=return_sequences,
                  return_state=True),
        merge_mode=merge_mode,
    )
    layer.build((None, TIME, FEATURES))
    randomize_weights(layer, seed)
    return layer


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("name", cells.names())
def test_masked_rows_equal_their_unpadded_sequences(name, return_sequences):
    x = random_array((4, TIME, FEATURES), 2)
    layer = _bi(name, None, return_sequences)
    n_states = len(cells.get(name, units=UNITS).state_size)
    # merge_mode=None: [forward, backward, *forward_states, *backward_states]
    fwd, bwd, *states = to_numpy(layer(x, mask=MASK))
    assert len(states) == 2 * n_states
    fwd_h, bwd_h = states[0], states[n_states]
    # The backward half run as a forward layer over reversed sequences.
    backward_cell = layer.backward_layer.cell
    reversed_layer = Recurrent(backward_cell, return_sequences=True,
                               return_state=True)

    for b, real in enumerate(MASK):
        if not real.any():
            for array in [fwd, bwd] + states:
                np.testing.assert_array_equal(array[b], 0.0)
            continue
        ref_fwd, ref_bwd, *ref_states = to_numpy(layer(x[b : b + 1, real]))
        rev_seq, *rev_states = to_numpy(
            reversed_layer(x[b : b + 1, real][:, ::-1])
        )
        for state, ref in zip(states, ref_states):
            np.testing.assert_allclose(state[b], ref[0], atol=1e-5)
        for state, ref in zip(states[n_states:], rev_states):
            np.testing.assert_allclose(state[b], ref[0], atol=1e-5)
        if return_sequences:
            np.testing.assert_array_equal(fwd[b][~real], 0.0)
            np.testing.assert_array_equal(bwd[b][~real], 0.0)
            np.testing.assert_allclose(fwd[b][real], ref_fwd[0], atol=1e-5)
            np.testing.assert_allclose(bwd[b][real], ref_bwd[0], atol=1e-5)
            # Position t of both halves describes token t.
            np.testing.assert_allclose(bwd[b][real], rev_seq[0][::-1],
                                       atol=1e-5)
            first, last = np.flatnonzero(real)[[0, -1]]
            np.testing.assert_allclose(fwd[b, last], fwd_h[b], atol=1e-6)
            np.testing.assert_allclose(bwd[b, first], bwd_h[b], atol=1e-6)
        else:
            np.testing.assert_allclose(fwd[b], ref_fwd[0], atol=1e-5)
            np.testing.assert_allclose(bwd[b], ref_bwd[0], atol=1e-5)
            np.testing.assert_allclose(fwd[b], fwd_h[b], atol=1e-6)
            np.testing.assert_allclose(bwd[b], rev_seq[0, -1], atol=1e-5)


@pytest.mark.parametrize("merge_mode", list(MERGES))
def test_merge_modes_with_masks(merge_mode):
    x = random_array((4, TIME, FEATURES), 4)
    for return_sequences in [True, False]:
        merged = _bi("lstm", merge_mode, return_sequences)
        split = _bi("lstm", None, return_sequences)
        split.set_weights(merged.get_weights())
        output, *states = to_numpy(merged(x, mask=MASK))
        fwd, bwd, *split_states = to_numpy(split(x, mask=MASK))
        width = 2 * UNITS if merge_mode == "concat" else UNITS
        assert output.shape[-1] == width
        np.testing.assert_allclose(output, MERGES[merge_mode](fwd, bwd),
                                   atol=1e-6)
        for a, b in zip(states, split_states):
            np.testing.assert_allclose(a, b, atol=0)
        if return_sequences:
            np.testing.assert_array_equal(output[~MASK], 0.0)
        np.testing.assert_array_equal(output[2], 0.0)  # Fully padded row.
        for b in [0, 1, 3]:
            ref, *ref_states = to_numpy(merged(x[b : b + 1, MASK[b]]))
            got = output[b][MASK[b]] if return_sequences else output[b]
            np.testing.assert_allclose(got, ref[0], atol=1e-5)
            for state, ref_state in zip(states, ref_states):
                np.testing.assert_allclose(state[b], ref_state[0], atol=1e-5)


def test_return_state_with_mask_in_functional_model():
    # Keras' Bidirectional.compute_mask reads `layer.states` (regression).
    x = random_array((4, TIME, FEATURES), 8)
    x[~MASK] = 0.0
    layer = _bi("gru", "concat", True)
    inputs = keras.Input((TIME, FEATURES))
    output, fwd_h, bwd_h = layer(keras.layers.Masking(0.0)(inputs))
    model = keras.Model(inputs, [output, fwd_h, bwd_h])
    for a, b in zip(to_numpy(model(x)), to_numpy(layer(x, mask=MASK))):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert output._keras_mask is not None


def test_directions_have_separate_weights():
    layer = _bi("gru", "concat", True)
    fwd_cell, bwd_cell = layer.forward_layer.cell, layer.backward_layer.cell
    assert fwd_cell is not bwd_cell
    assert layer.forward_layer.go_backwards is False
    assert layer.backward_layer.go_backwards is True
    assert np.abs(np.asarray(fwd_cell.kernel)
                  - np.asarray(bwd_cell.kernel)).max() > 0
    assert len(layer.trainable_weights) == 6


@pytest.mark.parametrize("merge_mode", ["bad", "Concat", 0, True])
def test_invalid_merge_mode_rejected(merge_mode):
    message = (
        "Received an invalid value for argument `merge_mode`, expected one "
        "of 'concat', 'sum', 'mul', 'ave', None, "
        f"got {merge_mode!r}"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        Bidirectional(Recurrent("gru", units=2), merge_mode=merge_mode)


def test_backward_layer_must_go_backwards():
    with pytest.raises(ValueError, match="different `go_backwards` value"):
        Bidirectional(Recurrent("gru", units=2),
                      backward_layer=Recurrent("gru", units=2))


def test_custom_backward_layer():
    x = random_array((2, TIME, FEATURES), 5)
    backward = Recurrent("simple_rnn", units=UNITS, return_sequences=True,
                         go_backwards=True)
    layer = Bidirectional(Recurrent("simple_rnn", units=UNITS,
                                    return_sequences=True),
                          backward_layer=backward, merge_mode=None)
    fwd, bwd = to_numpy(layer(x))
    assert layer.backward_layer is backward
    np.testing.assert_allclose(bwd, np.asarray(backward(x))[:, ::-1],
                               atol=1e-6)


@pytest.mark.parametrize(
    "make_layer,expected_shape",
    [
        (lambda: Bidirectional(Recurrent("lstm", units=UNITS,
                                         return_sequences=True)),
         (2, TIME, 2 * UNITS)),
        (lambda: Bidirectional(Recurrent("gru", units=UNITS),
                               merge_mode="sum"),
         (2, UNITS)),
        (lambda: Bidirectional(
            Recurrent("peephole_lstm", units=UNITS, return_sequences=True),
            merge_mode="ave"),
         (2, TIME, UNITS)),
    ],
    ids=["lstm_concat", "gru_sum", "peephole_ave"],
)
def test_shared_layer_and_serialization_checks(make_layer, expected_shape):
    keras.utils.set_random_seed(6)
    x = random_array((2, TIME, FEATURES), 7)
    mask = MASK[[0, 1]]
    run_layer_test(make_layer(), x, expected_shape)
    run_layer_test(make_layer(), x, expected_shape, mask=mask)
    run_serialization_test(make_layer(), x)
    run_serialization_test(make_layer(), x, mask=mask)


def test_get_config_round_trip():
    layer = Bidirectional(
        Recurrent("gru", units=3, return_sequences=True, dropout=0.1),
        merge_mode="mul", name="bi",
    )
    config = layer.get_config()
    assert config["merge_mode"] == "mul"
    assert config["layer"]["registered_name"] == "zoo>Recurrent"
    clone = Bidirectional.from_config(config)
    assert type(clone) is Bidirectional
    assert clone.get_config() == config
    assert clone.backward_layer.go_backwards is True
    revived = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(layer)
    )
    assert type(revived) is Bidirectional
    assert revived.merge_mode == "mul"


def test_docstring_example_runs():
    run_docstring_examples(Bidirectional)


def test_seeded_layer_gets_a_backward_copy_with_its_own_seed():
    bi = Bidirectional(Recurrent("gru", units=3, dropout=0.5, seed=7))
    assert bi.forward_layer.seed == 7 and bi.backward_layer.seed == 8
    assert bi.backward_layer.go_backwards and not bi.forward_layer.go_backwards
    clone = Bidirectional.from_config(bi.get_config())
    assert clone.backward_layer.seed == 8
