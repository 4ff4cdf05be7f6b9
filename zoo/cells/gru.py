"""Gated recurrent unit cell."""

import keras
from keras import ops

from zoo.cells.base import RecurrentCell


@keras.saving.register_keras_serializable(package="zoo")
class GRUCell(RecurrentCell):
    """One step of a GRU (Cho et al., 2014).

    Convention for the update gate z (the one of Cho et al. and of
    `keras.layers.GRUCell`): z is the share of the *old* state that is kept,

        z_t = sigma(x_t W_z + h_{t-1} U_z + b_z)
        r_t = sigma(x_t W_r + h_{t-1} U_r + b_r)
        n_t = tanh(x_t W_n + r_t * (h_{t-1} U_n + b'_n))   # reset_after
        n_t = tanh(x_t W_n + (r_t * h_{t-1}) U_n + b_n)    # reset before
        h_t = z_t * h_{t-1} + (1 - z_t) * n_t

    Blocks are ordered [z, r, n] in `kernel` `[input, 3 * units]` and
    `recurrent_kernel` `[units, 3 * units]`. With `reset_after=True` (the
    default, cuDNN's variant) `bias` is `[2, 3 * units]`: row 0 is added to
    the input product, row 1 to the recurrent product; otherwise it is
    `[3 * units]`. This is the layout of `keras.layers.GRUCell`.

    Args:
        units: Positive integer, dimensionality of the state.
        activation: Activation of the candidate n. Default: `"tanh"`.
        recurrent_activation: Activation of z and r. Default: `"sigmoid"`.
        reset_after: Apply the reset gate after the recurrent product.
            Default: `True`.
        use_bias, kernel_initializer, recurrent_initializer,
        bias_initializer, *_regularizer: See `zoo.cells.base.RecurrentCell`.
        **kwargs: Base layer keyword arguments.

    Call arguments:
        inputs: `[batch, input]`, the input x_t of one step.
        states: `[h_{t-1}]`, a list of one `[batch, units]` tensor.
        training: Unused; accepted for the cell contract.
        recurrent_dropout_mask: Optional `[batch, units]` multiplier applied
            to h_{t-1} where it enters the recurrent product (not where it
            is carried by z).

    Returns:
        `(h_t, [h_t])`.

    Example:

    >>> cell = GRUCell(4)
    >>> h, [h] = cell(keras.ops.ones((2, 3)), [keras.ops.zeros((2, 4))])
    >>> tuple(h.shape)
    (2, 4)

    Reference: Cho et al., "Learning Phrase Representations using RNN
    Encoder-Decoder for Statistical Machine Translation", EMNLP 2014.
    """

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        reset_after=True,
        **kwargs,
    ):
        super().__init__(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            **kwargs,
        )
        self.reset_after = bool(reset_after)

    def build(self, input_shape):
        self._add_kernels(input_shape[-1], gates=3)
        shape = (2, 3 * self.units) if self.reset_after else (3 * self.units,)
        self._add_bias(shape)

    def call(
        self, inputs, states, training=False, recurrent_dropout_mask=None
    ):
        h_tm1 = states[0]
        h_rec = self._recurrent_input(h_tm1, recurrent_dropout_mask)
        x_proj = ops.matmul(inputs, self.kernel)
        if self.use_bias:
            input_bias = self.bias[0] if self.reset_after else self.bias
            x_proj = x_proj + input_bias
        x_z, x_r, x_n = ops.split(x_proj, 3, axis=-1)
        if self.reset_after:
            h_proj = ops.matmul(h_rec, self.recurrent_kernel)
            if self.use_bias:
                h_proj = h_proj + self.bias[1]
            h_z, h_r, h_n = ops.split(h_proj, 3, axis=-1)
            z = self.recurrent_activation(x_z + h_z)
            r = self.recurrent_activation(x_r + h_r)
            n = self.activation(x_n + r * h_n)
        else:
            u_zr = self.recurrent_kernel[:, : 2 * self.units]
            u_n = self.recurrent_kernel[:, 2 * self.units :]
            h_z, h_r = ops.split(ops.matmul(h_rec, u_zr), 2, axis=-1)
            z = self.recurrent_activation(x_z + h_z)
            r = self.recurrent_activation(x_r + h_r)
            n = self.activation(x_n + ops.matmul(r * h_rec, u_n))
        h = z * h_tm1 + (1.0 - z) * n
        return h, [h]

    def get_config(self):
        config = super().get_config()
        config["reset_after"] = self.reset_after
        return config
