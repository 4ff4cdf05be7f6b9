"""Recurrent cells, one per file, behind a `get()` registry.

>>> from zoo import cells
>>> cells.get("gru", units=8).units
8
"""

import keras

from zoo.cells.base import RecurrentCell
from zoo.cells.gru import GRUCell
from zoo.cells.lstm import LSTMCell
from zoo.cells.simple_rnn import SimpleRNNCell

# Name -> (class, fixed constructor arguments).
_REGISTRY = {
    "simple_rnn": (SimpleRNNCell, {}),
    "lstm": (LSTMCell, {}),
    "peephole_lstm": (LSTMCell, {"use_peepholes": True}),
    "gru": (GRUCell, {}),
}


def names():
    """The cell names `get()` accepts."""
    return sorted(_REGISTRY)


def get(identifier, **kwargs):
    """Returns a cell from a name, a config dict or an instance.

    Args:
        identifier: A registered name (see `names()`), a dict as returned
            by `keras.saving.serialize_keras_object(cell)`, or a layer that
            follows the Keras cell contract (returned as is).
        **kwargs: Constructor arguments (e.g. `units=64`) used with a name.

    Raises:
        ValueError: For an unknown name, listing the known ones.
    """
    if isinstance(identifier, keras.layers.Layer):
        if kwargs:
            raise ValueError(
                "Constructor arguments are only accepted with a cell name; "
                f"got a cell instance and {sorted(kwargs)}"
            )
        return identifier
    if isinstance(identifier, dict):
        if kwargs:
            raise ValueError(
                "Constructor arguments are only accepted with a cell name; "
                f"got a config dict and {sorted(kwargs)}"
            )
        return keras.saving.deserialize_keras_object(identifier)
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _REGISTRY:
            raise ValueError(
                f"Unknown cell {identifier!r}. Known cells: "
                + ", ".join(names())
            )
        if "units" not in kwargs:
            raise ValueError(
                f"Cell {identifier!r} needs `units`, e.g. "
                f"zoo.cells.get({identifier!r}, units=64)"
            )
        cls, fixed = _REGISTRY[key]
        clashes = {k: v for k, v in kwargs.items() if k in fixed and fixed[k] != v}
        if clashes:
            raise ValueError(
                f"Cell {identifier!r} fixes {sorted(clashes)} to "
                f"{[fixed[k] for k in sorted(clashes)]}; got {clashes}"
            )
        return cls(**{**kwargs, **fixed})
    raise ValueError(
        "Received an invalid value for argument `identifier`, expected a "
        f"cell name, config dict or cell instance, got {identifier!r}"
    )


__all__ = [
    "GRUCell",
    "LSTMCell",
    "RecurrentCell",
    "SimpleRNNCell",
    "get",
    "names",
]
