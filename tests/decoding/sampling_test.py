"""Tests for zoo.decoding.sampling: filters, seeds, greedy limit, errors."""

import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from zoo import decoding
from zoo import testing
from zoo.decoding import sampling

# Log-probabilities of the next token given the previous one (4 tokens;
# token 3 ends a sequence).
TABLE = np.log(np.array(
    [[.1, .5, .3, .1], [.1, .3, .2, .4], [.1, .1, .1, .7], [.25] * 4],
    np.float32,
))


def table_step(tokens, state, index):
    return ops.take(TABLE, tokens, axis=0), state


def uniform_step(vocab):
    def step(tokens, state, index):
        return ops.zeros([ops.shape(tokens)[0], vocab]), state
    return step


def kept(logits, **kwargs):
    return ops.convert_to_numpy(
        ops.isfinite(decoding.filter_logits(np.array(logits, np.float32),
                                            **kwargs))
    ).tolist()


def test_docstring_examples():
    testing.run_docstring_examples(sampling)


@pytest.mark.parametrize("top_k, expected", [
    (0, [True, True, True, True]),
    (1, [True, False, False, False]),
    (3, [True, True, True, False]),
    (9, [True, True, True, True]),  # More than the vocabulary: all.
])
def test_top_k_keeps_the_k_largest(top_k, expected):
    # Unsorted logits: the filter ranks them itself.
    logits = [[2.0, 0.5, 1.0, -1.0]]
    order = [0, 2, 1, 3]  # Positions by rank.
    assert [kept(logits, top_k=top_k)[0][i] for i in order] == expected


@pytest.mark.parametrize("top_p, expected", [
    (1.0, [True] * 4),
    (0.5, [True, False, False, False]),   # 0.5 before the second: stop.
    (0.51, [True, True, False, False]),
    (0.8, [True, True, False, False]),
    (0.81, [True, True, True, False]),
    (1e-6, [True, False, False, False]),  # The best token always stays.
])
def test_top_p_keeps_the_smallest_nucleus(top_p, expected):
    probabilities = [0.5, 0.3, 0.15, 0.05]
    assert kept(np.log([probabilities]), top_p=top_p) == [expected]


def test_filters_combine_row_by_row_and_keep_ties():
    logits = np.log([[0.5, 0.3, 0.15, 0.05], [0.25, 0.25, 0.25, 0.25]])
    assert kept(logits, top_k=3, top_p=0.7) == [
        [True, True, False, False], [True] * 4  # Ties with the 3rd stay.
    ]


def test_filters_accept_tensors_in_a_tf_function():
    run = tf.function(lambda x, k, p: decoding.filter_logits(x, k, p))
    logits = np.log([[0.5, 0.3, 0.15, 0.05]]).astype(np.float32)
    out = run(logits, tf.constant(2), tf.constant(1.0))
    assert np.isfinite(out.numpy()).tolist() == [[True, True, False, False]]


def draw(step=table_step, batch=2, max_length=8, **kwargs):
    sequences, scores, lengths = decoding.sample(
        step, [0] * batch, {}, max_length, end_token=3, **kwargs
    )
    return (ops.convert_to_numpy(sequences), ops.convert_to_numpy(scores),
            ops.convert_to_numpy(lengths))


def test_same_seed_same_tokens_other_seed_other_tokens():
    a = draw(uniform_step(50), batch=4, max_length=10, seed=3)[0]
    b = draw(uniform_step(50), batch=4, max_length=10, seed=3)[0]
    c = draw(uniform_step(50), batch=4, max_length=10, seed=4)[0]
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()
    # Rows of one call differ too (no two rows share their draws).
    assert len({tuple(row) for row in a}) == 4


def test_same_seed_in_a_tf_function_with_tensor_settings():
    @tf.function
    def run(temperature, top_k, top_p, seed):
        return decoding.sample(uniform_step(50), tf.zeros([3], tf.int32), {},
                               10, 3, temperature, top_k, top_p, seed)[0]

    eager = draw(uniform_step(50), batch=3, max_length=10, temperature=0.7,
                 top_k=20, top_p=0.9, seed=11)[0]
    traced = run(tf.constant(0.7), tf.constant(20), tf.constant(0.9),
                 tf.constant(11, tf.int64))
    np.testing.assert_array_equal(traced.numpy(), eager)


def test_temperature_zero_and_top_k_one_are_greedy():
    greedy = [ops.convert_to_numpy(x) for x in decoding.greedy_search(
        table_step, [0, 1, 2], {}, 6, end_token=3)]
    for kwargs in ({"temperature": 0.0}, {"top_k": 1}, {"top_p": 1e-6}):
        found = decoding.sample(table_step, [0, 1, 2], {}, 6, 3, seed=5,
                                **kwargs)
        for got, expected in zip(found, greedy):
            np.testing.assert_allclose(ops.convert_to_numpy(got), expected,
                                       rtol=1e-6)


def test_draws_follow_the_distribution():
    # One step from token 0: p = [.1, .5, .3, .1]; 4000 rows.
    sequences, scores, _ = draw(batch=4000, max_length=1, seed=0)
    counts = np.bincount(sequences[:, 0], minlength=4) / 4000
    np.testing.assert_allclose(counts, [.1, .5, .3, .1], atol=0.03)
    # Scores are the model's log-probabilities of the drawn tokens.
    np.testing.assert_allclose(scores, TABLE[0][sequences[:, 0]], rtol=1e-6)


@pytest.mark.parametrize("temperature", [0.3, 1.0, 5.0])
def test_temperature_reshapes_the_distribution(temperature):
    sequences = draw(batch=4000, max_length=1, seed=1,
                     temperature=temperature)[0]
    shares = np.bincount(sequences[:, 0], minlength=4) / 4000
    # p ** (1 / T), normalized: below 1 sharper, above 1 flatter.
    expected = np.exp(TABLE[0] / temperature)
    np.testing.assert_allclose(shares, expected / expected.sum(), atol=0.03)


def test_forbidden_tokens_are_never_drawn():
    def step(tokens, state, index):
        logits = ops.zeros([ops.shape(tokens)[0], 6])
        return ops.where(ops.arange(6) % 2 == 0, float("-inf"), logits), state
    sequences = draw(step, batch=200, max_length=5, seed=2, temperature=3.0)[0]
    assert set(np.unique(sequences)) <= {1, 3, 5, 0}
    # 0 only as padding after the end token 3.
    for row in sequences:
        ends = list(row).index(3) if 3 in row else len(row)
        assert (row[:ends] % 2 == 1).all() and (row[ends + 1:] == 0).all()


def test_a_constraint_sets_each_step_and_row_apart():
    # Row r may emit only token (r + index) % 3 at step index: a template.
    def constraint(index):
        rows = ops.arange(3)[:, None]
        return ops.arange(4)[None, :] == (rows + index) % 3

    for temperature in (0.0, 5.0):
        sequences, scores, _ = decoding.sample(
            uniform_step(4), [0, 0, 0], {}, 4, end_token=3, seed=1,
            temperature=temperature, constraint=constraint)
        expected = [[(r + i) % 3 for i in range(4)] for r in range(3)]
        np.testing.assert_array_equal(sequences, expected)
        # One token allowed: the constrained distribution is certain.
        np.testing.assert_allclose(scores, 0.0, atol=1e-6)


def test_finished_rows_are_padded_and_lengths_count_the_end():
    sequences, _, lengths = draw(batch=50, max_length=12, seed=9)
    for row, length in zip(sequences, lengths):
        if 3 in row:
            end = list(row).index(3)
            assert length == end + 1 and (row[end + 1:] == 0).all()
        else:
            assert length == 12


@pytest.mark.parametrize("kwargs, message", [
    ({"temperature": -0.5},
     r"`temperature`, expected a number >= 0, got -0.5"),
    ({"temperature": "hot"}, r"`temperature`, expected a number >= 0"),
    ({"top_k": -1}, r"`top_k`, expected a non-negative integer \(0 = all "
                    r"tokens\), got -1"),
    ({"top_k": 2.5}, r"`top_k`, expected a non-negative integer"),
    ({"top_p": 0.0}, r"`top_p`, expected a number in \(0, 1\], got 0.0"),
    ({"top_p": 1.5}, r"`top_p`, expected a number in \(0, 1\]"),
    ({"seed": 1.5}, r"`seed`, expected an integer, got 1.5"),
    ({"seed": True}, r"`seed`, expected an integer, got True"),
])
def test_bad_settings_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        draw(**kwargs)
    with pytest.raises(ValueError, match=message):
        decoding.Sampler(**kwargs)


def test_sampler_round_trips_and_calls_sample():
    sampler = decoding.get("sample", temperature=0.5, top_k=3, top_p=0.9,
                           seed=4)
    assert repr(sampler) == ("Sampler(temperature=0.5, top_k=3, top_p=0.9, "
                             "seed=4)")
    again = decoding.get({"class_name": "Sampler",
                          "config": sampler.get_config()})
    assert again.get_config() == sampler.get_config()
    found = again(table_step, [0, 0], {}, 8, 3)
    expected = decoding.sample(table_step, [0, 0], {}, 8, 3, temperature=0.5,
                               top_k=3, top_p=0.9, seed=4)
    for got, want in zip(found, expected):
        np.testing.assert_array_equal(ops.convert_to_numpy(got),
                                      ops.convert_to_numpy(want))


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_16_bit_logits_are_drawn_from_in_float32(dtype):
    # A mixed-precision model's logits: the same draws and scores as the
    # float32 logits of the same (rounded) values, for the same seed.
    low = ops.cast(TABLE, dtype)

    def step(rows):
        def next_fn(tokens, state, index):
            return ops.take(rows, tokens, axis=0), state
        return next_fn

    want = decoding.sample(step(ops.cast(low, "float32")), [0, 1, 2, 0], {},
                           6, 3, top_p=0.9, seed=5)
    got = decoding.sample(step(low), [0, 1, 2, 0], {}, 6, 3, top_p=0.9,
                          seed=5)
    assert got[1].dtype == "float32"
    for a, b in zip(got, want):
        np.testing.assert_array_equal(ops.convert_to_numpy(a),
                                      ops.convert_to_numpy(b))


def test_uniforms_are_uniform_and_differ_by_seed_step_and_row():
    found = ops.convert_to_numpy(sampling.uniforms(7, 0, 100000))
    assert found.dtype == np.float32 and (found >= 0).all() and (
        found < 1).all()
    counts = np.histogram(found, bins=10, range=(0, 1))[0] / len(found)
    np.testing.assert_allclose(counts, 0.1, atol=0.005)
    assert len(np.unique(found)) > 99000  # 24 bits each: few repeats.
    others = [sampling.uniforms(*args) for args in
              ((8, 0, 5), (7, 1, 5), (-7, 0, 5), (2**40 + 7, 0, 5))]
    for other in others:
        assert not np.array_equal(ops.convert_to_numpy(other), found[:5])
    np.testing.assert_array_equal(
        ops.convert_to_numpy(sampling.uniforms(7, 0, 5)), found[:5])


@pytest.mark.parametrize("uniform, token", [
    (0.0, 0), (0.05, 0), (0.11, 1), (0.59, 1), (0.61, 2), (0.95, 3),
    (1 - 2**-24, 3)])
def test_draw_takes_the_first_token_past_the_share(uniform, token):
    logits = np.log(np.array([[.1, .5, .3, .1]], np.float32))
    found = sampling.draw(logits, np.array([uniform], np.float32))
    assert ops.convert_to_numpy(found).tolist() == [token]


def test_draw_never_takes_a_forbidden_token():
    logits = np.array([[-np.inf, 2.0, -np.inf, 1.0, -np.inf]] * 3,
                      np.float32)
    found = sampling.draw(logits, np.array([0.0, 0.5, 1 - 2**-24],
                                           np.float32))
    assert ops.convert_to_numpy(found).tolist() == [1, 1, 3]
