"""Bidirectional wrapper for zoo recurrent layers."""

import keras

from zoo import utils

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


@keras.saving.register_keras_serializable(package="zoo")
class Bidirectional(keras.layers.Bidirectional):
    """Runs a recurrent layer forwards and backwards and merges the two.

    A thin layer over `keras.layers.Bidirectional` (whose merging and state
    handling it keeps) that checks `merge_mode` at the door. The backward
    copy of `layer` processes each row from its last real step to its first
    and its output sequence is flipped back, so with a `zoo.layers.Recurrent`
    inside, position t of both halves describes token t for any padding
    (right, left, or a fully padded row).

    Args:
        layer: A `zoo.layers.Recurrent` (or any Keras RNN layer).
        merge_mode: `"concat"` (default), `"sum"`, `"mul"`, `"ave"`, or
            `None` to return the two outputs as a list.
        backward_layer: Optional layer for the backward direction; a copy
            of `layer` with `go_backwards` flipped by default.
        **kwargs: Base layer keyword arguments.

    Call arguments:
        inputs: `[batch, time, features]`.
        initial_state: Optional list: forward states, then backward states.
        mask: Optional boolean `[batch, time]`, True for real steps.
        training: Whether dropout is active.

    Example:

    >>> from zoo.layers import Recurrent
    >>> bi = Bidirectional(Recurrent("gru", units=4, return_sequences=True))
    >>> tuple(bi(keras.ops.ones((2, 5, 3))).shape)
    (2, 5, 8)

    Reference: Schuster & Paliwal, "Bidirectional Recurrent Neural
    Networks", IEEE Trans. Signal Processing, 1997.
    """

    def __init__(self, layer, merge_mode="concat", backward_layer=None, **kwargs):
        utils.check_choice("merge_mode", merge_mode, MERGE_MODES)
        seed = getattr(layer, "seed", None)
        if backward_layer is None and seed is not None:
            # Keras copies the config, seed included; give the backward
            # direction dropout masks of its own.
            config = layer.get_config()
            config.update(
                go_backwards=not config["go_backwards"],
                seed=seed + 1,
                name="backward_" + config["name"],
            )
            backward_layer = layer.__class__.from_config(config)
        super().__init__(
            layer, merge_mode=merge_mode, backward_layer=backward_layer, **kwargs
        )
        # The two directions' loops run at the same time: zoo.layers.Recurrent
        # shares the CPU cores between them (see its `batch_shards`).
        for direction in (self.forward_layer, self.backward_layer):
            if hasattr(direction, "side_by_side"):
                direction.side_by_side = 2
