"""Greedy search: at every step, the single most probable next token.

A loop over a step function `next_fn(tokens, state, index) -> (logits,
state)` (see `zoo.decoding`), written with `keras.ops.while_loop` and
fixed-shape loop variables so it runs eagerly and inside a `tf.function`
with an unknown batch size (SavedModel export).
"""

import numbers

import keras
from keras import ops

from zoo.utils import check_positive_int


def _check_token(name, value):
    """Returns `value` if it is an integer >= 0, else raises `ValueError`."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < 0
    ):
        raise ValueError(
            f"Received an invalid value for argument `{name}`, expected a "
            f"non-negative integer, got {value!r}"
        )
    return int(value)


def _check_next_fn(next_fn):
    if not callable(next_fn):
        raise ValueError(
            "Received an invalid value for argument `next_fn`, expected a "
            "callable `next_fn(tokens, state, index) -> (logits, state)`, "
            f"got {next_fn!r}"
        )


def argmax(x):
    """int32 index of the largest value over the last axis (the first of
    equal maxima), by `top_k`: Keras' `ops.argmax` tests each value's sign
    bit with a bitwise op that LiteRT's builtin ops lack, so a model using
    it would not convert (`--export_formats=litert`)."""
    return ops.cast(ops.top_k(x, k=1)[1][..., 0], "int32")


def _prepare(next_fn, start_tokens, initial_state, max_length, end_token,
             pad_token):
    """Validates the common arguments; returns tensors and Python ints."""
    _check_next_fn(next_fn)
    max_length = check_positive_int("max_length", max_length)
    end_token = _check_token("end_token", end_token)
    pad_token = _check_token("pad_token", pad_token)
    start_tokens = ops.convert_to_tensor(start_tokens, dtype="int32")
    if len(start_tokens.shape) != 1:
        raise ValueError(
            "Received an invalid value for argument `start_tokens`, expected "
            f"a rank-1 tensor [batch], got shape {tuple(start_tokens.shape)}"
        )
    initial_state = keras.tree.map_structure(
        ops.convert_to_tensor, initial_state
    )
    return start_tokens, initial_state, max_length, end_token, pad_token


def _write(buffer, index, values):
    """Writes `values` [...] at time `index` of `buffer` [..., max_length]."""
    # One-hot over the time axis: fixed shapes for the while loop.
    position = ops.arange(ops.shape(buffer)[-1], dtype="int32") == index
    return ops.where(position, ops.expand_dims(values, -1), buffer)


def greedy_search(next_fn, start_tokens, initial_state, max_length,
                  end_token, pad_token=0):
    """Decodes by taking the most probable token at every step.

    A sequence is finished once it emits `end_token`: its later positions
    hold `pad_token` (fed to `next_fn` as the previous token after the end
    token) and its score and length freeze. The loop stops when
    every sequence is finished, otherwise after `max_length` steps.

    Args:
        next_fn: `next_fn(tokens, state, index) -> (logits, state)`, with
            `tokens` int32 `[batch]` (the previous token of each sequence),
            `state` a nested structure of tensors with leading dimension
            batch, `index` the int32 step (0-based) and `logits` float
            `[batch, vocab]` (unnormalized; `log_softmax` is applied here).
        start_tokens: int `[batch]`, the first input tokens (not part of
            the output).
        initial_state: The first `state` (a nested dict/list/tuple of
            tensors, possibly empty).
        max_length: Python int > 0, the length of the output buffer.
        end_token: Python int, the token that finishes a sequence.
        pad_token: Python int written after the end token.

    Returns:
        `(sequences, scores, lengths)`: int32 `[batch, max_length]`, float32
        `[batch]` (sum of the log-probabilities of the emitted tokens, end
        token included) and int32 `[batch]` (emitted tokens, end token
        included).

    Example:

    >>> import numpy as np
    >>> from keras import ops
    >>> # Log-probabilities of the next token given the previous one.
    >>> table = np.log([[.1, .5, .3, .1], [.1, .3, .2, .4],
    ...                 [.1, .1, .1, .7], [.25, .25, .25, .25]])
    >>> def next_fn(tokens, state, index):
    ...     return ops.take(table.astype("float32"), tokens, axis=0), state
    >>> sequences, scores, lengths = greedy_search(
    ...     next_fn, [0], {}, max_length=4, end_token=3)
    >>> ops.convert_to_numpy(sequences).tolist()
    [[1, 3, 0, 0]]
    >>> ops.convert_to_numpy(lengths).tolist()
    [2]
    """
    start_tokens, initial_state, max_length, end_token, pad_token = _prepare(
        next_fn, start_tokens, initial_state, max_length, end_token,
        pad_token,
    )
    return decode_loop(
        next_fn, start_tokens, initial_state, max_length, end_token,
        pad_token,
        choose=lambda logits, index: argmax(logits),
    )


def decode_loop(next_fn, start_tokens, initial_state, max_length, end_token,
                pad_token, choose):
    """The loop of greedy search and sampling: one token per row and step.

    `choose(logits, index)` picks each row's token `[batch]` (int32) from
    the step's float32 logits `[batch, vocab]`; the arguments are checked
    already (see `_prepare`). Returns what `greedy_search` returns, the
    scores under the step function's own distribution.
    """
    batch = ops.shape(start_tokens)[0]
    sequences = ops.full([batch, max_length], pad_token, dtype="int32")
    scores = ops.zeros([batch], dtype="float32")
    lengths = ops.zeros([batch], dtype="int32")
    finished = ops.zeros([batch], dtype="bool")
    index = ops.convert_to_tensor(0, dtype="int32")

    def cond(index, tokens, state, sequences, scores, lengths, finished):
        return ops.logical_and(
            index < max_length, ops.logical_not(ops.all(finished))
        )

    def body(index, tokens, state, sequences, scores, lengths, finished):
        logits, state = next_fn(tokens, state, index)
        logits = ops.cast(logits, "float32")
        log_probs = ops.log_softmax(logits, axis=-1)
        token = choose(logits, index)
        token_log_prob = ops.take_along_axis(
            log_probs, ops.expand_dims(token, -1), axis=-1
        )[:, 0]
        token = ops.where(finished, pad_token, token)
        scores = scores + ops.where(finished, 0.0, token_log_prob)
        lengths = lengths + ops.where(finished, 0, 1)
        finished = ops.logical_or(finished, token == end_token)
        sequences = _write(sequences, index, token)
        return index + 1, token, state, sequences, scores, lengths, finished

    _, _, _, sequences, scores, lengths, _ = ops.while_loop(
        cond,
        body,
        (index, start_tokens, initial_state, sequences, scores, lengths,
         finished),
    )
    return sequences, scores, lengths


@keras.saving.register_keras_serializable(package="zoo")
class GreedySearch:
    """Greedy decoding over a step function; see `greedy_search`.

    Takes no arguments; it exists so `zoo.decoding.get("greedy")` and
    `zoo.decoding.get("beam")` return objects with one call signature.

    Call arguments:
        next_fn, start_tokens, initial_state, max_length, end_token,
        pad_token: As for `greedy_search`.

    Example:

    >>> from keras import ops
    >>> def next_fn(tokens, state, index):  # Always prefers token 2.
    ...     return ops.one_hot(ops.full_like(tokens, 2), 4), state
    >>> sequences, _, lengths = GreedySearch()(
    ...     next_fn, [0, 0], {}, max_length=3, end_token=2)
    >>> ops.convert_to_numpy(sequences).tolist()
    [[2, 0, 0], [2, 0, 0]]
    """

    def __init__(self):
        pass  # No arguments: `GreedySearch(beam_width=2)` is a TypeError.

    def __call__(self, next_fn, start_tokens, initial_state, max_length,
                 end_token, pad_token=0):
        return greedy_search(
            next_fn, start_tokens, initial_state, max_length, end_token,
            pad_token=pad_token,
        )

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return "GreedySearch()"
