"""Tests for zoo.cells (the package): the `get()` registry and `names()`."""

import re

import keras
import pytest

from zoo import cells
from zoo.testing import run_docstring_examples


def test_names():
    assert cells.names() == ["gru", "lstm", "peephole_lstm", "simple_rnn"]


@pytest.mark.parametrize(
    "name,cls,peepholes",
    [
        ("simple_rnn", cells.SimpleRNNCell, None),
        ("lstm", cells.LSTMCell, False),
        ("peephole_lstm", cells.LSTMCell, True),
        ("gru", cells.GRUCell, None),
    ],
)
def test_get_by_name(name, cls, peepholes):
    cell = cells.get(name, units=4)
    assert type(cell) is cls
    assert cell.units == 4
    if peepholes is not None:
        assert cell.use_peepholes is peepholes
    # A fresh cell each time.
    assert cells.get(name, units=4) is not cell


def test_get_lstm_and_peephole_lstm():
    assert cells.get("lstm", units=4).use_peepholes is False
    assert cells.get("peephole_lstm", units=4).use_peepholes is True


def test_contradicting_a_fixed_argument_is_an_error():
    with pytest.raises(
        ValueError,
        match=r"Cell 'peephole_lstm' fixes \['use_peepholes'\] to \[True\]",
    ):
        cells.get("peephole_lstm", units=2, use_peepholes=False)
    assert cells.get("peephole_lstm", units=2, use_peepholes=True).use_peepholes


def test_dict_with_constructor_arguments_is_an_error():
    config = keras.saving.serialize_keras_object(cells.GRUCell(2))
    with pytest.raises(ValueError, match=r"got a config dict and \['units'\]"):
        cells.get(config, units=4)


def test_get_forwards_kwargs_and_ignores_case():
    cell = cells.get("GRU", units=3, reset_after=False, name="my_gru")
    assert isinstance(cell, cells.GRUCell)
    assert cell.reset_after is False and cell.name == "my_gru"
    assert cells.get("Peephole_LSTM", units=2, cell_clip=1.0).cell_clip == 1.0


def test_get_config_dict():
    original = cells.get("peephole_lstm", units=3, cell_clip=2.0)
    config = keras.saving.serialize_keras_object(original)
    cell = cells.get(config)
    assert cell is not original
    assert type(cell) is cells.LSTMCell
    assert cell.get_config() == original.get_config()
    assert cell.use_peepholes is True and cell.cell_clip == 2.0


def test_get_instance_returns_same_object():
    cell = cells.GRUCell(2)
    assert cells.get(cell) is cell
    # Any Keras layer is accepted as a cell (the contract is duck-typed).
    keras_cell = keras.layers.LSTMCell(2)
    assert cells.get(keras_cell) is keras_cell


def test_unknown_name_lists_known_cells():
    message = (
        "Unknown cell 'lstmm'. Known cells: gru, lstm, peephole_lstm, "
        "simple_rnn"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        cells.get("lstmm", units=2)
    with pytest.raises(ValueError, match="Known cells"):
        cells.get("", units=2)


def test_instance_with_kwargs_rejected():
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Constructor arguments are only accepted with a cell name; got a "
            "cell instance and ['name', 'units']"
        ),
    ):
        cells.get(cells.LSTMCell(2), units=4, name="x")


@pytest.mark.parametrize("identifier", [3, None, ["lstm"], cells.LSTMCell])
def test_non_str_dict_layer_identifier_rejected(identifier):
    message = (
        "Received an invalid value for argument `identifier`, expected a "
        f"cell name, config dict or cell instance, got {identifier!r}"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        cells.get(identifier)


@pytest.mark.parametrize("units", [-3, 0, True])
def test_invalid_units_by_name_rejected(units):
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Received an invalid value for argument `units`, expected a "
            f"positive integer, got {units!r}"
        ),
    ):
        cells.get("gru", units=units)


def test_exports():
    assert sorted(cells.__all__) == [
        "GRUCell", "LSTMCell", "RecurrentCell", "SimpleRNNCell", "get",
        "names",
    ]
    for name in cells.__all__:
        assert hasattr(cells, name)


def test_module_docstring_example_runs():
    run_docstring_examples(cells, recurse=False)


@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_get_by_name_needs_units(name):
    with pytest.raises(ValueError, match=f"Cell '{name}' needs `units`"):
        cells.get(name)
