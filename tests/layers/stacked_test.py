"""Tests for zoo.layers.stacked: depth, directions, residuals and masks."""

import re

import keras
import numpy as np
import pytest

from zoo.layers.bidirectional import Bidirectional
from zoo.layers.recurrent import Recurrent
from zoo.layers.stacked import StackedRNN
from zoo.testing import random_array
from zoo.testing import randomize_weights
from zoo.testing import run_layer_test
from zoo.testing import run_serialization_test
from zoo.testing import run_docstring_examples

FEATURES, UNITS, TIME = 3, 2, 5

# Rows: right-padded, left-padded, fully padded.
MASK = np.array(
    [
        [True, True, True, False, False],
        [False, False, True, True, True],
        [False] * 5,
    ]
)


@pytest.mark.parametrize(
    "bidirectional,return_sequences,expected_shape",
    [
        (False, True, (2, TIME, UNITS)),
        (False, False, (2, UNITS)),
        (True, True, (2, TIME, 2 * UNITS)),
        (True, False, (2, 2 * UNITS)),
    ],
)
def test_output_shapes(bidirectional, return_sequences, expected_shape):
    keras.utils.set_random_seed(0)
    x = random_array((2, TIME, FEATURES), 1)
    stack = StackedRNN("lstm", units=UNITS, num_layers=2,
                       bidirectional=bidirectional,
                       return_sequences=return_sequences)
    run_layer_test(stack, x, expected_shape)
    assert stack.output_width == expected_shape[-1]
    assert len(stack.rnn_layers) == 2
    first, last = stack.rnn_layers
    kind = Bidirectional if bidirectional else Recurrent
    assert type(first) is kind and type(last) is kind
    # Every layer but the last returns sequences.
    assert first.return_sequences is True
    assert last.return_sequences is return_sequences


def test_bidirectional_sum_keeps_width():
    stack = StackedRNN("gru", units=UNITS, num_layers=2, bidirectional=True,
                       merge_mode="sum", return_sequences=True)
    x = random_array((2, TIME, FEATURES), 2)
    assert stack(x).shape == (2, TIME, UNITS)
    assert stack.output_width == UNITS


def test_layers_get_cell_kwargs_and_seeds():
    stack = StackedRNN("peephole_lstm", units=UNITS, num_layers=3,
                       bidirectional=True, cell_kwargs={"cell_clip": 3.0},
                       dropout=0.1, seed=10)
    seeds = []
    for layer in stack.rnn_layers:
        for direction in [layer.forward_layer, layer.backward_layer]:
            assert direction.cell.use_peepholes is True
            assert direction.cell.cell_clip == 3.0
            assert direction.cell.units == UNITS
            assert direction.dropout == pytest.approx(0.1)
            seeds.append(direction.seed)
    # Every direction of every layer draws its own dropout masks.
    assert seeds == [10, 11, 12, 13, 14, 15]


@pytest.mark.parametrize("return_sequences", [True, False])
def test_residual_equal_widths_is_x_plus_f_of_x(return_sequences):
    x = random_array((2, TIME, UNITS), 3)  # Input width == units.
    residual = StackedRNN("gru", units=UNITS, num_layers=2, residual=True,
                          return_sequences=return_sequences)
    plain = StackedRNN("gru", units=UNITS, num_layers=2,
                       return_sequences=return_sequences)
    residual.build(x.shape)
    randomize_weights(residual, 4)
    plain.build(x.shape)
    plain.set_weights(residual.get_weights())
    f1, f2 = residual.rnn_layers
    h1 = x + np.asarray(f1(x))
    if return_sequences:
        expected = h1 + np.asarray(f2(h1))
    else:
        expected = np.asarray(f2(h1))  # [batch, units]: no residual here.
    np.testing.assert_allclose(np.asarray(residual(x)), expected, atol=1e-6)
    without = np.asarray(plain(x))
    np.testing.assert_allclose(without, np.asarray(f2(np.asarray(f1(x)))),
                               atol=1e-6)
    assert np.abs(np.asarray(residual(x)) - without).max() > 1e-3


def test_residual_skips_layers_whose_widths_differ():
    x = random_array((2, TIME, FEATURES), 5)  # FEATURES != UNITS.
    stack = StackedRNN("simple_rnn", units=UNITS, num_layers=2,
                       residual=True, return_sequences=True)
    stack.build(x.shape)
    randomize_weights(stack, 6)
    f1, f2 = stack.rnn_layers
    h1 = np.asarray(f1(x))  # 3 -> 2 features: no residual.
    expected = h1 + np.asarray(f2(h1))  # 2 -> 2: residual.
    np.testing.assert_allclose(np.asarray(stack(x)), expected, atol=1e-6)


def test_residual_with_bidirectional_concat():
    x = random_array((2, TIME, 2 * UNITS), 7)  # Width of a concat layer.
    stack = StackedRNN("lstm", units=UNITS, num_layers=2, bidirectional=True,
                       residual=True, return_sequences=True)
    stack.build(x.shape)
    randomize_weights(stack, 8)
    f1, f2 = stack.rnn_layers
    h1 = x + np.asarray(f1(x))
    np.testing.assert_allclose(np.asarray(stack(x)),
                               h1 + np.asarray(f2(h1)), atol=1e-6)


@pytest.mark.parametrize(
    "bidirectional,residual,return_sequences",
    [(False, False, True), (True, False, False), (True, True, True)],
)
def test_masked_rows_equal_their_unpadded_sequences(
    bidirectional, residual, return_sequences
):
    width = 2 * UNITS if bidirectional else UNITS
    x = random_array((3, TIME, width), 9)
    stack = StackedRNN("lstm", units=UNITS, num_layers=2,
                       bidirectional=bidirectional, residual=residual,
                       return_sequences=return_sequences)
    stack.build(x.shape)
    randomize_weights(stack, 10)
    output = np.asarray(stack(x, mask=MASK))
    assert output.shape[-1] == width
    for b, real in enumerate(MASK[:2]):
        ref = np.asarray(stack(x[b : b + 1, real]))[0]
        got = output[b][real] if return_sequences else output[b]
        np.testing.assert_allclose(got, ref, atol=1e-5)
        if return_sequences:
            np.testing.assert_array_equal(output[b][~real], 0.0)
    np.testing.assert_array_equal(output[2], 0.0)  # Fully padded.
    mask_out = stack.compute_mask(x, MASK)
    assert (mask_out is MASK) if return_sequences else mask_out is None


def test_dropout_only_in_training():
    x = random_array((3, TIME, FEATURES), 11)
    dropped = StackedRNN("gru", units=UNITS, num_layers=2, dropout=0.5,
                         recurrent_dropout=0.3, seed=2)
    plain = StackedRNN("gru", units=UNITS, num_layers=2)
    dropped.build(x.shape)
    plain.build(x.shape)
    plain.set_weights(dropped.get_weights())
    expected = np.asarray(plain(x))
    np.testing.assert_allclose(np.asarray(dropped(x, training=False)),
                               expected, atol=0)
    np.testing.assert_allclose(np.asarray(dropped(x)), expected, atol=0)
    trained = np.asarray(dropped(x, training=True))
    assert np.abs(trained - expected).max() > 1e-3


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(merge_mode=None, bidirectional=True),
         "Received an invalid value for argument `merge_mode`, expected one "
         "of 'concat', 'sum', 'mul', 'ave', got None"),
        (dict(merge_mode="max"),
         "Received an invalid value for argument `merge_mode`, expected one "
         "of 'concat', 'sum', 'mul', 'ave', got 'max'"),
        (dict(num_layers=0),
         "Received an invalid value for argument `num_layers`, expected a "
         "positive integer, got 0"),
        (dict(num_layers=1.0),
         "Received an invalid value for argument `num_layers`, expected a "
         "positive integer, got 1.0"),
        (dict(units=0),
         "Received an invalid value for argument `units`, expected a "
         "positive integer, got 0"),
        (dict(dropout=1.5),
         "Received an invalid value for argument `dropout`, expected a "
         "number in [0, 1), got 1.5"),
        (dict(recurrent_dropout=-0.5),
         "Received an invalid value for argument `recurrent_dropout`, "
         "expected a number in [0, 1), got -0.5"),
        (dict(use_fused="always"),
         "Received an invalid value for argument `use_fused`, expected one "
         "of 'auto', True, False, got 'always'"),
        (dict(cell="lstmm"),
         "Received an invalid value for argument `cell`, expected one of "
         "'gru', 'lstm', 'peephole_lstm', 'simple_rnn', got 'lstmm'"),
        (dict(cell="peephole_lstm", use_fused=True),
         "True cannot be honoured because peephole connections and cell "
         "clipping have no fused kernel"),
        (dict(cell_kwargs={"cell_clip": -1.0}),
         "Received an invalid value for argument `cell_clip`, expected a "
         "positive number or None, got -1.0"),
    ],
    ids=["merge_none", "merge_max", "num_layers_0", "num_layers_float",
         "units_0", "dropout", "recurrent_dropout", "use_fused", "cell",
         "fused_peephole", "cell_clip"],
)
def test_invalid_arguments_rejected(kwargs, message):
    arguments = dict(cell="lstm", units=UNITS, num_layers=2)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=re.escape(message)):
        StackedRNN(**arguments)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(cell="gru", num_layers=2, bidirectional=True, residual=True,
             return_sequences=True, merge_mode="ave"),
        dict(cell="peephole_lstm", num_layers=2,
             cell_kwargs={"cell_clip": 2.0}, dropout=0.2, seed=4),
        dict(cell="lstm", num_layers=2, bidirectional=True, return_state=True),
    ],
    ids=["bi_residual", "peephole", "return_state"],
)
def test_shared_serialization_checks(kwargs):
    keras.utils.set_random_seed(5)
    x = random_array((2, TIME, UNITS), 12)
    run_serialization_test(StackedRNN(units=UNITS, **kwargs), x)
    run_serialization_test(StackedRNN(units=UNITS, **kwargs), x,
                           mask=MASK[:2])


def _states(outputs):
    return [np.asarray(state) for state in outputs[1:]]


@pytest.mark.parametrize("cell, per_layer", [("lstm", 2), ("gru", 1)])
def test_initial_state_continues_a_sequence(cell, per_layer):
    keras.utils.set_random_seed(6)
    stack = StackedRNN(cell, units=UNITS, num_layers=2, return_sequences=True,
                       return_state=True)
    x = random_array((2, TIME, FEATURES), 13)
    whole = stack(x)
    assert stack.num_states == len(whole) - 1 == 2 * per_layer
    first = stack(x[:, :2])
    rest = stack(x[:, 2:], initial_state=first[1:])
    # Two halves, the second starting from the first's final states, are
    # the whole sequence: outputs and final states of every layer.
    np.testing.assert_allclose(rest[0], np.asarray(whole[0])[:, 2:], atol=1e-6)
    for got, expected in zip(_states(rest), _states(whole)):
        np.testing.assert_allclose(got, expected, atol=1e-6)


def test_final_states_are_taken_at_the_last_real_step():
    keras.utils.set_random_seed(7)
    stack = StackedRNN("gru", units=UNITS, num_layers=2, return_state=True)
    x = random_array((1, TIME, FEATURES), 14)
    padded = np.concatenate([x[:, :3], np.zeros((1, 2, FEATURES), "float32")], 1)
    masked = stack(padded, mask=MASK[:1])
    plain = stack(x[:, :3])
    for got, expected in zip(_states(masked), _states(plain)):
        np.testing.assert_allclose(got, expected, atol=1e-6)


def test_bidirectional_state_layout():
    keras.utils.set_random_seed(8)
    stack = StackedRNN("gru", units=UNITS, num_layers=2, bidirectional=True,
                       return_sequences=True, return_state=True)
    outputs = stack(random_array((2, TIME, FEATURES), 15))
    sequence, states = np.asarray(outputs[0]), _states(outputs)
    assert stack.num_states == 4
    assert stack.compute_output_shape((2, TIME, FEATURES)) == (
        [(2, TIME, 2 * UNITS)] + [(2, UNITS)] * 4
    )
    # Layer 1 (the top): forward state = last output's forward half,
    # backward state = first output's backward half.
    np.testing.assert_allclose(states[2], sequence[:, -1, :UNITS], atol=1e-6)
    np.testing.assert_allclose(states[3], sequence[:, 0, UNITS:], atol=1e-6)


def test_initial_state_of_the_wrong_size_is_rejected():
    stack = StackedRNN("lstm", units=UNITS, num_layers=2)
    x = random_array((2, TIME, FEATURES), 16)
    state = np.zeros((2, UNITS), "float32")
    with pytest.raises(ValueError, match=re.escape(
        "Received an `initial_state` of 3 tensors, expected 4 (2 per layer, "
        "2 layers)"
    )):
        stack(x, initial_state=[state] * 3)


def test_get_config_round_trip():
    stack = StackedRNN("gru", units=3, num_layers=2, bidirectional=True,
                       merge_mode="mul", residual=True, return_sequences=True,
                       dropout=0.1, recurrent_dropout=0.2, use_fused=False,
                       cell_kwargs={"reset_after": False}, seed=7, name="s")
    config = stack.get_config()
    for key, value in dict(cell="gru", units=3, num_layers=2,
                           bidirectional=True, merge_mode="mul",
                           residual=True, return_sequences=True,
                           use_fused=False, seed=7,
                           cell_kwargs={"reset_after": False}).items():
        assert config[key] == value, key
    clone = StackedRNN.from_config(config)
    assert clone.get_config() == config
    assert clone.rnn_layers[1].forward_layer.cell.reset_after is False


def test_docstring_example_runs():
    run_docstring_examples(StackedRNN)
