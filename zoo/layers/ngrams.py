"""A linear model over the set of ids in each row, and a product of experts.

`MultiHotDense` is `Dense` applied to the multi-hot encoding of token (or
token-pair) ids, computed by gathering kernel rows instead of building the
`[batch, vocabulary]` encoding. `ProductOfExperts` combines the class
probabilities of several models into one distribution. Together they put a
bag-of-n-grams linear classifier (`zoo.ngrams`) beside a network inside one
exported model.
"""

import keras
from keras import ops

from zoo import utils


@keras.saving.register_keras_serializable(package="zoo")
class MultiHotDense(keras.layers.Layer):
    """`activation(multi_hot(ids) @ kernel + bias)`, by gathering rows.

    Each row's distinct non-zero ids select kernel rows, which are summed:
    an id counts once however often it occurs, and 0 (padding) never
    counts, wherever it sits. Several id tensors (token ids and pair ids,
    say) share one layer: the `i`-th tensor's ids index the `i`-th block
    of `input_dims` rows of the kernel.

    Args:
        input_dims: Positive integer, or a sequence of them: the vocabulary
            size (padding included) of each id tensor the layer is called on.
        units: Positive integer, number of outputs.
        activation: Keras activation of the outputs (None: linear).
        **kwargs: Base layer keyword arguments.

    Call arguments:
        inputs: Integer ids `[batch, time]` (0 = padding), or a list of them,
            one per entry of `input_dims` (their lengths may differ).

    Example:

    >>> layer = MultiHotDense(4, 1)
    >>> layer.build([None, None])
    >>> kernel = keras.ops.array([[0.0], [1.0], [10.0], [100.0]])
    >>> layer.set_weights([kernel, keras.ops.array([0.5])])
    >>> layer(keras.ops.array([[2, 2, 3, 0], [0, 0, 0, 0]])).numpy().tolist()
    [[110.5], [0.5]]
    """

    def __init__(self, input_dims, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        dims = (input_dims,) if isinstance(input_dims, int) else input_dims
        self.input_dims = tuple(
            utils.check_positive_int("input_dims", dim) for dim in dims
        )
        if not self.input_dims:
            raise ValueError(
                "Received an invalid value for argument `input_dims`, "
                "expected at least one vocabulary size, got ()"
            )
        self.units = utils.check_positive_int("units", units)
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(sum(self.input_dims), self.units),
            initializer="zeros", name="kernel",
        )
        self.bias = self.add_weight(
            shape=(self.units,), initializer="zeros", name="bias"
        )

    def call(self, inputs):
        tensors = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        if len(tensors) != len(self.input_dims):
            raise ValueError(
                f"`MultiHotDense` has {len(self.input_dims)} vocabularies "
                f"(`input_dims`) but was called on {len(tensors)} id tensors"
            )
        outputs = self.bias[None, :]
        offset = 0
        for ids, dim in zip(tensors, self.input_dims):
            ids = ops.cast(ids, "int32")
            length = ops.shape(ids)[1]
            # seen[b, i]: ids[b, i] also sits at an earlier position j < i.
            same = ops.equal(ids[:, :, None], ids[:, None, :])
            earlier = ops.tril(ops.ones((length, length), "bool"), k=-1)
            seen = ops.any(ops.logical_and(same, earlier[None]), axis=-1)
            counts = ops.logical_and(ops.not_equal(ids, 0),
                                     ops.logical_not(seen))
            rows = ops.take(self.kernel, ops.clip(ids, 0, dim - 1) + offset,
                            axis=0)
            weights = ops.cast(counts, rows.dtype)[:, :, None]
            outputs = outputs + ops.sum(rows * weights, axis=1)
            offset += dim
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        first = input_shape[0] if isinstance(input_shape, list) else input_shape
        return (first[0], self.units)

    def get_config(self):
        config = super().get_config()
        config.update({
            "input_dims": list(self.input_dims),
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
        })
        return config


@keras.saving.register_keras_serializable(package="zoo")
class ProductOfExperts(keras.layers.Layer):
    """`softmax(sum_i weights[i] * log(p_i))`: class probabilities combined.

    A weighted geometric mean of the experts' distributions, renormalised.
    Weights of 1 and 0 return the first expert's distribution (up to the
    clipping of probabilities at `epsilon`).

    Args:
        weights: Sequence of non-negative floats, one per expert.
        epsilon: Probabilities are clipped to at least this before the log.
        **kwargs: Base layer keyword arguments.

    Call arguments:
        inputs: List of probabilities `[batch, classes]`, one per weight.

    Example:

    >>> mix = ProductOfExperts([0.5, 0.5])
    >>> p = keras.ops.array([[0.9, 0.1]])
    >>> q = keras.ops.array([[0.1, 0.9]])
    >>> [round(v, 3) for v in mix([p, q]).numpy()[0].tolist()]
    [0.5, 0.5]
    """

    def __init__(self, weights, epsilon=1e-7, **kwargs):
        super().__init__(**kwargs)
        weights = [float(w) for w in weights]
        if not weights or any(not w >= 0 for w in weights):
            raise ValueError(
                "Received an invalid value for argument `weights`, expected "
                f"a non-empty sequence of non-negative numbers, got {weights}"
            )
        self.expert_weights = weights
        self.epsilon = float(epsilon)

    def call(self, inputs):
        if len(inputs) != len(self.expert_weights):
            raise ValueError(
                f"`ProductOfExperts` has {len(self.expert_weights)} weights "
                f"but was called on {len(inputs)} experts"
            )
        scores = 0.0
        for weight, probabilities in zip(self.expert_weights, inputs):
            scores = scores + weight * ops.log(
                ops.maximum(probabilities, self.epsilon))
        return ops.softmax(scores, axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        config = super().get_config()
        config.update(
            {"weights": self.expert_weights, "epsilon": self.epsilon}
        )
        return config
