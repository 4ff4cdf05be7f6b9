"""Tests of zoo.models.char_lm: the character language model, generation
and scoring."""

import numpy as np
import pytest
import tensorflow as tf

from zoo import metrics as zoo_metrics
from zoo import testing
from zoo.models import char_lm


RESERVED = ("[UNK]", char_lm.BEGIN, char_lm.END)


def untrained(poems=True, seed=1, texts=None):
    return testing.untrained_poet(poems, seed, texts)


def sequences(layer, texts, poems):
    """Each text's ids as the model reads them (markers included)."""
    return char_lm.marked_ids(layer, tf.constant(texts, tf.string),
                              poems).to_list()


def test_round_trips_through_config_and_keras_file():
    model = char_lm.CharLM(12, embedding_dim=4, units=3, num_layers=2,
                           residual=True, cell="gru", output_dropout=0.5)
    testing.run_model_serialization_test(
        model, np.array([[2, 5, 6, 0], [2, 7, 0, 0]], np.int32))


def test_steps_give_the_logits_of_the_whole_sequence():
    poet = untrained()
    ids = np.array([[2, 5, 6, 7], [2, 8, 9, 0]], np.int32)
    whole = np.asarray(poet.model(ids))
    states = poet.model.states(np.zeros((2, 1), np.int32))  # Zero states.
    state = {"states": states}
    for index in range(4):
        logits, state = poet.model.next(ids[:, index], state, index)
        real = ids[:, index] != 0
        np.testing.assert_allclose(np.asarray(logits)[real],
                                   whole[real, index], atol=1e-5)


def test_padding_changes_neither_logits_nor_loss():
    poet = untrained()
    inputs = np.array([[2, 5, 6, 7], [2, 8, 0, 0]], np.int32)
    targets = np.array([[5, 6, 7, 3], [8, 3, 0, 0]], np.int32)
    plain = np.asarray(poet.model(inputs))
    padded = np.asarray(poet.model(np.pad(inputs, [[0, 0], [0, 3]])))
    real = inputs != 0
    np.testing.assert_allclose(padded[:, :4][real], plain[real], atol=1e-6)
    loss = zoo_metrics.SequenceCrossentropy()
    # The loss is the mean over real targets, however much padding.
    by_row = [float(loss(targets[i:i + 1, :n], plain[i:i + 1, :n]))
              for i, n in ((0, 4), (1, 2))]
    expected = (by_row[0] * 4 + by_row[1] * 2) / 6
    assert float(loss(targets, plain)) == pytest.approx(expected, rel=1e-6)
    assert float(loss(np.pad(targets, [[0, 0], [0, 3]]), padded)) == (
        pytest.approx(expected, rel=1e-6))


def test_generate_is_reproducible_and_keeps_the_prompt():
    poet = untrained()
    prompts = tf.constant(["春眠", "", "☃x春", "春" * 30])
    a = poet.generate(prompts, 20, temperature=1.5, seed=7).numpy()
    b = poet.generate(prompts, 20, temperature=1.5, seed=7).numpy()
    c = poet.generate(prompts, 20, temperature=1.5, seed=8).numpy()
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()
    for prompt, text in zip(prompts.numpy(), a):
        text, prompt = text.decode("utf-8"), prompt.decode("utf-8")
        assert text.startswith(prompt)  # Unknown characters as written.
        continuation = text[len(prompt):]
        assert len(continuation) <= 20
        assert not any(token in continuation for token in RESERVED)
    # Greedy continuations of one prompt agree whatever the seed.
    np.testing.assert_array_equal(
        poet.generate(prompts, 20, temperature=0.0, seed=1),
        poet.generate(prompts, 20, temperature=0.0, seed=2))


def test_generate_lengths_are_clipped():
    # Running text never ends early (it has no end marker in training).
    poet = untrained(poems=False)
    prompt = tf.constant(["春", ""] * 4)
    for length in (0, -5):
        assert poet.generate(prompt, length).numpy().tolist() == [
            "春".encode(), b""] * 4
    found = poet.generate(prompt, 7, temperature=3.0, seed=1).numpy()
    assert [len(t.decode()) for t in found] == [8, 7] * 4
    longest = poet.generate(prompt[:1], 10 ** 6, temperature=2.0).numpy()[0]
    assert len(longest.decode()) == 1 + char_lm.MAX_GENERATE


def test_a_long_prompt_is_kept_whole_and_read_from_its_tail():
    poet = untrained()
    tail = "春山" * (char_lm.MAX_TEXT // 2)
    long = "花鳥" * 200 + tail
    found = poet.generate(tf.constant([long, tail]), 10, temperature=0.0)
    found = [t.decode() for t in found.numpy()]
    assert found[0].startswith(long) and found[1].startswith(tail)
    assert found[0][len(long):] == found[1][len(tail):]


def test_the_prompt_conditions_the_continuation():
    poet = untrained()
    found = poet.generate(tf.constant(["春", "冬"] * 4), 12, temperature=0.0)
    texts = [t.decode()[1:] for t in found.numpy()]
    assert texts[0::2] == [texts[0]] * 4 and texts[1::2] == [texts[1]] * 4
    assert texts[0] != texts[1]


def test_score_is_bits_per_character():
    poet = untrained()
    texts = ["春山", "", "☃"]
    bpc = poet.score(tf.constant(texts)).numpy()
    bits, count = poet.bits(tf.constant(texts))
    np.testing.assert_array_equal(count, [3, 1, 2])  # With the end marker.
    # By hand: -log2 p of each next id under the model's softmax.
    ids = sequences(poet.text_layer, texts, poems=True)
    for i, sequence in enumerate(ids):
        logits = np.asarray(poet.model(np.array([sequence[:-1]], np.int32)))[0]
        log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        expected = -sum(log_p[t, y] for t, y in enumerate(sequence[1:]))
        assert bits[i].numpy() == pytest.approx(expected / np.log(2), rel=1e-4)
        per_character = expected / np.log(2) / len(sequence[1:])
        assert bpc[i] == pytest.approx(per_character, rel=1e-4)
    # Running text has no end marker: an empty text scores nothing (NaN).
    windows = untrained(poems=False)
    found = windows.score(tf.constant(["", "春"])).numpy()
    assert np.isnan(found[0]) and np.isfinite(found[1])
    assert np.isnan(windows.score(tf.constant([""])).numpy()).all()


def test_a_batch_of_no_texts_gets_empty_answers():
    none = tf.constant([], tf.string)
    for poet in (untrained(), untrained(poems=False)):
        assert poet.score(none).shape == (0,)
        assert poet.generate(none, 5).shape == (0,)
    assert untrained().compose(none).shape == (0,)
