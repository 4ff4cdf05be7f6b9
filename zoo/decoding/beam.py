"""Beam search with a GNMT length penalty over a step function.

Reference: Wu et al., 2016, "Google's Neural Machine Translation System:
Bridging the Gap between Human and Machine Translation"
(https://arxiv.org/abs/1609.08144), section 7: a hypothesis of `length`
tokens and log-probability sum `log_prob` scores
`log_prob / ((5 + length) / 6) ** length_penalty`.
"""

import numbers

import keras
from keras import ops

from zoo.decoding.greedy import _prepare
from zoo.decoding.greedy import _write
from zoo.utils import check_positive_int


def _check_length_penalty(value):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not value >= 0
    ):
        raise ValueError(
            "Received an invalid value for argument `length_penalty`, "
            f"expected a non-negative number, got {value!r}"
        )
    return float(value)


def length_normalized(log_probs, lengths, length_penalty):
    """GNMT score: `log_probs / ((5 + lengths) / 6) ** length_penalty`."""
    lengths = ops.cast(lengths, "float32")
    return log_probs / ops.power((5.0 + lengths) / 6.0, length_penalty)


def beam_search(next_fn, start_tokens, initial_state, max_length, end_token,
                beam_width=4, length_penalty=0.0, pad_token=0):
    """Decodes keeping the `beam_width` most probable hypotheses per row.

    At step 0 only beam 0 is live (the others start at log-probability
    -inf, so the beams are not copies of each other). Every step scores the
    `beam_width * vocab` continuations by their log-probability sum, keeps
    the best `beam_width` and reorders `state` by their parent beams. A
    beam that emitted `end_token` is finished: it has exactly one
    continuation (`pad_token`, log-probability 0; the others get -inf, so
    it is not duplicated), its score and length freeze and `next_fn` sees
    `pad_token` as its previous token after the end token. The loop stops
    when every beam of every row is finished, otherwise after `max_length`
    steps; then the finished hypotheses are ranked by the length penalized
    score, followed by the unfinished ones (cut off at `max_length`), also
    by score.

    Args:
        next_fn: `next_fn(tokens, state, index) -> (logits, state)` as for
            `zoo.decoding.greedy_search`; here it sees a batch of
            `batch * beam_width` (row-major: the beams of row 0 first).
        start_tokens: int `[batch]`, the first input tokens (not part of
            the output).
        initial_state: The first `state` for `[batch]`: a nested
            dict/list/tuple of tensors with leading dimension batch (e.g.
            recurrent states, encoder outputs); each is repeated
            `beam_width` times.
        max_length: Python int > 0, the length of the output buffer.
        end_token: Python int, the token that finishes a hypothesis.
        beam_width: Python int > 0.
        length_penalty: Python number >= 0, the GNMT `alpha`; 0 ranks by
            log-probability sum.
        pad_token: Python int written after the end token.

    Returns:
        `(sequences, scores, lengths)`: int32
        `[batch, beam_width, max_length]`, float32 `[batch, beam_width]`
        (the length penalized score, best first) and int32
        `[batch, beam_width]` (emitted tokens, end token included).

    Example:

    >>> import numpy as np
    >>> from keras import ops
    >>> # Log-probabilities of the next token given the previous one.
    >>> table = np.log([[.1, .5, .3, .1], [.1, .3, .2, .4],
    ...                 [.1, .1, .1, .7], [.25, .25, .25, .25]])
    >>> def next_fn(tokens, state, index):
    ...     return ops.take(table.astype("float32"), tokens, axis=0), state
    >>> sequences, scores, lengths = beam_search(
    ...     next_fn, [0], {}, max_length=4, end_token=3, beam_width=2)
    >>> ops.convert_to_numpy(sequences).tolist()  # .3 * .7 > .5 * .4
    [[[2, 3, 0, 0], [1, 3, 0, 0]]]
    """
    start_tokens, initial_state, max_length, end_token, pad_token = _prepare(
        next_fn, start_tokens, initial_state, max_length, end_token,
        pad_token,
    )
    beam_width = check_positive_int("beam_width", beam_width)
    length_penalty = _check_length_penalty(length_penalty)
    batch = ops.shape(start_tokens)[0]
    minus_inf = float("-inf")

    def flatten(x):
        # [batch, beam, ...] -> [batch * beam, ...]
        return ops.reshape(x, (-1,) + tuple(x.shape[2:]))

    tokens = ops.repeat(start_tokens, beam_width, axis=0)  # [batch * beam]
    state = keras.tree.map_structure(
        lambda x: ops.repeat(x, beam_width, axis=0), initial_state
    )
    sequences = ops.full(
        [batch, beam_width, max_length], pad_token, dtype="int32"
    )
    first = ops.arange(beam_width) == 0
    log_probs = ops.where(  # [batch, beam]: only beam 0 is live.
        first, ops.zeros([batch, beam_width]), minus_inf
    )
    lengths = ops.zeros([batch, beam_width], dtype="int32")
    finished = ops.zeros([batch, beam_width], dtype="bool")
    index = ops.convert_to_tensor(0, dtype="int32")

    def cond(index, tokens, state, sequences, log_probs, lengths, finished):
        return ops.logical_and(
            index < max_length, ops.logical_not(ops.all(finished))
        )

    def body(index, tokens, state, sequences, log_probs, lengths, finished):
        logits, state = next_fn(tokens, state, index)
        vocab = ops.shape(logits)[-1]
        step = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
        # [batch * beam, vocab] -> [batch, beam, vocab]
        step = ops.reshape(step, [-1, beam_width, vocab])
        # A finished beam has one continuation at no cost (candidate 0; its
        # token becomes `pad_token` below, which need not be in the vocab).
        only_one = ops.where(ops.arange(vocab) == 0, 0.0, minus_inf)
        step = ops.where(ops.expand_dims(finished, -1), only_one, step)
        candidates = ops.expand_dims(log_probs, -1) + step
        # [batch, beam, vocab] -> [batch, beam * vocab]
        candidates = ops.reshape(candidates, [-1, beam_width * vocab])
        log_probs, chosen = ops.top_k(candidates, beam_width)
        chosen = ops.cast(chosen, "int32")
        parents = chosen // vocab  # [batch, beam]
        token = chosen % vocab
        sequences = ops.take_along_axis(
            sequences, ops.expand_dims(parents, -1), axis=1
        )
        lengths = ops.take_along_axis(lengths, parents, axis=1)
        finished = ops.take_along_axis(finished, parents, axis=1)
        token = ops.where(finished, pad_token, token)
        lengths = lengths + ops.where(finished, 0, 1)
        finished = ops.logical_or(finished, token == end_token)
        sequences = _write(sequences, index, token)
        # Parent of each new beam in the flat [batch * beam] layout.
        offsets = ops.arange(ops.shape(parents)[0], dtype="int32") * beam_width
        flat_parents = flatten(parents + ops.expand_dims(offsets, -1))
        state = keras.tree.map_structure(
            lambda x: ops.take(x, flat_parents, axis=0), state
        )
        return (index + 1, flatten(token), state, sequences, log_probs,
                lengths, finished)

    _, _, _, sequences, log_probs, lengths, finished = ops.while_loop(
        cond,
        body,
        (index, tokens, state, sequences, log_probs, lengths, finished),
    )
    scores = length_normalized(log_probs, lengths, length_penalty)
    order = _finished_first(scores, finished)
    sequences = ops.take_along_axis(
        sequences, ops.expand_dims(order, -1), axis=1
    )
    scores = ops.take_along_axis(scores, order, axis=1)
    lengths = ops.take_along_axis(lengths, order, axis=1)
    return sequences, scores, lengths


def _finished_first(scores, finished):
    """Beam order `[batch, beam]`: finished by score, then unfinished by score.

    A hypothesis cut off by `max_length` is no translation of the whole
    source; with a length penalty its long length could otherwise outrank
    the finished ones.
    """
    minus_inf = float("-inf")
    width = ops.shape(scores)[1]
    _, done = ops.top_k(ops.where(finished, scores, minus_inf), width)
    _, open_ = ops.top_k(ops.where(finished, minus_inf, scores), width)
    count = ops.sum(ops.cast(finished, "int32"), axis=1, keepdims=True)
    rank = ops.expand_dims(ops.arange(width, dtype="int32"), 0)  # [1, beam]
    # Rank r takes the r-th finished beam, or else the (r - count)-th open.
    from_open = ops.take_along_axis(
        ops.cast(open_, "int32"), ops.maximum(rank - count, 0), axis=1
    )
    return ops.where(rank < count, ops.cast(done, "int32"), from_open)


@keras.saving.register_keras_serializable(package="zoo")
class BeamSearch:
    """Beam search with a GNMT length penalty; see `beam_search`.

    Args:
        beam_width: Positive int, the hypotheses kept per row.
        length_penalty: Non-negative number, the GNMT `alpha` of
            `((5 + length) / 6) ** alpha` (Wu et al., 2016); 0 ranks the
            hypotheses by log-probability sum.

    Call arguments:
        next_fn, start_tokens, initial_state, max_length, end_token,
        pad_token: As for `beam_search`.

    Example:

    >>> from keras import ops
    >>> def next_fn(tokens, state, index):  # Prefers 2, then 3 (the end).
    ...     logits = ops.convert_to_tensor([[0.0, 1.0, 2.0, 1.5]])
    ...     return ops.repeat(logits, ops.shape(tokens)[0], axis=0), state
    >>> decoder = BeamSearch(beam_width=2)
    >>> sequences, scores, lengths = decoder(
    ...     next_fn, [0], {}, max_length=2, end_token=3)
    >>> ops.convert_to_numpy(sequences).tolist()  # p(3) > p(2) * p(2)
    [[[3, 0], [2, 2]]]
    >>> ops.convert_to_numpy(lengths).tolist()
    [[1, 2]]
    >>> decoder.get_config()
    {'beam_width': 2, 'length_penalty': 0.0}
    """

    def __init__(self, beam_width=4, length_penalty=0.0):
        self.beam_width = check_positive_int("beam_width", beam_width)
        self.length_penalty = _check_length_penalty(length_penalty)

    def __call__(self, next_fn, start_tokens, initial_state, max_length,
                 end_token, pad_token=0):
        return beam_search(
            next_fn, start_tokens, initial_state, max_length, end_token,
            beam_width=self.beam_width,
            length_penalty=self.length_penalty,
            pad_token=pad_token,
        )

    def get_config(self):
        return {
            "beam_width": self.beam_width,
            "length_penalty": self.length_penalty,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return (
            f"BeamSearch(beam_width={self.beam_width}, "
            f"length_penalty={self.length_penalty})"
        )
