"""Tests for zoo.decoding.greedy, driven by fake one-hot step functions."""

import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from zoo.decoding import greedy
from zoo.decoding.greedy import GreedySearch
from zoo.decoding.greedy import greedy_search
from zoo.testing import run_docstring_examples

END = 3
# P(next token | previous token); vocab 4, token 3 ends a sequence.
PROBS = np.array(
    [
        [0.1, 0.5, 0.3, 0.1],
        [0.1, 0.3, 0.2, 0.4],
        [0.1, 0.1, 0.1, 0.7],
        [0.25, 0.25, 0.25, 0.25],
    ]
)
TABLE = np.log(PROBS).astype("float32")


def table_fn(table=TABLE, calls=None):
    def next_fn(tokens, state, index):
        if calls is not None:
            calls.append(int(index))
        return ops.take(table, tokens, axis=0), state

    return next_fn


def numpy(results):
    return [ops.convert_to_numpy(x) for x in results]


def test_hand_worked_greedy():
    calls = []
    sequences, scores, lengths = numpy(
        greedy_search(table_fn(calls=calls), [0, 1, 2], {}, 4, END)
    )
    # From 0: 1 (.5), 3 (.4). From 1: 3 (.4). From 2: 3 (.7).
    np.testing.assert_array_equal(
        sequences, [[1, 3, 0, 0], [3, 0, 0, 0], [3, 0, 0, 0]]
    )
    np.testing.assert_allclose(
        scores, np.log([0.5 * 0.4, 0.4, 0.7]), atol=1e-6
    )
    np.testing.assert_array_equal(lengths, [2, 1, 1])
    assert sequences.dtype == np.int32 and lengths.dtype == np.int32
    assert scores.dtype == np.float32
    # Every row finished after two steps: the loop stopped there.
    assert calls == [0, 1]


def test_max_length_cuts_unfinished_sequences():
    # Without an end token every sequence runs to max_length.
    probs = np.array([[0.1, 0.6, 0.2, 0.1]] * 4)
    calls = []
    sequences, scores, lengths = numpy(
        greedy_search(
            table_fn(np.log(probs).astype("float32"), calls), [0], {}, 3, END
        )
    )
    np.testing.assert_array_equal(sequences, [[1, 1, 1]])
    np.testing.assert_allclose(scores, [3 * np.log(0.6)], atol=1e-6)
    np.testing.assert_array_equal(lengths, [3])
    assert calls == [0, 1, 2]


def test_pad_token_after_end_and_as_next_input():
    # 0 -> 1 -> 2 -> 3 and 2 -> 3.
    table = TABLE.copy()
    table[1] = np.log([0.1, 0.3, 0.4, 0.2])
    seen = []

    def next_fn(tokens, state, index):
        seen.append(ops.convert_to_numpy(tokens).tolist())
        clipped = ops.minimum(tokens, 3)  # The pad token 9 is no word.
        return ops.take(table, clipped, axis=0), state

    sequences, _, lengths = numpy(
        greedy_search(next_fn, [2, 0], {}, 4, END, pad_token=9)
    )
    np.testing.assert_array_equal(sequences, [[3, 9, 9, 9], [1, 2, 3, 9]])
    np.testing.assert_array_equal(lengths, [1, 3])
    # The end token is the next input once, then the pad token.
    assert seen == [[2, 0], [3, 1], [9, 2]]


def test_index_is_passed():
    # Step i always prefers token i + 1 (3 ends).
    def next_fn(tokens, state, index):
        token = ops.full_like(tokens, index + 1)
        return ops.one_hot(token, 4) * 5.0, state

    sequences, _, lengths = numpy(greedy_search(next_fn, [0], (), 5, END))
    np.testing.assert_array_equal(sequences, [[1, 2, 3, 0, 0]])
    np.testing.assert_array_equal(lengths, [3])


def test_nested_state_is_carried():
    # h counts the steps; the logits prefer token h (3 ends).
    def next_fn(tokens, state, index):
        h = state["h"] + 1.0
        logits = ops.one_hot(ops.cast(h[:, 0], "int32"), 4) * 5.0
        return logits, {"h": h, "ctx": [state["ctx"][0]]}

    state = {"h": np.zeros([2, 2], "float32"),
             "ctx": [np.zeros([2, 3, 2], "float32")]}
    sequences, _, _ = numpy(greedy_search(next_fn, [0, 0], state, 4, END))
    np.testing.assert_array_equal(sequences, [[1, 2, 3, 0]] * 2)


@pytest.mark.parametrize("batch", [0, 1, 3])
def test_tf_function_with_unknown_batch(batch):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
    def decode(start_tokens):
        state = {"h": ops.zeros([ops.shape(start_tokens)[0], 2])}
        return greedy_search(table_fn(), start_tokens, state, 4, END)

    start = np.array([0, 1, 2][:batch], "int32")
    sequences, scores, lengths = numpy(decode(start))
    assert sequences.shape == (batch, 4)
    assert scores.shape == (batch,) and lengths.shape == (batch,)
    expected = numpy(greedy_search(table_fn(), start, {}, 4, END))
    for got, want in zip((sequences, scores, lengths), expected):
        np.testing.assert_allclose(got, want, atol=1e-6)


def test_greedy_search_class():
    decoder = GreedySearch()
    assert decoder.get_config() == {}
    assert repr(decoder) == "GreedySearch()"
    for got, want in zip(
        numpy(decoder(table_fn(), [0], {}, 4, END, pad_token=2)),
        numpy(greedy_search(table_fn(), [0], {}, 4, END, pad_token=2)),
    ):
        np.testing.assert_array_equal(got, want)
    assert GreedySearch.from_config(decoder.get_config()).get_config() == {}


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"max_length": 0}, r"argument `max_length`, expected a positive "
                            r"integer, got 0"),
        ({"max_length": 2.0}, r"`max_length`, expected a positive integer, "
                              r"got 2.0"),
        ({"end_token": -1}, r"argument `end_token`, expected a non-negative "
                            r"integer, got -1"),
        ({"pad_token": True}, r"argument `pad_token`, expected a "
                              r"non-negative integer, got True"),
        ({"next_fn": "model"}, r"argument `next_fn`, expected a callable"),
        ({"start_tokens": [[0]]}, r"argument `start_tokens`, expected a "
                                  r"rank-1 tensor \[batch\], got shape "
                                  r"\(1, 1\)"),
    ],
)
def test_rejections(kwargs, match):
    arguments = {"next_fn": table_fn(), "start_tokens": [0],
                 "initial_state": {}, "max_length": 3, "end_token": END}
    with pytest.raises(ValueError, match=match):
        greedy_search(**{**arguments, **kwargs})
    with pytest.raises(ValueError, match=match):
        GreedySearch()(**{**arguments, **kwargs})


def test_docstring_examples():
    run_docstring_examples(greedy)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_16_bit_logits_are_scored_in_float32(dtype):
    # A mixed-precision model's logits: the same tokens and scores as the
    # float32 logits of the same (rounded) values.
    low = ops.cast(TABLE, dtype)
    want = numpy(greedy_search(table_fn(ops.cast(low, "float32")),
                               [0, 1, 2], {}, 4, END))
    got = numpy(greedy_search(table_fn(low), [0, 1, 2], {}, 4, END))
    assert got[1].dtype == np.float32
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_argmax_is_the_first_of_equal_maxima_without_bitwise_ops():
    x = np.array([[1.0, 3.0, 3.0, -np.inf], [-np.inf, -np.inf, -1.0, 0.0]],
                 np.float32)
    np.testing.assert_array_equal(greedy.argmax(x), [1, 3])
    ops = {op.type for op in tf.function(greedy.argmax).get_concrete_function(
        tf.TensorSpec([None, 4])).graph.get_operations()}
    assert "TopKV2" in ops and not any("Bitwise" in op for op in ops)
