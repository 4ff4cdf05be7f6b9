"""Elman's simple recurrent cell."""

import keras
from keras import ops

from zoo.cells.base import RecurrentCell


@keras.saving.register_keras_serializable(package="zoo")
class SimpleRNNCell(RecurrentCell):
    """Fully connected recurrent cell: `s_t = f(x_t U + s_{t-1} W + b)`.

    Weights have the layout of `keras.layers.SimpleRNNCell` (`kernel` is U
    `[input, units]`, `recurrent_kernel` is W `[units, units]`, `bias` b
    `[units]`), so weights copy across in both directions.

    Args:
        units: Positive integer, dimensionality of the state.
        activation: The non-linearity f. Default: `"tanh"`.
        use_bias, kernel_initializer, recurrent_initializer,
        bias_initializer, *_regularizer: See `zoo.cells.base.RecurrentCell`.
        **kwargs: Base layer keyword arguments.

    Call arguments:
        inputs: `[batch, input]`, the input x_t of one step.
        states: `[s_{t-1}]`, a list of one `[batch, units]` tensor.
        training: Unused; accepted for the cell contract.
        recurrent_dropout_mask: Optional `[batch, units]` multiplier applied
            to s_{t-1} before the recurrent product.

    Returns:
        `(s_t, [s_t])`.

    Example:

    >>> cell = SimpleRNNCell(4)
    >>> out, [s] = cell(keras.ops.ones((2, 3)), [keras.ops.zeros((2, 4))])
    >>> tuple(out.shape)
    (2, 4)

    Reference: Elman, "Finding Structure in Time", Cognitive Science, 1990.
    """

    def __init__(self, units, activation="tanh", **kwargs):
        if "recurrent_activation" in kwargs:
            raise ValueError(
                "SimpleRNNCell has no gates, so no `recurrent_activation`; "
                f"got {kwargs['recurrent_activation']!r}"
            )
        super().__init__(units, activation=activation, **kwargs)

    def build(self, input_shape):
        self._add_kernels(input_shape[-1], gates=1)
        self._add_bias((self.units,))

    def call(
        self, inputs, states, training=False, recurrent_dropout_mask=None
    ):
        s_tm1 = self._recurrent_input(states[0], recurrent_dropout_mask)
        z = ops.matmul(inputs, self.kernel)
        if self.use_bias:
            z = z + self.bias
        z = z + ops.matmul(s_tm1, self.recurrent_kernel)
        s = self.activation(z)
        return s, [s]

    def get_config(self):
        config = super().get_config()
        del config["recurrent_activation"]
        return config
