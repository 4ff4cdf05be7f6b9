"""Tests of zoo.models.seq2seq: the encoder-decoder and its translator."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo import decoding
from zoo import layers
from zoo import testing
from zoo.models import seq2seq

SOURCE = np.array([[4, 5, 6, 0], [7, 8, 9, 10]], np.int32)
TARGET_IN = np.array([[2, 5, 6, 7], [2, 8, 0, 0]], np.int32)


def tiny(attention="bahdanau", **overrides):
    keras.utils.set_random_seed(0)
    values = dict(embedding_dim=4, units=3, attention=attention,
                  attention_units=3, seed=1)
    values.update(overrides)
    model = seq2seq.EncoderDecoder(20, 12, **values)
    testing.randomize_weights(model, seed=1, scale=1.0)
    return model


def _states(count, batch=2, units=2):
    # State k is filled with k, so each one can be told apart.
    return [tf.fill([batch, units], float(k)) for k in range(count)]


@pytest.mark.parametrize("cell, per_direction", [("lstm", 2), ("gru", 1)])
def test_bridge_joins_directions_per_layer(cell, per_direction):
    encoder = layers.StackedRNN(cell, units=2, num_layers=2,
                                bidirectional=True)
    states = _states(encoder.num_states)
    assert len(states) == 2 * 2 * per_direction
    joined = seq2seq.bridge(states, encoder)
    # Layer l's forward state k with its backward state k.
    expected = [
        np.concatenate([states[first + k], states[first + per_direction + k]],
                       axis=-1)
        for first in (0, 2 * per_direction) for k in range(per_direction)
    ]
    assert len(joined) == 2 * per_direction
    for got, want in zip(joined, expected):
        assert tuple(got.shape) == (2, 4)
        np.testing.assert_array_equal(got, want)
    if cell == "lstm":  # [h0f, c0f, h0b, c0b, h1f, c1f, h1b, c1b].
        np.testing.assert_array_equal(joined[1][0], [1, 1, 3, 3])
        np.testing.assert_array_equal(joined[2][0], [4, 4, 6, 6])


def test_bridge_is_identity_for_one_direction():
    encoder = layers.StackedRNN("lstm", units=2, num_layers=2)
    states = _states(encoder.num_states)
    joined = seq2seq.bridge(states, encoder)
    assert len(joined) == 4
    for got, want in zip(joined, states):
        assert got is want


def test_two_bidirectional_layers_start_the_decoder():
    model = tiny(num_layers=2, bidirectional=True)
    logits = model([np.array([[4, 5, 0]]), np.array([[2, 6, 7, 0]])])
    assert tuple(logits.shape) == (1, 4, 12)
    assert model.decoder.num_states == 4  # h and c, 2 layers.
    assert model.decoder.units == 2 * 3


@pytest.mark.parametrize("attention", seq2seq.ATTENTION)
def test_round_trips_through_config_and_keras_file(attention):
    testing.run_model_serialization_test(tiny(attention),
                                         [SOURCE, TARGET_IN])


# Every attention with a bridge, and without one where there is attention
# (without either, nothing reaches the decoder: rejected).
STARTS = [(a, True) for a in seq2seq.ATTENTION] + [
    (a, False) for a in seq2seq.ATTENTION if a != "none"]


@pytest.mark.parametrize("attention, bridge_states", STARTS)
def test_steps_give_the_teacher_forced_logits(attention, bridge_states):
    model = tiny(attention, bridge_states=bridge_states, num_layers=2)
    forced = np.asarray(model([SOURCE, TARGET_IN], training=False))
    state = model.encode(SOURCE)
    for index in range(TARGET_IN.shape[1]):
        logits, state = model.next(TARGET_IN[:, index], state, index)
        real = TARGET_IN[:, index] != 0
        np.testing.assert_allclose(np.asarray(logits)[real],
                                   forced[real, index], atol=1e-5)
    if attention != "none":
        weights = np.asarray(model.attention_weights(SOURCE, TARGET_IN))
        assert weights.shape == (2, 4, 4)
        np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
        assert not weights[0, :, 3].any()  # Source padding gets none.
    else:
        assert model.attention_weights(SOURCE, TARGET_IN) is None


@pytest.mark.parametrize("attention", seq2seq.ATTENTION)
def test_padding_changes_nothing(attention):
    model = tiny(attention)
    real = TARGET_IN != 0
    plain = np.asarray(model([SOURCE, TARGET_IN]))
    padded = np.pad(SOURCE, [[0, 0], [0, 3]])
    np.testing.assert_allclose(
        np.asarray(model([padded, TARGET_IN]))[real], plain[real], atol=1e-6)
    longer = np.asarray(model([SOURCE, np.pad(TARGET_IN, [[0, 0], [0, 2]])]))
    np.testing.assert_allclose(longer[:, :4][real], plain[real], atol=1e-6)


def test_rejects_a_decoder_cut_off_and_unknown_scores():
    with pytest.raises(ValueError, match="nothing of the source reaches"):
        seq2seq.EncoderDecoder(5, 5, attention="none", bridge_states=False)
    with pytest.raises(ValueError, match="argument `attention`, expected one "
                       "of 'none', "):
        seq2seq.EncoderDecoder(5, 5, attention="cosine")


class _Words:
    """A stand-in source layer: ids of the given rows, whatever the text."""

    def __init__(self, ids):
        self.ids = tf.constant(ids)

    def __call__(self, text):
        return self.ids


def test_translator_greedy_equals_beam_of_one_and_skips_reserved():
    model = tiny("luong_general")
    vocabulary = ["", "[UNK]", seq2seq.START, seq2seq.END] + [
        f"w{i}" for i in range(8)]
    # Make padding, unknown and start far likelier than any word.
    model.logits.bias.assign(tf.tensor_scatter_nd_update(
        model.logits.bias, [[0], [1], [2]], [50.0] * 3))
    translator = seq2seq.Translator(model, _Words(SOURCE), vocabulary, 5)
    ids = translator.decode(tf.constant(SOURCE))
    assert ids.shape == (2, 6)
    assert not np.isin(ids, [1, 2]).any()
    beam, _, _ = decoding.beam_search(
        translator.next, tf.fill([2], seq2seq.START_ID),
        model.encode(SOURCE), 6, seq2seq.END_ID, beam_width=1)
    np.testing.assert_array_equal(beam[:, 0], ids)
    texts = translator.translate(tf.constant(["a", "b"])).numpy()
    for text in texts:
        assert text and all(w.startswith(b"w") for w in text.split())
    assert translator.translate_all(["a", "b"]) == [
        t.decode() for t in texts]
    # Traced once per beam width, not again at each call (each epoch's
    # validation decodes with it).
    assert translator.translate_all(["b", "a"]) == [
        t.decode() for t in texts[::-1]]
    assert translator._traced[1].experimental_get_tracing_count() == 1
    with pytest.raises(ValueError, match="argument `max_length`"):
        seq2seq.Translator(model, _Words(SOURCE), vocabulary, 0)
