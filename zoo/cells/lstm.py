"""Long short-term memory cell, with optional peepholes and cell clipping."""

import keras
from keras import ops

from zoo import utils
from zoo.cells.base import RecurrentCell


@keras.saving.register_keras_serializable(package="zoo")
class LSTMCell(RecurrentCell):
    """One step of an LSTM, with optional peephole connections.

    With `z = x_t W + h_{t-1} U + b` split into four blocks (input i,
    forget f, candidate g, output o, the order of `keras.layers.LSTMCell`):

        i_t = sigma(z_i + p_i * c_{t-1})
        f_t = sigma(z_f + p_f * c_{t-1})
        g_t = tanh(z_g)
        c_t = clip(f_t * c_{t-1} + i_t * g_t, -cell_clip, cell_clip)
        o_t = sigma(z_o + p_o * c_t)
        h_t = o_t * tanh(c_t)

    The peephole terms (diagonal weights p_i, p_f, p_o of shape `[units]`)
    are present only with `use_peepholes=True`; clipping only with a
    `cell_clip`. Without either, the maths and the weight layout (`kernel`
    `[input, 4 * units]`, `recurrent_kernel` `[units, 4 * units]`, `bias`
    `[4 * units]`) are those of `keras.layers.LSTMCell`, so weights copy
    across and `zoo.layers.Recurrent` may hand the cell to a fused kernel.

    Args:
        units: Positive integer, dimensionality of `h` and `c`.
        activation: Activation of the candidate and of the cell output.
            Default: `"tanh"`.
        recurrent_activation: Activation of the gates. Default: `"sigmoid"`.
        use_peepholes: Whether the gates also see the cell state (Gers &
            Schmidhuber). Default: `False`.
        cell_clip: Optional positive number; the cell state is clipped to
            `[-cell_clip, cell_clip]` after each step. Default: `None`.
        unit_forget_bias: Whether the forget-gate bias starts at 1
            (Jozefowicz et al., 2015). Default: `True`.
        peephole_initializer: Initializer of the peephole weights. Default:
            `"zeros"`, so a peephole LSTM starts as the plain one.
        use_bias, kernel_initializer, recurrent_initializer,
        bias_initializer, *_regularizer: See `zoo.cells.base.RecurrentCell`.
        **kwargs: Base layer keyword arguments.

    Call arguments:
        inputs: `[batch, input]`, the input x_t of one step.
        states: `[h_{t-1}, c_{t-1}]`, each `[batch, units]`.
        training: Unused; accepted for the cell contract.
        recurrent_dropout_mask: Optional `[batch, units]` multiplier applied
            to h_{t-1} before the recurrent product.

    Returns:
        `(h_t, [h_t, c_t])`.

    Example:

    >>> cell = LSTMCell(4, use_peepholes=True, cell_clip=3.0)
    >>> zeros = keras.ops.zeros((2, 4))
    >>> h, (h, c) = cell(keras.ops.ones((2, 3)), [zeros, zeros])
    >>> tuple(c.shape)
    (2, 4)

    References:
        Hochreiter & Schmidhuber, "Long Short-Term Memory", 1997.
        Gers & Schmidhuber, "Recurrent Nets that Time and Count", 2000.
    """

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_peepholes=False,
        cell_clip=None,
        unit_forget_bias=True,
        peephole_initializer="zeros",
        **kwargs,
    ):
        super().__init__(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            **kwargs,
        )
        self.use_peepholes = bool(use_peepholes)
        self.cell_clip = utils.check_positive_number(
            "cell_clip", cell_clip, allow_none=True
        )
        self.unit_forget_bias = bool(unit_forget_bias)
        self.peephole_initializer = keras.initializers.get(
            peephole_initializer
        )

    @property
    def state_size(self):
        return [self.units, self.units]

    def build(self, input_shape):
        self._add_kernels(input_shape[-1], gates=4)
        initializer = None
        if self.unit_forget_bias:

            def initializer(shape, dtype=None):
                # Blocks [i, f, g, o]: the forget block starts at one.
                bias_i = self.bias_initializer((self.units,), dtype=dtype)
                ones_f = ops.ones((self.units,), dtype=dtype)
                rest = self.bias_initializer((2 * self.units,), dtype=dtype)
                return ops.concatenate([bias_i, ones_f, rest])

        self._add_bias((4 * self.units,), initializer)
        if self.use_peepholes:
            self.peephole_weights = self.add_weight(
                shape=(3, self.units),  # rows: p_i, p_f, p_o
                name="peephole_weights",
                initializer=self.peephole_initializer,
            )

    def call(
        self, inputs, states, training=False, recurrent_dropout_mask=None
    ):
        h_tm1, c_tm1 = states
        h_rec = self._recurrent_input(h_tm1, recurrent_dropout_mask)
        z = ops.matmul(inputs, self.kernel)
        z = z + ops.matmul(h_rec, self.recurrent_kernel)
        if self.use_bias:
            z = z + self.bias
        z_i, z_f, z_g, z_o = ops.split(z, 4, axis=-1)
        if self.use_peepholes:
            p_i, p_f, p_o = ops.unstack(self.peephole_weights, axis=0)
            z_i = z_i + p_i * c_tm1
            z_f = z_f + p_f * c_tm1
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        c = f * c_tm1 + i * self.activation(z_g)
        if self.cell_clip is not None:
            c = ops.clip(c, -self.cell_clip, self.cell_clip)
        if self.use_peepholes:
            z_o = z_o + p_o * c
        o = self.recurrent_activation(z_o)
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "use_peepholes": self.use_peepholes,
                "cell_clip": self.cell_clip,
                "unit_forget_bias": self.unit_forget_bias,
                "peephole_initializer": keras.initializers.serialize(
                    self.peephole_initializer
                ),
            }
        )
        return config
