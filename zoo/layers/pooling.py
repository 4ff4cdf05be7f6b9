"""Masked pooling over time: last, mean, max or attention."""

import keras
from keras import ops

from zoo import utils

MODES = ("mean", "max", "attention")


@keras.saving.register_keras_serializable(package="zoo")
class SequencePooling(keras.layers.Layer):
    """Pools `[batch, time, features]` to `[batch, features]` over real steps.

    Padded steps never contribute: `mean` averages real steps only, `max`
    ignores padded ones, `attention` gives them zero weight. A fully padded
    row pools to zeros. (The last real state is what a `Recurrent` layer
    returns without `return_sequences`; it needs no pooling layer.)

    Args:
        mode: `"mean"`, `"max"` or `"attention"` (additive attention
            pooling with a learned query: a = softmax(v . tanh(W h_t + b))).
        attention_units: Positive integer, width of W for `"attention"`.
        **kwargs: Base layer keyword arguments.

    Call arguments:
        inputs: `[batch, time, features]`.
        mask: Optional boolean `[batch, time]`, True for real steps.

    Example:

    >>> pool = SequencePooling("mean")
    >>> x = keras.ops.array([[[1.0], [3.0], [100.0]]])
    >>> pool(x, mask=keras.ops.array([[True, True, False]])).numpy().tolist()
    [[2.0]]

    Reference (attention pooling): Yang et al., "Hierarchical Attention
    Networks for Document Classification", NAACL 2016.
    """

    def __init__(self, mode="mean", attention_units=64, **kwargs):
        super().__init__(**kwargs)
        self.mode = utils.check_choice("mode", mode, MODES)
        self.attention_units = utils.check_positive_int(
            "attention_units", attention_units
        )
        self.supports_masking = True

    def build(self, input_shape):
        if self.mode == "attention":
            self.projection = keras.layers.Dense(
                self.attention_units, activation="tanh", name="projection"
            )
            self.projection.build(input_shape)
            self.query = self.add_weight(
                shape=(self.attention_units,),
                initializer="glorot_uniform",
                name="query",
            )

    def call(self, inputs, mask=None):
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], dtype="bool")
        mask = ops.cast(mask, "bool")
        real = ops.cast(mask, inputs.dtype)[:, :, None]  # [batch, time, 1]
        if self.mode == "mean":
            count = ops.maximum(ops.sum(real, axis=1), 1.0)
            return ops.sum(inputs * real, axis=1) / count
        if self.mode == "max":
            lowest = ops.min(inputs) - 1.0
            # expand_dims, not [:, :, None] (see zoo.layers.recurrent).
            pooled = ops.max(ops.where(ops.expand_dims(mask, -1), inputs,
                                       lowest), axis=1)
            any_real = ops.any(mask, axis=1)[:, None]
            return ops.where(any_real, pooled, 0.0)
        # [batch, time, units] . [units] -> scores [batch, time].
        scores = ops.matmul(self.projection(inputs), self.query)
        # The softmax is float32 whatever the dtype policy.
        scores = ops.where(mask, ops.cast(scores, "float32"), -1e9)
        weights = ops.softmax(scores, axis=-1) * ops.cast(mask, "float32")
        weights = ops.cast(weights, inputs.dtype)
        return ops.sum(inputs * weights[:, :, None], axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        config = super().get_config()
        config.update(
            {"mode": self.mode, "attention_units": self.attention_units}
        )
        return config
