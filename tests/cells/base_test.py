"""Tests for zoo.cells.base: arguments, state and config shared by cells."""

import re

import keras
import numpy as np
import pytest

from zoo.cells.base import RecurrentCell
from zoo.cells.gru import GRUCell
from zoo.cells.lstm import LSTMCell
from zoo.cells.simple_rnn import SimpleRNNCell

ACTIVATION_ERROR = (
    r"invalid value for argument `(recurrent_)?activation`, expected an "
    r"activation name"
)

ALL_CELLS = [RecurrentCell, SimpleRNNCell, LSTMCell, GRUCell]


def _units_message(value):
    return re.escape(
        "Received an invalid value for argument `units`, expected a "
        f"positive integer, got {value!r}"
    )


class _TwoGateCell(RecurrentCell):
    """A minimal subclass that uses the base's weight helpers."""

    def build(self, input_shape):
        self._add_kernels(input_shape[-1], gates=2)
        self._add_bias((2 * self.units,))


@pytest.mark.parametrize("cls", ALL_CELLS)
@pytest.mark.parametrize("units", [-3, 0, True, False, 2.0, "4", None])
def test_invalid_units_rejected(cls, units):
    with pytest.raises(ValueError, match=_units_message(units)):
        cls(units)


@pytest.mark.parametrize("cls", ALL_CELLS)
def test_numpy_integer_units_accepted(cls):
    cell = cls(np.int64(3))
    assert cell.units == 3 and type(cell.units) is int


@pytest.mark.parametrize("cls", ALL_CELLS)
def test_bad_activation_name_rejected(cls):
    with pytest.raises(
        ValueError, match=ACTIVATION_ERROR
    ):
        cls(2, activation="no_such_activation")


@pytest.mark.parametrize("cls", [RecurrentCell, LSTMCell, GRUCell])
def test_bad_recurrent_activation_name_rejected(cls):
    with pytest.raises(
        ValueError, match=ACTIVATION_ERROR
    ):
        cls(2, recurrent_activation="no_such_activation")


@pytest.mark.parametrize("units", [1, 4])
def test_state_and_output_size(units):
    cell = RecurrentCell(units)
    assert cell.state_size == [units]
    assert cell.output_size == units


def test_get_initial_state_is_zeros():
    cell = RecurrentCell(4)
    (state,) = cell.get_initial_state(batch_size=3)
    assert tuple(state.shape) == (3, 4)
    assert keras.backend.standardize_dtype(state.dtype) == "float32"
    np.testing.assert_array_equal(np.asarray(state), np.zeros((3, 4)))


def test_get_initial_state_follows_compute_dtype():
    cell = RecurrentCell(2, dtype="float64")
    (state,) = cell.get_initial_state(batch_size=2)
    assert keras.backend.standardize_dtype(state.dtype) == "float64"


def test_recurrent_input_applies_mask_only_when_given():
    h = np.array([[1.0, -2.0], [3.0, 4.0]], "float32")
    mask = np.array([[0.0, 2.0], [2.0, 0.0]], "float32")
    assert RecurrentCell._recurrent_input(h, None) is h
    np.testing.assert_allclose(
        np.asarray(RecurrentCell._recurrent_input(h, mask)),
        [[0.0, -4.0], [6.0, 0.0]],
        atol=0,
    )


def test_weight_helpers_shapes_and_initializers():
    cell = _TwoGateCell(
        3,
        kernel_initializer="ones",
        recurrent_initializer="zeros",
        bias_initializer=keras.initializers.Constant(0.5),
    )
    cell.build((2, 5))
    np.testing.assert_array_equal(np.asarray(cell.kernel), np.ones((5, 6)))
    np.testing.assert_array_equal(
        np.asarray(cell.recurrent_kernel), np.zeros((3, 6))
    )
    np.testing.assert_array_equal(np.asarray(cell.bias), np.full((6,), 0.5))
    assert [w.name for w in cell.weights] == [
        "kernel",
        "recurrent_kernel",
        "bias",
    ]


def test_no_bias_weight_without_use_bias():
    cell = _TwoGateCell(3, use_bias=False)
    cell.build((2, 5))
    assert cell.bias is None
    assert len(cell.weights) == 2


def test_regularizers_add_losses():
    cell = _TwoGateCell(
        2,
        kernel_initializer="ones",
        recurrent_initializer="ones",
        bias_initializer="ones",
        kernel_regularizer=keras.regularizers.L2(1.0),
        recurrent_regularizer=keras.regularizers.L1(1.0),
        bias_regularizer=keras.regularizers.L2(0.5),
    )
    cell.build((2, 3))
    # L2(1) on 3*4 ones, L1(1) on 2*4 ones, L2(0.5) on 4 ones.
    np.testing.assert_allclose(
        sorted(float(loss) for loss in cell.losses), [2.0, 8.0, 12.0],
        atol=1e-6,
    )


def test_get_config_round_trip():
    cell = RecurrentCell(
        5,
        activation="relu",
        recurrent_activation="hard_sigmoid",
        use_bias=False,
        kernel_initializer="ones",
        recurrent_initializer="zeros",
        bias_initializer=keras.initializers.Constant(0.25),
        kernel_regularizer="l2",
        name="base_cell",
    )
    config = cell.get_config()
    assert config["units"] == 5
    assert config["activation"] == "relu"
    assert config["recurrent_activation"] == "hard_sigmoid"
    assert config["use_bias"] is False
    assert config["name"] == "base_cell"
    assert config["recurrent_regularizer"] is None
    clone = RecurrentCell.from_config(config)
    assert clone.get_config() == config
    assert clone.activation is keras.activations.relu
