"""Random sampling: temperature, top-k and top-p (nucleus), reproducible.

A loop over a step function `next_fn(tokens, state, index) -> (logits,
state)` (see `zoo.decoding`), like `greedy_search`. Every step draws the
next token of each row from the model's distribution, reshaped by

* `temperature`: logits are divided by it (below 1 sharper, above 1
  flatter); 0 means the most probable token (greedy search);
* `top_k`: only the `k` most probable tokens are kept (0 = all);
* `top_p`: only the smallest set of most probable tokens whose
  probabilities sum to at least `p` is kept (Holtzman et al., 2019, "The
  Curious Case of Neural Text Degeneration",
  https://arxiv.org/abs/1904.09751); 1 keeps all.

The draws are stateless and portable: draw `(seed, index, row)` takes
the uniform number `uniforms(seed, index, rows)[row]`, made by an integer
hash (no random-number generator), and the token is the first whose
cumulative weight `exp(logit - max)` exceeds that share of the row's
total (`draw`). So the same seed, inputs and model give the same tokens,
eagerly, in a `tf.function`, in a SavedModel, and in a client without
TensorFlow (`zoo.portable.decoding.sample` does the same in NumPy). Rows
of a batch get different draws: a row's tokens depend on its position in
the batch. `temperature`, `top_k`, `top_p` and `seed` may be tensors (a
serving signature's inputs).
"""

import numbers

import keras
from keras import ops

from zoo.decoding.greedy import _prepare
from zoo.decoding.greedy import argmax
from zoo.decoding.greedy import decode_loop


def _check_number(name, value, low, high, expected):
    """Python numbers are validated here; tensors are used as given."""
    if ops.is_tensor(value):
        return value
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not low <= value <= high
    ):
        raise ValueError(
            f"Received an invalid value for argument `{name}`, expected "
            f"{expected}, got {value!r}"
        )
    return value


def _is_int(value):
    return not isinstance(value, bool) and isinstance(value, numbers.Integral)


def _check_settings(temperature, top_k, top_p, seed):
    """Validates the sampling settings given as Python numbers.

    Tensors (a serving signature's inputs) pass unchecked.
    """
    temperature = _check_number(
        "temperature", temperature, 0.0, float("inf"), "a number >= 0"
    )
    top_p = _check_number("top_p", top_p, 1e-9, 1.0, "a number in (0, 1]")
    if not ops.is_tensor(top_k) and not (_is_int(top_k) and top_k >= 0):
        raise ValueError(
            "Received an invalid value for argument `top_k`, expected a "
            f"non-negative integer (0 = all tokens), got {top_k!r}"
        )
    if not ops.is_tensor(seed) and not _is_int(seed):
        raise ValueError(
            "Received an invalid value for argument `seed`, expected an "
            f"integer, got {seed!r}"
        )
    return temperature, top_k, top_p, seed


def filter_logits(logits, top_k=0, top_p=1.0):
    """Sets logits outside the top-k and the top-p nucleus to -inf.

    Args:
        logits: float `[batch, vocab]`.
        top_k: int (or int tensor) >= 0; 0 keeps all tokens.
        top_p: float (or tensor) in (0, 1]; 1 keeps all tokens.

    Returns:
        `logits` with the filtered-out entries at -inf. The most probable
        token always survives; tokens tied with the last kept one survive
        too.

    Example:

    >>> from keras import ops
    >>> logits = ops.log([[0.5, 0.3, 0.15, 0.05]])
    >>> ops.convert_to_numpy(ops.isfinite(filter_logits(logits, top_k=2)))
    array([[ True,  True, False, False]])
    >>> ops.convert_to_numpy(ops.isfinite(filter_logits(logits, top_p=0.7)))
    array([[ True,  True, False, False]])
    """
    logits = ops.cast(logits, "float32")
    vocab = ops.shape(logits)[-1]
    ranked = -ops.sort(-logits, axis=-1)  # Descending, [batch, vocab].
    # Top-k: the k-th largest logit is the smallest kept (k = 0: all).
    k = ops.cast(top_k, "int32")
    k = ops.where(k > 0, ops.minimum(k, vocab), vocab)
    kth = ops.take(ranked, k - 1, axis=-1)  # [batch].
    # Top-p: keep a ranked token if the probability mass before it is
    # below p; the first token has mass 0 before it, so it is always kept.
    probabilities = ops.softmax(ranked, axis=-1)
    before = ops.cumsum(probabilities, axis=-1) - probabilities
    nucleus = before < ops.cast(top_p, "float32")
    smallest = ops.min(ops.where(nucleus, ranked, ranked[:, :1]), axis=-1)
    threshold = ops.maximum(kth, smallest)[:, None]
    return ops.where(logits >= threshold, logits, float("-inf"))


def sample(next_fn, start_tokens, initial_state, max_length, end_token,
           temperature=1.0, top_k=0, top_p=1.0, seed=0, pad_token=0,
           constraint=None):
    """Decodes by drawing each token from the (reshaped) distribution.

    A sequence finishes when it emits `end_token`, as in `greedy_search`:
    its later positions hold `pad_token`; the loop stops when every
    sequence is finished, otherwise after `max_length` steps.

    Args:
        next_fn: `next_fn(tokens, state, index) -> (logits, state)` as for
            `zoo.decoding.greedy_search`. Logits of -inf are never drawn, so
            a step function can forbid tokens (constrained decoding).
        start_tokens: int `[batch]`, the first input tokens.
        initial_state: The first `state`.
        max_length: Python int > 0, the length of the output buffer.
        end_token: Python int, the token that finishes a sequence.
        temperature: Number (or tensor) >= 0; 0 = greedy.
        top_k: Integer (or tensor) >= 0; 0 = no top-k filter.
        top_p: Number (or tensor) in (0, 1]; 1 = no nucleus filter.
        seed: Integer (or int tensor): the same seed draws the same tokens.
        pad_token: Python int written after the end token.
        constraint: Optional `constraint(index) -> allowed`, bool
            `[batch, vocab]` (or broadcastable to it): the tokens each row
            may emit at step `index` (a form, a template); the others get
            logits of -inf. Every row must allow at least one token.

    Returns:
        `(sequences, scores, lengths)` as for `greedy_search`; `scores` sum
        the log-probabilities of the drawn tokens under the step
        function's own distribution (after the constraint, before
        temperature and filters).

    Example:

    >>> import numpy as np
    >>> from keras import ops
    >>> table = np.log([[.1, .5, .3, .1], [.1, .3, .2, .4],
    ...                 [.1, .1, .1, .7], [.25, .25, .25, .25]])
    >>> def next_fn(tokens, state, index):
    ...     return ops.take(table.astype("float32"), tokens, axis=0), state
    >>> a, _, _ = sample(next_fn, [0, 0], {}, max_length=6, end_token=3,
    ...                  seed=7)
    >>> b, _, _ = sample(next_fn, [0, 0], {}, max_length=6, end_token=3,
    ...                  seed=7)
    >>> bool(ops.all(a == b))
    True
    >>> greedy, _, _ = sample(next_fn, [0], {}, 4, 3, temperature=0)
    >>> ops.convert_to_numpy(greedy).tolist()
    [[1, 3, 0, 0]]
    """
    start_tokens, initial_state, max_length, end_token, pad_token = _prepare(
        next_fn, start_tokens, initial_state, max_length, end_token,
        pad_token,
    )
    temperature, top_k, top_p, seed = _check_settings(
        temperature, top_k, top_p, seed
    )
    if constraint is not None:
        next_fn = _constrained(next_fn, constraint)
    temperature = ops.cast(temperature, "float32")
    greedy = temperature <= 0.0
    # Any positive divisor when greedy: the draw is then not used.
    divisor = ops.where(greedy, 1.0, temperature)
    seed = ops.cast(seed, "int64")

    def choose(logits, index):
        reshaped = filter_logits(logits / divisor, top_k, top_p)
        rows = ops.shape(logits)[0]
        drawn = draw(reshaped, uniforms(seed, index, rows))
        return ops.where(greedy, argmax(logits), drawn)

    return decode_loop(next_fn, start_tokens, initial_state, max_length,
                       end_token, pad_token, choose)


# `_hash32`'s multiplier (< 2**31: a product with a 32-bit value fits an
# int64, so every step is exact in TensorFlow and in NumPy alike).
_MIX = 0x45D9F3B
_LOW32 = 0xFFFFFFFF


def _hash32(x):
    """An integer hash of int64 values in [0, 2**32), into [0, 2**32)."""
    for _ in range(2):
        x = ops.bitwise_and(
            ops.bitwise_xor(ops.right_shift(x, 16), x) * _MIX, _LOW32)
    return ops.bitwise_xor(ops.right_shift(x, 16), x)


def uniforms(seed, index, rows):
    """float32 `[rows]` in [0, 1): the uniform numbers of draw `index` of
    a call with `seed` (an int64), one per row, as hashes of
    `(seed, index, row)` (24 bits each)."""
    seed = ops.cast(seed, "int64")
    key = _hash32(ops.bitwise_xor(
        ops.bitwise_and(seed, _LOW32),
        _hash32(ops.bitwise_and(ops.right_shift(seed, 32), _LOW32))))
    key = _hash32(ops.bitwise_xor(key, ops.cast(index, "int64")))
    bits = _hash32(ops.bitwise_xor(key, ops.arange(rows, dtype="int64")))
    return ops.cast(ops.right_shift(bits, 8), "float32") / float(2**24)


def draw(logits, uniform):
    """The token `[batch]` (int32) whose cumulative weight first exceeds
    `uniform` `[batch]` (in [0, 1)) of the row's total weight; weights are
    `exp(logits - max)`, so a logit of -inf is never drawn."""
    logits = ops.cast(logits, "float32")
    weights = ops.exp(logits - ops.max(logits, axis=-1, keepdims=True))
    cumulative = ops.cumsum(weights, axis=-1)
    target = uniform * cumulative[:, -1]
    token = ops.sum(ops.cast(cumulative <= target[:, None], "int32"), axis=-1)
    # Rounding can put the target at the total: the last drawable token.
    last = ops.shape(logits)[-1] - 1 - argmax(
        ops.cast(ops.flip(weights > 0, axis=-1), "float32"))
    return ops.minimum(token, last)


def _constrained(next_fn, constraint):
    """`next_fn` whose logits outside `constraint(index)` are -inf."""
    def constrained(tokens, state, index):
        logits, state = next_fn(tokens, state, index)
        allowed = constraint(index)
        return ops.where(allowed, logits, float("-inf")), state

    return constrained


@keras.saving.register_keras_serializable(package="zoo")
class Sampler:
    """Sampling decoder with fixed settings; see `sample`.

    Args:
        temperature: Number >= 0 (0 = greedy). Default: 1.
        top_k: Integer >= 0 (0 = all tokens). Default: 0.
        top_p: Number in (0, 1] (1 = all tokens). Default: 1.
        seed: Integer seed of the draws. Default: 0.

    Call arguments:
        next_fn, start_tokens, initial_state, max_length, end_token,
        pad_token: As for `sample`.

    Example:

    >>> Sampler(temperature=0.8, top_k=40)
    Sampler(temperature=0.8, top_k=40, top_p=1.0, seed=0)
    """

    def __init__(self, temperature=1.0, top_k=0, top_p=1.0, seed=0):
        temperature, top_k, top_p, seed = _check_settings(
            temperature, top_k, top_p, seed
        )
        self.temperature = float(temperature)
        self.top_k = int(top_k)
        self.top_p = float(top_p)
        self.seed = int(seed)

    def __call__(self, next_fn, start_tokens, initial_state, max_length,
                 end_token, pad_token=0):
        return sample(
            next_fn, start_tokens, initial_state, max_length, end_token,
            temperature=self.temperature, top_k=self.top_k, top_p=self.top_p,
            seed=self.seed, pad_token=pad_token,
        )

    def get_config(self):
        return {"temperature": self.temperature, "top_k": self.top_k,
                "top_p": self.top_p, "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return (f"Sampler(temperature={self.temperature}, top_k={self.top_k}, "
                f"top_p={self.top_p}, seed={self.seed})")
