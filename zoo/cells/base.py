"""The part every zoo cell shares: arguments, initial state and config."""

import keras
from keras import ops

from zoo import utils


def _activation(name, identifier):
    """`keras.activations.get`, with an error that names the argument."""
    try:
        return keras.activations.get(identifier)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"Received an invalid value for argument `{name}`, expected an "
            f"activation name or callable, got {identifier!r} ({error})"
        ) from error


class RecurrentCell(keras.layers.Layer):
    """Base class for zoo cells: one time step of a recurrent network.

    Subclasses follow Keras' cell contract: `call(inputs, states)` returns
    `(output, new_states)`, with `state_size`, `output_size` and
    `get_initial_state(batch_size)`. The first state is always the hidden
    state `h`, which is also the output; recurrent dropout (see
    `zoo.layers.Recurrent`) is applied to it where it enters the recurrent
    matrix product, never where it is carried forward.

    Args:
        units: Positive integer, dimensionality of the hidden state.
        activation: Activation of the candidate state. Default: `"tanh"`.
        recurrent_activation: Activation of the gates. Default: `"sigmoid"`.
        use_bias: Whether the cell has a bias vector. Default: `True`.
        kernel_initializer: Initializer of the input kernel `[input, k * units]`.
        recurrent_initializer: Initializer of the recurrent kernel
            `[units, k * units]`.
        bias_initializer: Initializer of the bias.
        kernel_regularizer, recurrent_regularizer, bias_regularizer:
            Optional regularizers of the same weights.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.
    """

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = utils.check_positive_int("units", units)
        self.activation = _activation("activation", activation)
        self.recurrent_activation = _activation(
            "recurrent_activation", recurrent_activation
        )
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(
            recurrent_initializer
        )
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(
            recurrent_regularizer
        )
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)

    @property
    def state_size(self):
        return [self.units]

    @property
    def output_size(self):
        return self.units

    def get_initial_state(self, batch_size=None):
        return [
            ops.zeros((batch_size, size), dtype=self.compute_dtype)
            for size in self.state_size
        ]

    def _add_kernels(self, input_dim, gates):
        """Creates `kernel` and `recurrent_kernel` for `gates` gates."""
        self.kernel = self.add_weight(
            shape=(input_dim, gates * self.units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, gates * self.units),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
        )

    def _add_bias(self, shape, initializer=None):
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=shape,
                name="bias",
                initializer=initializer or self.bias_initializer,
                regularizer=self.bias_regularizer,
            )

    @staticmethod
    def _recurrent_input(h_tm1, recurrent_dropout_mask):
        """The hidden state as the recurrent kernel sees it."""
        if recurrent_dropout_mask is None:
            return h_tm1
        return h_tm1 * recurrent_dropout_mask

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "activation": keras.activations.serialize(self.activation),
                "recurrent_activation": keras.activations.serialize(
                    self.recurrent_activation
                ),
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "recurrent_initializer": keras.initializers.serialize(
                    self.recurrent_initializer
                ),
                "bias_initializer": keras.initializers.serialize(
                    self.bias_initializer
                ),
                "kernel_regularizer": keras.regularizers.serialize(
                    self.kernel_regularizer
                ),
                "recurrent_regularizer": keras.regularizers.serialize(
                    self.recurrent_regularizer
                ),
                "bias_regularizer": keras.regularizers.serialize(
                    self.bias_regularizer
                ),
            }
        )
        return config
