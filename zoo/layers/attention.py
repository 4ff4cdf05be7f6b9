"""Attention of decoder states over encoder outputs, for encoder-decoders."""

import keras
from keras import ops

from zoo import utils

SCORES = ("bahdanau", "luong_dot", "luong_general")


@keras.saving.register_keras_serializable(package="zoo")
class SequenceAttention(keras.layers.Layer):
    """Context vectors of queries over a masked sequence of values.

    The scoring is Keras' own: `keras.layers.AdditiveAttention` for
    Bahdanau's `v . tanh(W1 q + W2 k)` (after learned projections of the
    queries and values to `units`), and `keras.layers.Attention`'s dot
    product for Luong's `q . k` ("dot") and `q . W k` ("general", after a
    learned projection of the values to the query width). This layer adds
    the projections and the masking contract: padded values get exactly
    zero weight, and a row whose values are all padding (an empty source)
    gets zero weights and a zero context, where Keras' layers, which
    require one real value per row, would spread the weight over padding.

    Args:
        score: `"bahdanau"` (additive), `"luong_dot"` or `"luong_general"`
            (multiplicative). Default: `"bahdanau"`.
        units: Positive integer, width of the additive projections; only
            (and then required) for `"bahdanau"`.
        **kwargs: Base layer keyword arguments.

    Call arguments:
        query: `[batch, time_q, query_dim]`, or `[batch, query_dim]` for one
            decoding step.
        value: `[batch, time_v, value_dim]`, e.g. encoder outputs. For
            `"luong_dot"`, `value_dim` must equal `query_dim`.
        value_mask: Optional boolean `[batch, time_v]`, True for real
            values.

    Returns:
        `[context, weights]`: `[batch, time_q, value_dim]` and
        `[batch, time_q, time_v]` (without `time_q` for a rank-2 query).
        Weights sum to one over the real values of a row. A Keras mask on
        `query` (e.g. a decoder's padding) is passed on to both.

    Example:

    >>> attention = SequenceAttention("luong_dot")
    >>> query = keras.ops.ones((1, 2, 3))
    >>> value = keras.ops.ones((1, 4, 3))
    >>> context, weights = attention(
    ...     query, value, value_mask=keras.ops.array([[True, True, False, False]]))
    >>> keras.ops.convert_to_numpy(weights)[0, 0].tolist()
    [0.5, 0.5, 0.0, 0.0]

    References: Bahdanau et al., "Neural Machine Translation by Jointly
    Learning to Align and Translate", ICLR 2015; Luong et al., "Effective
    Approaches to Attention-based Neural Machine Translation", EMNLP 2015.
    """

    def __init__(self, score="bahdanau", units=None, **kwargs):
        super().__init__(**kwargs)
        # A Keras mask on `query` passes on to both outputs.
        self.supports_masking = True
        self.score = utils.check_choice("score", score, SCORES)
        if self.score == "bahdanau":
            self.units = utils.check_positive_int("units", units)
        elif units is not None:
            raise ValueError(
                "Received an invalid value for argument `units`, expected "
                f"None with score {self.score!r} (only \"bahdanau\" projects "
                f"to `units`), got {units!r}"
            )
        else:
            self.units = None
        if self.score == "bahdanau":
            self.query_projection = keras.layers.Dense(
                self.units, use_bias=False, name="query_projection"
            )
            self.key_projection = keras.layers.Dense(
                self.units, name="key_projection"
            )
            self.attention = keras.layers.AdditiveAttention(
                use_scale=True, name="additive", dtype="float32"
            )
        else:
            self.attention = keras.layers.Attention(
                score_mode="dot", name="dot", dtype="float32"
            )

    def build(self, query_shape, value_shape, value_mask_shape=None):
        query_dim, value_dim = query_shape[-1], value_shape[-1]
        if self.score == "bahdanau":
            self.query_projection.build((None, None, query_dim))
            self.key_projection.build((None, None, value_dim))
            key_dim = self.units
        elif self.score == "luong_general":
            self.key_projection = keras.layers.Dense(
                query_dim, use_bias=False, name="key_projection"
            )
            self.key_projection.build((None, None, value_dim))
            key_dim = query_dim
        else:
            if (query_dim is not None and value_dim is not None
                    and query_dim != value_dim):
                raise ValueError(
                    "SequenceAttention(score=\"luong_dot\") needs queries and "
                    f"values of one width, got {query_dim} and {value_dim}; "
                    "use score=\"luong_general\" to learn a projection"
                )
            key_dim = query_dim
        self.attention.build([(None, None, key_dim), (None, None, value_dim),
                              (None, None, key_dim)])
        self.built = True

    def call(self, query, value, value_mask=None):
        one_step = len(query.shape) == 2
        if one_step:
            query = ops.expand_dims(query, 1)  # [batch, dim] -> [batch, 1, dim].
        key = value
        if self.score == "bahdanau":
            query = self.query_projection(query)
            key = self.key_projection(value)
        elif self.score == "luong_general":
            key = self.key_projection(value)
        if value_mask is None:
            value_mask = ops.ones(ops.shape(value)[:2], dtype="bool")
        value_mask = ops.cast(value_mask, "bool")
        _, weights = self.attention(
            [query, value, key], mask=[None, value_mask],
            return_attention_scores=True,
        )
        # [batch, 1, time_v]: Keras' weights are exact zeros on padding,
        # except in rows with no real value, which get zeros here.
        weights = ops.where(value_mask[:, None, :], weights, 0.0)
        # [batch, time_q, time_v] x [batch, time_v, value_dim], in float32
        # (the scores and weights are, whatever the layer's dtype policy).
        context = ops.cast(ops.matmul(weights, ops.cast(value, "float32")),
                           self.compute_dtype)
        if one_step:
            return [context[:, 0], weights[:, 0]]
        return [context, weights]

    def compute_mask(self, query, previous_mask=None):
        if previous_mask is None:
            return None
        return [previous_mask, previous_mask]

    def compute_output_shape(self, query_shape, value_shape,
                             value_mask_shape=None):
        if len(query_shape) == 2:
            return [(query_shape[0], value_shape[-1]),
                    (query_shape[0], value_shape[1])]
        return [(query_shape[0], query_shape[1], value_shape[-1]),
                (query_shape[0], query_shape[1], value_shape[1])]

    def get_config(self):
        config = super().get_config()
        config.update({"score": self.score, "units": self.units})
        return config
