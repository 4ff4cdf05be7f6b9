"""Tests for zoo.decoding.beam, driven by fake one-hot step functions."""

import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from zoo.decoding import beam
from zoo.decoding.beam import BeamSearch
from zoo.decoding.beam import beam_search
from zoo.decoding.greedy import greedy_search
from zoo.testing import run_docstring_examples

END = 3


def table_fn(probs, calls=None):
    """A step function: log P(next token | previous token) from `probs`."""
    table = np.log(np.asarray(probs)).astype("float32")

    def next_fn(tokens, state, index):
        if calls is not None:
            calls.append(int(index))
        return ops.take(table, ops.minimum(tokens, 3), axis=0), state

    return next_fn


def numpy(results):
    return [ops.convert_to_numpy(x) for x in results]


# Greedy takes 1 (.5) then 3 (.4): .2; beam 2 finds 2 (.3) then 3 (.7): .21.
PROBS = [
    [0.1, 0.5, 0.3, 0.1],
    [0.1, 0.3, 0.2, 0.4],
    [0.1, 0.1, 0.1, 0.7],
    [0.25, 0.25, 0.25, 0.25],
]


def test_beam_finds_what_greedy_misses():
    sequences, scores, _ = numpy(
        greedy_search(table_fn(PROBS), [0], {}, 4, END)
    )
    np.testing.assert_array_equal(sequences, [[1, 3, 0, 0]])
    np.testing.assert_allclose(scores, np.log([0.5 * 0.4]), atol=1e-6)

    calls = []
    sequences, scores, lengths = numpy(
        beam_search(table_fn(PROBS, calls), [0], {}, 4, END, beam_width=2)
    )
    # Step 0: [1] .5, [2] .3. Step 1: [2, 3] .21, [1, 3] .2 (then [1, 1]
    # .15): both beams finished, so the loop stops after two steps.
    np.testing.assert_array_equal(sequences, [[[2, 3, 0, 0], [1, 3, 0, 0]]])
    np.testing.assert_allclose(
        scores, np.log([[0.3 * 0.7, 0.5 * 0.4]]), atol=1e-6
    )
    np.testing.assert_array_equal(lengths, [[2, 2]])
    assert calls == [0, 1]
    assert sequences.dtype == np.int32 and lengths.dtype == np.int32
    assert scores.dtype == np.float32


def test_finished_beams_are_not_duplicated_and_pad_after_end():
    probs = [
        [0.05, 0.3, 0.15, 0.5],
        [0.1, 0.3, 0.2, 0.4],
        [0.1, 0.1, 0.1, 0.7],
        [0.25, 0.25, 0.25, 0.25],
    ]
    calls = []
    sequences, scores, lengths = numpy(
        beam_search(table_fn(probs, calls), [0], {}, 4, END, beam_width=3,
                    pad_token=9)
    )
    # Step 0: [3] .5 (finished), [1] .3, [2] .15. Step 1: [3] keeps .5 once
    # (not three times), [1, 3] .12, [2, 3] .105 beat [1, 1] .09.
    np.testing.assert_array_equal(
        sequences, [[[3, 9, 9, 9], [1, 3, 9, 9], [2, 3, 9, 9]]]
    )
    np.testing.assert_allclose(
        scores, np.log([[0.5, 0.3 * 0.4, 0.15 * 0.7]]), atol=1e-6
    )
    np.testing.assert_array_equal(lengths, [[1, 2, 2]])
    assert calls == [0, 1]


LP_PROBS = [
    [0.05, 0.5, 0.05, 0.4],
    [0.1, 0.1, 0.1, 0.7],
    [0.25, 0.25, 0.25, 0.25],
    [0.25, 0.25, 0.25, 0.25],
]


def test_length_penalty_changes_the_ranking():
    # Hypotheses: [3] (.4, length 1) and [1, 3] (.35, length 2).
    decode = table_fn(LP_PROBS)
    sequences, scores, lengths = numpy(
        beam_search(decode, [0], {}, 3, END, beam_width=2)
    )
    np.testing.assert_array_equal(sequences, [[[3, 0, 0], [1, 3, 0]]])
    np.testing.assert_allclose(scores, np.log([[0.4, 0.35]]), atol=1e-6)
    np.testing.assert_array_equal(lengths, [[1, 2]])

    # lp(1) = 1, lp(2) = 7 / 6: log(.35) / (7 / 6) = -0.900 > log(.4) = -0.916.
    sequences, scores, lengths = numpy(
        beam_search(decode, [0], {}, 3, END, beam_width=2, length_penalty=1.0)
    )
    np.testing.assert_array_equal(sequences, [[[1, 3, 0], [3, 0, 0]]])
    np.testing.assert_allclose(
        scores, [[np.log(0.35) / (7 / 6), np.log(0.4)]], atol=1e-6
    )
    np.testing.assert_array_equal(lengths, [[2, 1]])


def test_at_max_length_the_finished_hypothesis_comes_first():
    # After one step: [1] .5 (unfinished, cut off) and [3] .4 (finished).
    sequences, scores, lengths = numpy(
        beam_search(table_fn(LP_PROBS), [0], {}, 1, END, beam_width=2,
                    length_penalty=0.6)
    )
    np.testing.assert_array_equal(sequences, [[[3], [1]]])
    np.testing.assert_allclose(scores, np.log([[0.4, 0.5]]), atol=1e-6)
    np.testing.assert_array_equal(lengths, [[1, 1]])


def test_beam_width_1_is_greedy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=[5, 4, 4]).astype("float32") * 2.0

    def next_fn(tokens, state, index):  # Depends on the step and the token.
        return ops.take(ops.take(logits, index, axis=0), tokens, axis=0), state

    start = [0, 1, 2, 3, 1]
    got = numpy(beam_search(next_fn, start, {}, 5, END, beam_width=1))
    want = numpy(greedy_search(next_fn, start, {}, 5, END))
    np.testing.assert_array_equal(got[0][:, 0], want[0])
    np.testing.assert_allclose(got[1][:, 0], want[1], atol=1e-6)
    np.testing.assert_array_equal(got[2][:, 0], want[2])
    assert (want[2] < 5).any() and (want[2] == 5).any()


# A step function whose logits depend on a nested state: `h` holds the two
# previous tokens (a wrong reordering gives a beam another beam's history)
# and `ctx` [batch, 3, 2] is a per-row bias (a wrong flattening mixes rows).
SECOND_ORDER = np.random.default_rng(1).normal(size=[4, 4, 4]).astype(
    "float32") * 2.0


def stateful_fn(tokens, state, index):
    h, ctx = state["h"], state["ctx"]
    before = ops.cast(h[:, 1], "int32")  # The token before `tokens`.
    rows = ops.take(SECOND_ORDER, before, axis=0)  # [batch, 4, 4]
    logits = ops.take_along_axis(
        rows, ops.reshape(tokens, [-1, 1, 1]) * ops.ones([1, 1, 4], "int32"),
        axis=1,
    )[:, 0]
    # [batch, 3, 2] -> [batch, 6]; the first 4 bias the vocab.
    logits = logits + ops.reshape(ctx, [-1, 6])[:, :4]
    h = ops.stack([h[:, 0] + 1.0, ops.cast(tokens, "float32")], axis=1)
    return logits, {"h": h, "ctx": ctx}


def make_state(start_tokens):
    start = ops.cast(ops.convert_to_tensor(start_tokens), "float32")
    batch = ops.shape(start)[0]
    h = ops.zeros([batch, 2])
    # [batch, 6] -> [batch, 3, 2]: a different bias for each start token.
    ctx = ops.sin(
        ops.expand_dims(start + 1.0, 1) * ops.arange(6, dtype="float32")
    )
    return {"h": h, "ctx": ops.reshape(ctx * 2.0, [-1, 3, 2])}


def reference_beam_search(next_fn, start, state, max_length, width, alpha):
    """Plain Python beam search carrying each hypothesis' own state."""
    results = []
    for row, first in enumerate(start):
        row_state = {k: v[row:row + 1] for k, v in state.items()}
        # (log-prob, tokens, state, finished)
        hyps = [(0.0, [], row_state, False)]
        for index in range(max_length):
            if all(h[3] for h in hyps):
                break
            candidates = []
            for log_prob, tokens, hyp_state, done in hyps:
                if done:
                    candidates.append(
                        (log_prob, tokens + [0], hyp_state, True)
                    )
                    continue
                previous = tokens[-1] if tokens else first
                logits, new_state = next_fn(
                    np.array([previous], "int32"), hyp_state, index
                )
                logits = ops.convert_to_numpy(logits)[0].astype("float64")
                log_probs = logits - np.log(np.exp(logits).sum())
                for token in range(len(log_probs)):
                    candidates.append((log_prob + log_probs[token],
                                       tokens + [token], new_state,
                                       token == END))
            hyps = sorted(candidates, key=lambda c: -c[0])[:width]
        scored = [
            (log_prob / ((5 + _length(tokens)) / 6) ** alpha, tokens)
            for log_prob, tokens, _, _ in hyps
        ]
        scored.sort(key=lambda c: -c[0])
        results.append(scored)
    return results


def _length(tokens):
    return tokens.index(END) + 1 if END in tokens else len(tokens)


@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_nested_state_is_reordered_with_the_beams(alpha):
    start = np.array([0, 1, 2], "int32")
    state = make_state(start)
    sequences, scores, lengths = numpy(
        beam_search(stateful_fn, start, state, 5, END, beam_width=3,
                    length_penalty=alpha)
    )
    expected = reference_beam_search(
        stateful_fn, start, {k: ops.convert_to_numpy(v) for k, v in
                             state.items()}, 5, 3, alpha)
    for row, hyps in enumerate(expected):
        for k, (score, tokens) in enumerate(hyps):
            padded = tokens + [0] * (5 - len(tokens))
            np.testing.assert_array_equal(sequences[row, k], padded)
            np.testing.assert_allclose(scores[row, k], score, atol=1e-5)
            assert lengths[row, k] == _length(tokens)


@pytest.mark.parametrize("batch", [0, 1, 3])
def test_tf_function_with_unknown_batch(batch):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
    def decode(start_tokens):
        return beam_search(stateful_fn, start_tokens, make_state(start_tokens),
                           5, END, beam_width=3, length_penalty=0.6)

    start = np.array([0, 1, 2][:batch], "int32")
    got = numpy(decode(start))
    assert got[0].shape == (batch, 3, 5)
    assert got[1].shape == (batch, 3) and got[2].shape == (batch, 3)
    want = numpy(beam_search(stateful_fn, start, make_state(start), 5, END,
                             beam_width=3, length_penalty=0.6))
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1], atol=1e-6)
    np.testing.assert_array_equal(got[2], want[2])


def test_beam_search_class():
    decoder = BeamSearch(beam_width=2, length_penalty=1)
    assert decoder.get_config() == {"beam_width": 2, "length_penalty": 1.0}
    assert repr(decoder) == "BeamSearch(beam_width=2, length_penalty=1.0)"
    assert BeamSearch.from_config(decoder.get_config()).get_config() == (
        decoder.get_config()
    )
    got = numpy(decoder(table_fn(LP_PROBS), [0], {}, 3, END))
    want = numpy(beam_search(table_fn(LP_PROBS), [0], {}, 3, END,
                             beam_width=2, length_penalty=1.0))
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    assert BeamSearch().get_config() == {"beam_width": 4,
                                         "length_penalty": 0.0}


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"beam_width": 0}, r"Received an invalid value for argument "
                            r"`beam_width`, expected a positive integer, "
                            r"got 0"),
        ({"beam_width": True}, r"`beam_width`, expected a positive integer, "
                               r"got True"),
        ({"length_penalty": -0.5}, r"argument `length_penalty`, expected a "
                                   r"non-negative number, got -0.5"),
        ({"length_penalty": "0.6"}, r"`length_penalty`, expected a "
                                    r"non-negative number, got '0.6'"),
        ({"length_penalty": float("nan")}, r"`length_penalty`, expected a "
                                           r"non-negative number, got nan"),
    ],
)
def test_constructor_rejections(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BeamSearch(**kwargs)
    with pytest.raises(ValueError, match=match):
        beam_search(table_fn(PROBS), [0], {}, 3, END, **kwargs)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"max_length": 0}, r"argument `max_length`, expected a positive "
                            r"integer, got 0"),
        ({"end_token": 1.0}, r"argument `end_token`, expected a "
                             r"non-negative integer, got 1.0"),
        ({"pad_token": -1}, r"argument `pad_token`, expected a "
                            r"non-negative integer, got -1"),
        ({"next_fn": None}, r"argument `next_fn`, expected a callable"),
        ({"start_tokens": 0}, r"argument `start_tokens`, expected a "
                              r"rank-1 tensor \[batch\], got shape \(\)"),
    ],
)
def test_call_rejections(kwargs, match):
    arguments = {"next_fn": table_fn(PROBS), "start_tokens": [0],
                 "initial_state": {}, "max_length": 3, "end_token": END}
    with pytest.raises(ValueError, match=match):
        beam_search(**{**arguments, **kwargs})
    with pytest.raises(ValueError, match=match):
        BeamSearch(beam_width=2)(**{**arguments, **kwargs})


def test_docstring_examples():
    run_docstring_examples(beam)


def test_a_finished_hypothesis_outranks_a_cut_off_one_despite_the_penalty():
    # Token 1 is likely and never ends; the end token (2) is less likely.
    # Cut off after 10 steps, "1 1 ... 1" scores -0.41 with the penalty
    # (((5 + 10) / 6) ** 1 = 2.5) while the finished "2" scores -0.51.
    table = np.log(np.array(
        [[1e-9, 0.4, 0.6], [1e-9, 0.99, 0.01], [1 / 3, 1 / 3, 1 / 3]]
    )).astype("float32")

    def next_fn(tokens, state, index):
        return ops.take(table, tokens, axis=0), state

    sequences, scores, lengths = beam_search(
        next_fn, [0], {}, max_length=10, end_token=2, beam_width=2,
        length_penalty=1.0,
    )
    assert ops.convert_to_numpy(sequences)[0].tolist() == [
        [2] + [0] * 9, [1] * 10
    ]
    assert ops.convert_to_numpy(lengths).tolist() == [[1, 10]]
    scores = ops.convert_to_numpy(scores)[0]
    np.testing.assert_allclose(scores[0], np.log(0.6) / 1.0, rtol=1e-5)
    assert scores[1] > scores[0]  # Higher, yet ranked second: unfinished.


def test_rows_with_no_finished_hypothesis_rank_by_score():
    table = np.log(np.array([[0.1, 0.6, 0.3]])).astype("float32")

    def next_fn(tokens, state, index):  # Never ends (end token 3 absent).
        return ops.repeat(table, ops.shape(tokens)[0], axis=0), state

    sequences, scores, _ = beam_search(
        next_fn, [0, 0], {}, max_length=2, end_token=5, beam_width=2,
    )
    assert ops.convert_to_numpy(sequences)[0].tolist() == [[1, 1], [1, 2]]
    scores = ops.convert_to_numpy(scores)
    assert (np.diff(scores, axis=1) <= 0).all()


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_16_bit_logits_are_scored_in_float32(dtype):
    # A mixed-precision model's logits: the same beams and scores as the
    # float32 logits of the same (rounded) values.
    low = ops.cast(np.log(np.asarray(PROBS)), dtype)

    def step(rows):
        def next_fn(tokens, state, index):
            return ops.take(rows, ops.minimum(tokens, 3), axis=0), state
        return next_fn

    want = numpy(beam_search(step(ops.cast(low, "float32")), [0, 1], {}, 4,
                             END, beam_width=2))
    got = numpy(beam_search(step(low), [0, 1], {}, 4, END, beam_width=2))
    assert got[1].dtype == np.float32
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
