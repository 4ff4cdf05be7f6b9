"""Linear-chain conditional random field: the layer and its loss."""

import keras
import tensorflow as tf
from keras import ops

from zoo import utils
from zoo.decoding.greedy import argmax


@keras.saving.register_keras_serializable(package="zoo")
class CRF(keras.layers.Layer):
    """A linear-chain CRF over per-step tag potentials.

    The layer owns the transition weights; calling it returns the
    potentials unchanged (and passes the mask on), so a model ending in
    `CRF` outputs potentials and is trained with `CRFLoss(crf)`. Its
    methods do the inference: `log_partition` (forward algorithm),
    `sequence_score`, `log_likelihood`, `decode` (Viterbi) and `marginals`
    (forward-backward), all in float32 with `keras.ops` loops that trace
    with unknown batch and time (time may be 0).

    The score of tags y over the real steps t_1 < ... < t_n of a row is
    `start_transitions[y_1] + sum_k potentials[t_k, y_k]
    + sum_k transitions[y_(k-1), y_k] + end_transitions[y_n]`.
    Padded steps may sit anywhere (left, right, holes): they are skipped,
    and the chain links consecutive real steps. A row without real steps
    scores 0, has log partition 0, decodes to zeros and has zero
    marginals.

    The forward and backward algorithms sum over tag pairs with matrix
    products of exponentials, shifted by each row's best score and each
    column's best transition. A sum more than about 69 (in log space)
    below those shifts is clamped there: only paths that hard
    constraints (transitions of, say, -1e4) all but forbid can reach it,
    and their log-probability is then overestimated; Viterbi takes
    maxima, not sums, and stays exact.

    Args:
        num_tags: Positive integer, the number of tags.
        transitions_initializer: Initializer for `transitions`
            (`start_transitions` and `end_transitions` start at zero).
        **kwargs: Base layer keyword arguments.

    Weights:
        transitions: `[num_tags, num_tags]`, the score of tag i followed
            by tag j is `transitions[i, j]`.
        start_transitions: `[num_tags]`, added at the first real step.
        end_transitions: `[num_tags]`, added after the last real step.

    Call arguments:
        inputs: Potentials (unnormalized tag scores, e.g. the logits of a
            `Dense(num_tags)`), `[batch, time, num_tags]`.
        mask: Optional boolean `[batch, time]`, True for real steps. The
            layer passes it on unchanged; the methods below take it too.

    Returns:
        `inputs`, unchanged.

    Example:

    >>> crf = CRF(num_tags=2)
    >>> potentials = keras.ops.array([[[2.0, 0.0], [0.0, 1.0], [5.0, 0.0]]])
    >>> tags, best_score = crf.decode(
    ...     potentials, mask=keras.ops.array([[True, True, False]]))
    >>> keras.ops.convert_to_numpy(tags).tolist()
    [[0, 1, 0]]
    >>> float(best_score[0])
    3.0
    >>> round(float(crf.log_partition(keras.ops.zeros((1, 3, 2)))[0]), 4)
    2.0794

    References: Lafferty, McCallum & Pereira, "Conditional Random Fields:
    Probabilistic Models for Segmenting and Labeling Sequence Data",
    ICML 2001. Lample et al., "Neural Architectures for Named Entity
    Recognition", NAACL 2016 (the BiLSTM-CRF tagger).
    """

    def __init__(self, num_tags, transitions_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.num_tags = utils.check_positive_int("num_tags", num_tags)
        self.transitions_initializer = keras.initializers.get(
            transitions_initializer
        )
        self.supports_masking = True

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] != self.num_tags:
            raise ValueError(
                f"`CRF(num_tags={self.num_tags})` expects potentials of "
                f"shape [batch, time, {self.num_tags}], got shape "
                f"{tuple(input_shape)}"
            )
        self.transitions = self.add_weight(
            shape=(self.num_tags, self.num_tags),
            initializer=self.transitions_initializer,
            dtype="float32",
            name="transitions",
        )
        self.start_transitions = self.add_weight(
            shape=(self.num_tags,),
            initializer="zeros",
            dtype="float32",
            name="start_transitions",
        )
        self.end_transitions = self.add_weight(
            shape=(self.num_tags,),
            initializer="zeros",
            dtype="float32",
            name="end_transitions",
        )

    def call(self, inputs, mask=None):
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    # ---------------------------------------------------------------- helpers

    def _prepare(self, potentials, mask):
        """Float32 potentials and a bool mask, both with a padded step 0.

        Returns `(potentials, mask, first, last)`, batch-major, with one
        padded step in front: a scan cannot stack the outputs of zero
        steps when the batch size is unknown, and a padded step is skipped
        by every algorithm here. `first`/`last` mark each row's first and
        last real step. Padded potentials are zeroed (they may hold
        anything, even NaN, and never count).
        """
        potentials = ops.convert_to_tensor(potentials)
        if not self.built:
            self.build(tuple(potentials.shape))
        potentials = ops.cast(potentials, "float32")
        shape = ops.shape(potentials)
        batch = shape[0]
        if mask is None:
            mask = ops.ones((batch, shape[1]), dtype="bool")
        mask = ops.cast(mask, "bool")
        # expand_dims, not [:, :, None] (see zoo.layers.recurrent).
        potentials = ops.where(ops.expand_dims(mask, -1), potentials, 0.0)
        # [batch, time, tags] -> [batch, 1 + time, tags]; mask likewise.
        potentials = ops.concatenate(
            [ops.zeros((batch, 1, self.num_tags), dtype="float32"), potentials],
            axis=1,
        )
        mask = ops.concatenate(
            [ops.zeros((batch, 1), dtype="bool"), mask], axis=1
        )
        # Real steps so far, and in all.
        count = ops.cumsum(ops.cast(mask, "int32"), axis=1)
        total = ops.sum(ops.cast(mask, "int32"), axis=1, keepdims=True)
        first = ops.logical_and(mask, ops.equal(count, 1))
        last = ops.logical_and(mask, ops.equal(count, total))
        return potentials, mask, first, last

    def _steps(self, potentials, mask, flag):
        """Packs one step's inputs into one time-major float32 tensor.

        `[batch, time, tags]`, `[batch, time]` twice -> `[time, batch,
        tags + 2]` (potentials, then mask, then `flag`, as 0/1): with
        unknown time, Keras 3.15's TensorFlow `ops.scan` failed on more
        than one tensor to scan over.
        """
        packed = ops.concatenate(
            [
                potentials,
                ops.cast(mask, "float32")[:, :, None],
                ops.cast(flag, "float32")[:, :, None],
            ],
            axis=-1,
        )
        return ops.moveaxis(packed, 1, 0)  # [batch, time, ...] -> [time, ...]

    def _unpack(self, step_inputs):
        """`[batch, tags + 2]` -> emission `[batch, tags]`, 2 bool `[batch]`."""
        n = self.num_tags
        real = ops.greater(step_inputs[:, n], 0.5)
        flag = ops.greater(step_inputs[:, n + 1], 0.5)
        return step_inputs[:, :n], real, flag

    def _forward(self, potentials, mask, first):
        """Forward algorithm; returns alphas `[batch, time, tags]`.

        alpha_t[j] is the log of the summed scores of all tag prefixes
        ending in tag j at step t (its potential included); padded steps
        carry the alpha of the last real step before them.
        """
        exp_transitions, offset = self._exp_transitions()
        start = ops.convert_to_tensor(self.start_transitions)
        init = ops.broadcast_to(start, ops.shape(potentials[:, 0, :]))

        def step(alpha, inputs):
            emission, real, is_first = self._unpack(inputs)
            # logsumexp over "from" of alpha[from] + transitions[from, to].
            chained = _log_matmul(alpha, exp_transitions) + offset
            # Until the first real step, alpha holds start_transitions.
            new = ops.where(is_first[:, None], alpha, chained) + emission
            return ops.where(real[:, None], new, alpha)

        alphas = _scan(step, init, self._steps(potentials, mask, first))
        return ops.moveaxis(alphas, 0, 1)  # [time, batch, tags] -> [batch, ...]

    def _exp_transitions(self, transpose=False):
        """`(exp(t - offset), offset)`, `offset` the maximum of each column.

        `t` is `transitions` `[from, to]`, or with `transpose` its
        transpose `[to, from]`. The forward algorithm's sums over "from"
        and the backward algorithm's over "to" become matrix products
        with it (an order of magnitude faster than a logsumexp over
        `[batch, tags, tags]`); the offsets keep every column's largest
        entry at 1.
        """
        transitions = ops.convert_to_tensor(self.transitions)
        if transpose:
            transitions = ops.transpose(transitions)  # [from, to] -> [to, from].
        offset = ops.max(transitions, axis=0)  # [columns].
        return ops.exp(transitions - offset), offset

    def _log_z(self, alphas, mask):
        end = ops.convert_to_tensor(self.end_transitions)
        log_z = ops.logsumexp(alphas[:, -1, :] + end, axis=-1)
        return ops.where(ops.any(mask, axis=1), log_z, 0.0)

    # ---------------------------------------------------------------- public

    def log_partition(self, potentials, mask=None):
        """Log of the summed scores of all tag sequences, `[batch]`."""
        potentials, mask, first, _ = self._prepare(potentials, mask)
        return self._log_z(self._forward(potentials, mask, first), mask)

    def sequence_score(self, potentials, tags, mask=None):
        """Unnormalized score of int `tags` `[batch, time]`, `[batch]`.

        Tags at padded steps are ignored (they may be -1).
        """
        potentials, mask, first, last = self._prepare(potentials, mask)
        tags = ops.cast(tags, "int32")
        # [batch, time] -> [batch, 1 + time], like the potentials.
        batch = ops.shape(tags)[0]
        tags = ops.concatenate(
            [ops.zeros((batch, 1), dtype="int32"), tags], axis=1
        )
        tags = ops.where(mask, tags, 0)
        real = ops.cast(mask, "float32")
        # [batch, time, tags] -> each step's potential of its tag [batch, time].
        unary = ops.take_along_axis(potentials, tags[:, :, None], axis=2)
        unary = unary[:, :, 0]
        start = ops.take(self.start_transitions, tags)
        end = ops.take(self.end_transitions, tags)
        score = ops.sum(
            real * unary
            + ops.cast(first, "float32") * start
            + ops.cast(last, "float32") * end,
            axis=1,
        )
        # Move each row's real tags to its front, in order (the sort keys
        # are distinct, so no stable sort is needed); consecutive real
        # steps then sit side by side.
        time = ops.shape(tags)[1]
        steps = ops.arange(time, dtype="int32")[None, :]
        order = ops.argsort(ops.where(mask, steps, steps + time), axis=1)
        packed = ops.take_along_axis(tags, order, axis=1)
        pairs = packed[:, :-1] * self.num_tags + packed[:, 1:]
        count = ops.sum(ops.cast(mask, "int32"), axis=1, keepdims=True)
        linked = ops.cast(steps[:, 1:] < count, "float32")  # Both steps real.
        flat = ops.reshape(self.transitions, (-1,))  # [tags * tags].
        return score + ops.sum(linked * ops.take(flat, pairs), axis=1)

    def log_likelihood(self, potentials, tags, mask=None):
        """Log-probability of int `tags` `[batch, time]`, `[batch]`."""
        return self.sequence_score(potentials, tags, mask) - self.log_partition(
            potentials, mask
        )

    def decode(self, potentials, mask=None):
        """Viterbi decoding.

        Returns:
            `(tags, best_score)`: the highest-scoring tags, int32
            `[batch, time]` with 0 at padded steps, and their score,
            float32 `[batch]`.
        """
        potentials, mask, first, _ = self._prepare(potentials, mask)
        transitions = ops.convert_to_tensor(self.transitions)[None]
        start = ops.convert_to_tensor(self.start_transitions)
        end = ops.convert_to_tensor(self.end_transitions)
        init_score = ops.broadcast_to(start, ops.shape(potentials[:, 0, :]))
        identity = ops.broadcast_to(
            ops.arange(self.num_tags, dtype="int32"), ops.shape(init_score)
        )

        def step(carry, inputs):
            best, _ = carry
            emission, real, is_first = self._unpack(inputs)
            # [batch, from, 1] + [1, from, to]: best predecessor per "to".
            scores = best[:, :, None] + transitions
            pointers = argmax(ops.moveaxis(scores, 1, 2))
            # The max by its argmax (ops.max rejects an empty batch).
            chained = ops.take_along_axis(scores, pointers[:, None, :], axis=1)
            chained = chained[:, 0, :]
            new = ops.where(is_first[:, None], best, chained) + emission
            new = ops.where(real[:, None], new, best)
            # Padded and first steps point at the same tag, so the
            # backtrace passes them unchanged.
            linked = ops.logical_and(real, ops.logical_not(is_first))
            pointers = ops.where(linked[:, None], pointers, identity)
            return new, pointers

        news, pointers = _scan(step, (init_score, identity),
                               self._steps(potentials, mask, first))
        final = news[-1] + end  # time >= 1: the padded step 0.
        any_real = ops.any(mask, axis=1)
        last_tag = argmax(final)
        best_score = ops.take_along_axis(final, last_tag[:, None], axis=1)
        best_score = ops.where(any_real, best_score[:, 0], 0.0)

        def backtrace(carry, inputs):
            tag, _ = carry  # The tag here, and the one emitted after.
            step_pointers, real = inputs[:, :-1], ops.greater(inputs[:, -1], 0)
            previous = ops.take_along_axis(step_pointers, tag[:, None], axis=1)
            return previous[:, 0], ops.where(real, tag, 0)

        # [time, batch, tags] -> [time, batch, tags + 1]: the mask as 0/1
        # after the pointers (one tensor to scan over, as above).
        # [batch, time] -> [time, batch, 1].
        real = ops.cast(ops.moveaxis(mask, 1, 0), "int32")[:, :, None]
        _, tags = _scan(
            backtrace, (last_tag, ops.zeros_like(last_tag)),
            ops.concatenate([pointers, real], axis=-1), reverse=True,
        )
        # [time, batch] -> [batch, time], without the padded step 0.
        return ops.moveaxis(tags, 0, 1)[:, 1:], best_score

    def marginals(self, potentials, mask=None):
        """Per-step tag probabilities, `[batch, time, num_tags]`.

        Forward-backward; rows sum to 1 at real steps and are 0 at padded
        steps.
        """
        potentials, mask, first, last = self._prepare(potentials, mask)
        alphas = self._forward(potentials, mask, first)
        log_z = self._log_z(alphas, mask)
        exp_transitions, offset = self._exp_transitions(transpose=True)
        end = ops.convert_to_tensor(self.end_transitions)

        def step(carry, inputs):
            # `ahead` is potential + beta of the next real step.
            ahead, _ = carry
            emission, real, is_last = self._unpack(inputs)
            # logsumexp over "to" of transitions[from, to] + ahead[to].
            chained = _log_matmul(ahead, exp_transitions) + offset
            beta = ops.where(is_last[:, None], end, chained)
            ahead = ops.where(real[:, None], emission + beta, ahead)
            return ahead, beta

        zeros = ops.zeros_like(potentials[:, 0, :])
        _, betas = _scan(step, (zeros, zeros),
                         self._steps(potentials, mask, last), reverse=True)
        betas = ops.moveaxis(betas, 0, 1)  # [time, batch, tags] -> [batch, ...]
        probs = ops.exp(alphas + betas - log_z[:, None, None])
        probs = ops.where(ops.expand_dims(mask, -1), probs, 0.0)
        return probs[:, 1:]  # Without the padded step 0.

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_tags": self.num_tags,
                "transitions_initializer": keras.initializers.serialize(
                    self.transitions_initializer
                ),
            }
        )
        return config


def _log_matmul(log_x, exp_matrix):
    """`log(exp(log_x) @ exp_matrix)`, stable: `[batch, n] x [n, m]`.

    Rows of `log_x` are shifted by their maximum (entries of `exp_matrix`
    are at most 1, see `CRF._exp_transitions`). A sum below 1e-30, that
    is more than about 69 below the row's best score plus the column's
    best transition, is clamped there rather than becoming log(0).
    """
    # `initial` lets an empty batch through (ops.max rejects it eagerly).
    shift = ops.max(log_x, axis=-1, keepdims=True, initial=float("-inf"))
    total = ops.matmul(ops.exp(log_x - shift), exp_matrix)
    return ops.log(ops.maximum(total, 1e-30)) + shift


@keras.saving.register_keras_serializable(package="zoo")
class CRFLoss(keras.losses.Loss):
    """Negative log-likelihood of a `CRF` layer's tags.

    Args:
        crf: The `CRF` layer whose output (the potentials) is `y_pred`.
        name: Name of the loss.
        reduction: Keras loss reduction.

    Call arguments:
        y_true: Int tags `[batch, time]`, negative (e.g. -1) at padded
            steps.
        y_pred: Potentials `[batch, time, num_tags]`.

    Returns:
        Per-step values `[batch, time]` (before reduction): each row's
        negative log-likelihood divided by its number of real steps, at
        its real steps, and 0 at padded ones; a row with no real step is
        all 0. They sum to the batch's negative log-likelihood.

    With the default `"sum_over_batch_size"` reduction and a Keras mask on
    `y_pred` (e.g. from `Embedding(mask_zero=True)`, passed on by `CRF`),
    Keras divides the sum by the number of real steps: the loss is the
    negative log-likelihood per real token. Without a mask on `y_pred` it
    divides by `batch * time`.

    The loss holds the model's `CRF` layer, which a config cannot carry:
    load a model compiled with it with `keras.saving.load_model(path,
    compile=False)` and compile it again with `CRFLoss(<its CRF layer>)`.

    Example:

    >>> crf = CRF(num_tags=2)
    >>> loss = CRFLoss(crf)
    >>> per_step = loss.call(keras.ops.array([[0, 1, -1]]),
    ...                      keras.ops.zeros((1, 3, 2)))
    >>> [round(float(v), 4) for v in per_step[0]]
    [0.6931, 0.6931, 0.0]
    """

    def __init__(self, crf, name="crf_loss", reduction="sum_over_batch_size"):
        if not isinstance(crf, CRF):
            raise ValueError(
                "Received an invalid value for argument `crf`, expected a "
                f"`zoo.layers.CRF` layer, got {crf!r}"
            )
        super().__init__(name=name, reduction=reduction)
        self.crf = crf

    def call(self, y_true, y_pred):
        # Keras hands `y_true` over as float32; -1.0 stays negative.
        mask = ops.greater_equal(y_true, 0)
        tags = ops.where(mask, ops.cast(y_true, "int32"), 0)
        nll = -self.crf.log_likelihood(y_pred, tags, mask)  # [batch]
        real = ops.cast(mask, "float32")
        count = ops.sum(real, axis=1)
        # Spread each row's NLL evenly over its real steps, so the values
        # of a row sum to its NLL, and Keras' masked "sum_over_batch_size"
        # (sum / number of real steps, the mask being y_pred's) gives the
        # NLL per real token. A row with no real step divides 0 by 1.
        per_step = nll / ops.maximum(count, 1.0)
        return per_step[:, None] * real

    @classmethod
    def from_config(cls, config):
        raise ValueError(
            "`CRFLoss` cannot be rebuilt from its config: it needs the "
            "model's `CRF` layer. Load the model with "
            "`keras.saving.load_model(path, compile=False)` and compile it "
            "with `CRFLoss(<its CRF layer>)`."
        )


def _scan(step, init, elems, reverse=False):
    """The carries of `step(carry, elem) -> carry` over the leading axis
    of `elems`, stacked (a structure like `init`'s).

    `tf.scan`, not `ops.scan`: Keras' scan stacks its outputs in tensor
    lists of no element shape, which tf2onnx writes as tensors of no
    type, so ONNX Runtime refused the exported CRF. A reverse scan is a
    forward one over the flipped elements, flipped back: tf2onnx converts
    `tf.scan(..., reverse=True)` into a loop that gives other numbers.
    """
    if not reverse:
        return tf.scan(step, elems, initializer=init)
    flipped = tf.scan(step, ops.flip(elems, axis=0), initializer=init)
    return tf.nest.map_structure(lambda t: ops.flip(t, axis=0), flipped)
