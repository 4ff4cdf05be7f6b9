"""Stacks of recurrent layers: deep, optionally bidirectional and residual."""

import keras
from keras import ops

from zoo import cells
from zoo import utils
from zoo.layers.bidirectional import MERGE_MODES
from zoo.layers.bidirectional import Bidirectional
from zoo.layers.recurrent import Recurrent


@keras.saving.register_keras_serializable(package="zoo")
class StackedRNN(keras.layers.Layer):
    """`num_layers` recurrent layers, each reading the previous one's outputs.

    Every layer but the last returns sequences; the mask reaches each layer.
    With `residual=True`, a layer whose input and output widths agree adds
    its input to its output (Wu et al., 2016), which helps deep stacks train.

    Args:
        cell: A cell name from `zoo.cells.names()` (for a custom cell, stack
            `zoo.layers.Recurrent` layers yourself).
        units: Positive integer, units of every layer (per direction).
        num_layers: Positive integer, depth of the stack. Default: 1.
        bidirectional: Wrap every layer in `zoo.layers.Bidirectional`.
        merge_mode: How the two directions merge (see `Bidirectional`);
            must not be `None` in a stack.
        residual: Add residual connections where widths agree.
        return_sequences: Whether the top layer returns every step.
        return_state: Also return every layer's final states, as a flat
            list: layer 0's states (forward, then backward when
            bidirectional), then layer 1's, and so on. Default: `False`.
        dropout: Input dropout of every layer (see `Recurrent`).
        recurrent_dropout: Recurrent dropout of every layer.
        use_fused: Passed to every `Recurrent` layer.
        use_kernel: Passed to every `Recurrent` layer.
        cell_kwargs: Optional dict of extra cell arguments (for example
            `{"cell_clip": 3.0}`).
        seed: Optional integer seed for the dropout masks.
        **kwargs: Base layer keyword arguments.

    Call arguments:
        inputs: `[batch, time, features]`.
        initial_state: Optional flat list of `[batch, units]` tensors in the
            layout `return_state` returns (`num_states` of them); None
            starts every layer from its cell's initial state.
        mask: Optional boolean `[batch, time]`, True for real steps.
        training: Whether dropout is active.

    Returns:
        `[batch, width]`, or `[batch, time, width]` with `return_sequences`,
        where width is `units` (doubled by a bidirectional concat); with
        `return_state`, a list: that output, then the `num_states` final
        states (each taken at a row's last real step).

    Example:

    >>> stack = StackedRNN("lstm", units=4, num_layers=2, bidirectional=True)
    >>> tuple(stack(keras.ops.ones((2, 5, 3))).shape)
    (2, 8)

    Reference: Wu et al., "Google's Neural Machine Translation System",
    2016 (residual connections between recurrent layers).
    """

    def __init__(
        self,
        cell,
        units,
        num_layers=1,
        bidirectional=False,
        merge_mode="concat",
        residual=False,
        return_sequences=False,
        return_state=False,
        dropout=0.0,
        recurrent_dropout=0.0,
        use_fused="auto",
        use_kernel="auto",
        cell_kwargs=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.cell = utils.check_choice("cell", cell, cells.names())
        self.units = utils.check_positive_int("units", units)
        self.num_layers = utils.check_positive_int("num_layers", num_layers)
        self.bidirectional = bool(bidirectional)
        self.merge_mode = utils.check_choice(
            "merge_mode", merge_mode, [m for m in MERGE_MODES if m]
        )
        self.residual = bool(residual)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.dropout = utils.check_fraction("dropout", dropout)
        self.recurrent_dropout = utils.check_fraction(
            "recurrent_dropout", recurrent_dropout
        )
        self.use_fused = use_fused
        self.use_kernel = use_kernel
        self.cell_kwargs = dict(cell_kwargs or {})
        self.seed = seed
        self.supports_masking = True
        self.rnn_layers = []
        for index in range(self.num_layers):
            last = index == self.num_layers - 1
            layer = Recurrent(
                cells.get(cell, units=self.units, **self.cell_kwargs),
                return_sequences=self.return_sequences or not last,
                return_state=self.return_state,
                dropout=self.dropout,
                recurrent_dropout=self.recurrent_dropout,
                use_fused=use_fused,
                use_kernel=use_kernel,
                # Bidirectional gives the backward copy seed + 1.
                seed=None if seed is None else seed + 2 * index,
                name=f"rnn_{index}",
            )
            if self.bidirectional:
                layer = Bidirectional(
                    layer, merge_mode=self.merge_mode, name=f"bi_rnn_{index}"
                )
            self.rnn_layers.append(layer)

    @property
    def output_width(self):
        doubled = self.bidirectional and self.merge_mode == "concat"
        return self.units * (2 if doubled else 1)

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.rnn_layers:
            layer.build(shape)
            shape = shape[:2] + (self.output_width,)

    @property
    def num_states(self):
        """How many state tensors `initial_state` and `return_state` hold."""
        size = self.rnn_layers[0].forward_layer.cell.state_size if (
            self.bidirectional) else self.rnn_layers[0].cell.state_size
        per_direction = len(size) if isinstance(size, (list, tuple)) else 1
        return per_direction * (2 if self.bidirectional else 1) * self.num_layers

    def compute_output_shape(self, input_shape):
        if self.return_sequences:
            output_shape = tuple(input_shape[:2]) + (self.output_width,)
        else:
            output_shape = (input_shape[0], self.output_width)
        if not self.return_state:
            return output_shape
        state = (input_shape[0], self.units)
        return [output_shape] + [state] * self.num_states

    def compute_mask(self, inputs, mask=None):
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * self.num_states
        return output_mask

    def call(self, inputs, initial_state=None, mask=None, training=False):
        per_layer = self.num_states // self.num_layers
        if initial_state is not None:
            initial_state = list(initial_state)
            if len(initial_state) != self.num_states:
                raise ValueError(
                    f"Received an `initial_state` of {len(initial_state)} "
                    f"tensors, expected {self.num_states} ({per_layer} per "
                    f"layer, {self.num_layers} layers)"
                )
        x, states = inputs, []
        for index, layer in enumerate(self.rnn_layers):
            given = None if initial_state is None else initial_state[
                index * per_layer:(index + 1) * per_layer
            ]
            y = layer(x, initial_state=given, mask=mask, training=training)
            if self.return_state:
                y, *final = y
                states.extend(final)
            # Shapes agree only for sequence outputs of equal width.
            if self.residual and tuple(y.shape[1:]) == tuple(x.shape[1:]):
                y = y + x
                if mask is not None and len(y.shape) == 3:
                    # Padded steps stay zero: [batch, time, 1] mask.
                    y = ops.where(ops.cast(mask, "bool")[:, :, None], y, 0.0)
            x = y
        return [x, *states] if self.return_state else x

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "cell": self.cell,
                "units": self.units,
                "num_layers": self.num_layers,
                "bidirectional": self.bidirectional,
                "merge_mode": self.merge_mode,
                "residual": self.residual,
                "return_sequences": self.return_sequences,
                "return_state": self.return_state,
                "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout,
                "use_fused": self.use_fused,
                "use_kernel": self.use_kernel,
                "cell_kwargs": self.cell_kwargs,
                "seed": self.seed,
            }
        )
        return config
