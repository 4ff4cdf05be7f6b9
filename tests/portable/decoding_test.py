"""zoo.portable.decoding: zoo.decoding's loops in NumPy, token for token."""

import json
import re

import numpy as np
import pytest
import tensorflow as tf

from zoo import decoding as graph
from zoo import testing
from zoo.portable import decoding

VOCAB, END = 7, 3


def tables(seed):
    """Random next-token log-probabilities and a state mixing weight."""
    rng = np.random.default_rng(seed)
    return np.log(rng.dirichlet(np.ones(VOCAB), VOCAB)).astype(np.float32)


def next_fns(table):
    """The same stateful step in TensorFlow and in NumPy: the logits
    depend on the previous token and on a decaying count of the tokens
    seen (so beam search must reorder the state)."""
    eye = np.eye(VOCAB, dtype=np.float32)

    def graph_fn(tokens, state, index):
        seen = 0.5 * state["seen"] + tf.gather(eye, tokens)
        return tf.gather(table, tokens) + 0.3 * seen, {"seen": seen}

    def numpy_fn(tokens, state):
        seen = np.float32(0.5) * state["seen"] + eye[tokens]
        return table[tokens] + np.float32(0.3) * seen, {"seen": seen}

    return graph_fn, numpy_fn


def start(rows):
    return (np.arange(rows) % VOCAB).astype(np.int32), {
        "seen": np.zeros([rows, VOCAB], np.float32)}


@pytest.mark.parametrize("seed", range(4))
def test_greedy_search_equals_the_graphs(seed):
    graph_fn, numpy_fn = next_fns(tables(seed))
    tokens, state = start(5)
    expected, _, _ = graph.greedy_search(graph_fn, tokens, state, 9, END)
    found = decoding.greedy_search(numpy_fn, tokens, state, 9, END)
    np.testing.assert_array_equal(found, expected.numpy())


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("beam_width", [1, 2, 3, 5])
@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
def test_beam_search_equals_the_graphs(seed, beam_width, length_penalty):
    graph_fn, numpy_fn = next_fns(tables(seed))
    tokens, state = start(4)
    expected, scores, _ = graph.beam_search(
        graph_fn, tokens, state, 6, END, beam_width=beam_width,
        length_penalty=length_penalty)
    found, found_scores = decoding.beam_search(
        numpy_fn, tokens, state, 6, END, beam_width, length_penalty)
    np.testing.assert_array_equal(found, expected.numpy())
    np.testing.assert_allclose(found_scores, scores.numpy(), rtol=1e-5)


def test_beam_search_ranks_finished_hypotheses_first():
    # Token 1 ends nothing and is likely; the end token is not: with a
    # short buffer the likely beam is cut off and ranks after the finished.
    table = np.log(np.array([[.01, .78, .01, .2]] * 4, np.float32))

    def numpy_fn(tokens, state):
        return table[tokens], state

    found, scores = decoding.beam_search(numpy_fn, [0], {}, 2, END, 2)
    assert found[0, 0].tolist() == [3, 0]  # Finished, though less likely.
    assert found[0, 1].tolist() == [1, 1]
    assert scores[0, 0] < scores[0, 1]


@pytest.mark.parametrize("top_k, top_p", [(0, 1.0), (2, 1.0), (0, 0.5),
                                          (3, 0.8), (9, 0.95), (1, 0.1)])
def test_filter_logits_equals_the_graphs(top_k, top_p):
    logits = np.random.default_rng(0).normal(size=[6, VOCAB]).astype(
        np.float32)
    logits[0, 2] = logits[0, 4]  # A tie.
    expected = graph.filter_logits(logits, top_k, top_p).numpy()
    np.testing.assert_array_equal(decoding.filter_logits(logits, top_k, top_p),
                                  expected)


def test_sample_at_temperature_zero_is_the_graphs_greedy_under_constraint():
    graph_fn, numpy_fn = next_fns(tables(0))
    tokens, state = start(3)
    allowed = np.arange(VOCAB) != 5
    expected, _, _ = graph.sample(graph_fn, tokens, state, 8, END,
                                  temperature=0.0,
                                  constraint=lambda index: allowed[None])
    found = decoding.sample(numpy_fn, tokens, state, 8, END, temperature=0.0,
                            constraint=lambda index: allowed[None])
    np.testing.assert_array_equal(found, expected.numpy())
    assert not (found == 5).any()


@pytest.mark.parametrize("seed", [0, 7, -3, 2**40 + 1])
def test_uniforms_and_draws_equal_the_graphs(seed):
    for index in (0, 1, 511):
        np.testing.assert_array_equal(
            decoding.uniforms(seed, index, 300),
            graph.sampling.uniforms(seed, index, 300).numpy())
    logits = np.random.default_rng(seed % 7).normal(
        size=[300, VOCAB]).astype(np.float32)
    logits[::3, 2] = -np.inf
    uniform = decoding.uniforms(seed, 3, 300)
    np.testing.assert_array_equal(
        decoding.draw(logits, uniform),
        graph.sampling.draw(logits, uniform).numpy())


@pytest.mark.parametrize("options", [
    dict(temperature=1.0, seed=4), dict(temperature=0.7, top_k=3, seed=9),
    dict(temperature=1.5, top_p=0.8, seed=2**33)])
def test_sample_equals_the_graphs_draw_for_draw(options):
    graph_fn, numpy_fn = next_fns(tables(3))
    tokens, state = start(40)
    allowed = np.arange(VOCAB) != 5
    expected, _, _ = graph.sample(graph_fn, tokens, state, 12, END,
                                  constraint=lambda index: allowed[None],
                                  **options)
    found = decoding.sample(numpy_fn, tokens, state, 12, END,
                            constraint=lambda index: allowed[None], **options)
    np.testing.assert_array_equal(found, expected.numpy())
    assert len({tuple(row) for row in found}) > 10  # Varied draws.


def test_sample_draws_by_seed_within_the_filters():
    _, numpy_fn = next_fns(tables(1))
    tokens, state = start(64)

    def draw(**options):
        return decoding.sample(numpy_fn, tokens, state, 10, END, **options)

    first = draw(temperature=1.0, seed=4)
    np.testing.assert_array_equal(first, draw(temperature=1.0, seed=4))
    assert not np.array_equal(first, draw(temperature=1.0, seed=5))
    # top_k=1 keeps only the most probable token: greedy.
    np.testing.assert_array_equal(
        draw(temperature=1.0, top_k=1, seed=4),
        decoding.greedy_search(numpy_fn, tokens, state, 10, END))
    # A row is padding after its end token, and no token is forbidden.
    for row in draw(temperature=2.0, seed=6,
                    constraint=lambda index: np.arange(VOCAB) > 1):
        ended = np.flatnonzero(row == END)
        if ended.size:
            assert (row[ended[0] + 1:] == 0).all()
            row = row[:ended[0]]
        assert (row > 1).all()


def write_description(folder, formats):
    (folder / "portable.json").write_text(json.dumps({
        "formats": formats,
        "models": {"next": {"files": {f: f"next.{f}" for f in formats}}}}))
    return str(folder)


@pytest.mark.parametrize("call, message", [
    (lambda folder: decoding.translate_ids(folder, [[4]], runtime="tflite"),
     "expected one of onnx, litert, got 'tflite'"),
    (lambda folder: decoding.generate_ids(folder, [[4]], runtime="litert"),
     "has no litert models (its formats: onnx)"),
])
def test_errors(tmp_path, call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call(write_description(tmp_path, ["onnx"]))


def test_it_runs_without_zoo_or_tensorflow():
    graph_fn, _ = next_fns(tables(2))
    tokens, state = start(3)
    expected, _, _ = graph.beam_search(graph_fn, tokens, state, 5, END,
                                       beam_width=2)
    found = testing.run_portable_program(
        """
eye = np.eye(len(inputs["table"]), dtype=np.float32)

def step(tokens, state):
    seen = np.float32(0.5) * state["seen"] + eye[tokens]
    return inputs["table"][tokens] + np.float32(0.3) * seen, {"seen": seen}

outputs["ids"], _ = decoding.beam_search(
    step, inputs["tokens"], {"seen": inputs["seen"]}, 5, 3, 2)
""", {"table": tables(2), "tokens": tokens, "seen": state["seen"]})
    np.testing.assert_array_equal(found["ids"], expected.numpy())
