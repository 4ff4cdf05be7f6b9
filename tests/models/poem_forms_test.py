"""Tests of zoo.models.poem_forms: regular poems and acrostics as a
constraint on the sampler."""

import numpy as np
import pytest
import tensorflow as tf

from zoo import testing
from zoo.models import poem_forms


def untrained(poems=True, seed=1, texts=None):
    return testing.untrained_poet(poems, seed, texts)


@pytest.mark.parametrize("characters, lines", [(5, 4), (7, 4), (5, 8), (7, 8)])
def test_compose_always_yields_the_form(characters, lines):
    poet = untrained()
    acrostics = ["", "春夏", "山水風月花鳥雲天人", "☃月"]  # Unknown: ☃.
    for seed in range(3):
        texts = poet.compose(tf.constant(acrostics), characters, lines,
                             temperature=3.0, seed=seed).numpy()
        for acrostic, text in zip(acrostics, texts):
            text = text.decode("utf-8")
            assert poem_forms.poem_form(text, characters, lines, acrostic), text


def test_compose_settings_and_tensors():
    poet = untrained()
    acrostic = tf.constant(["春", ""])
    eager = poet.compose(acrostic, 7, 4, temperature=0.9, top_k=3, seed=4)
    traced = tf.function(poet.compose)(
        acrostic, tf.constant(7), tf.constant(4), tf.constant(0.9),
        tf.constant(3), tf.constant(4, tf.int64))
    np.testing.assert_array_equal(traced, eager)
    greedy = poet.compose(acrostic, 5, 4, temperature=0.0, seed=1)
    np.testing.assert_array_equal(
        greedy, poet.compose(acrostic, 5, 4, temperature=0.0, seed=2))


@pytest.mark.parametrize("characters, lines, message", [
    (0, 4, r"`characters`, expected a positive integer, got 0"),
    (5, 2.5, r"`lines`, expected a positive integer, got 2.5"),
    (100, 8, r"a form of 8 lines of 100 characters: 808 characters with "
             r"punctuation, expected at most 512"),
])
def test_compose_rejects_bad_forms(characters, lines, message):
    with pytest.raises(ValueError, match=message):
        untrained().compose(tf.constant([""]), characters, lines)


def test_compose_takes_numpy_integers():
    text = untrained().compose(tf.constant([""]), np.int32(5), np.int64(4))
    assert poem_forms.poem_form(text.numpy()[0].decode(), 5, 4)


def test_compose_rejects_bad_tensor_forms():
    poet = untrained()
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="characters must be >= 1"):
        poet.compose(tf.constant([""]), tf.constant(0), tf.constant(4))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="lines must be >= 1"):
        poet.compose(tf.constant([""]), tf.constant(5), tf.constant(-1))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="a poem must have at most 512 characters"):
        poet.compose(tf.constant([""]), tf.constant(99), tf.constant(8))


@pytest.mark.parametrize("characters, lines", [(2**31 - 1, 4), (5, 2**31 - 1),
                                               (2**30, 2**30)])
def test_compose_rejects_tensor_forms_too_long_for_int32(characters, lines):
    # lines * (characters + 1) wraps around in int32 (once to a negative
    # length: an empty poem); it is checked in int64.
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="a poem must have at most 512 characters"):
        untrained().compose(tf.constant([""]), tf.constant(characters),
                            tf.constant(lines))


@pytest.fixture(scope="module")
def sampling_calls():
    """`{kind: (eager, traced)}` of an untrained poet's generate and
    compose, each traced once."""
    poet = untrained()
    return {kind: (getattr(poet, kind), tf.function(getattr(poet, kind)))
            for kind in ("generate", "compose")}


@pytest.mark.parametrize("kind", ["generate", "compose"])
@pytest.mark.parametrize("temperature, top_k, message", [
    (np.nan, 0, r"temperature must be a finite number >= 0 \(0 = greedy\) "
                r": Tensor had NaN values"),
    (np.inf, 0, r"temperature must be a finite number >= 0 \(0 = greedy\) "
                r": Tensor had Inf values"),
    (-np.inf, 0, r"temperature must be a finite number >= 0 .*Inf values"),
    (-0.5, 0, r"temperature must be >= 0 \(0 = greedy\)"),
    (1.0, -1, r"top_k must be >= 0 \(0 = all characters\)"),
])
def test_tensor_sampling_settings_are_checked(sampling_calls, kind,
                                              temperature, top_k, message):
    # A serving signature's settings are tensors, which zoo.decoding
    # uses as given: NaN once failed with "indices[0,0] = 78 is not in
    # [0, 78)", a negative temperature was greedy, a negative top_k none.
    settings = dict(temperature=tf.constant(temperature, tf.float32),
                    top_k=tf.constant(top_k), seed=tf.constant(1, tf.int64))
    for call in sampling_calls[kind]:  # Eager, then traced.
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            call(tf.constant(["春"]), **settings)


def test_compose_needs_a_model_of_poems():
    message = (r"This model cannot compose poems: it was not trained on "
               r"poems, or its vocabulary lacks '，' or '。'")
    with pytest.raises(ValueError, match=message):
        untrained(poems=False).compose(tf.constant([""]))
    with pytest.raises(ValueError, match=message):
        untrained(texts=["春山，水", "月"]).compose(tf.constant([""]))


def test_poem_form_checks_everything():
    good = "春山水月花，夏風雲天人。秋日鳥春山，冬水月花風。"
    assert poem_forms.poem_form(good, 5, 4) and poem_forms.poem_form(good, 5, 4, "春夏")
    assert not poem_forms.poem_form(good, 5, 4, "夏")
    assert not poem_forms.poem_form(good, 7, 4)
    assert not poem_forms.poem_form(good[:-1] + "，", 5, 4)
    assert not poem_forms.poem_form("春山水月，" + good[5:], 5, 4)
    assert not poem_forms.poem_form(good.replace("花", "!", 1), 5, 4)


def test_tensor_sampling_settings_at_their_limits_work():
    poet = untrained()
    for temperature, top_k in ((0.0, 0), (1e-38, 2**31 - 1), (1e30, 1)):
        settings = dict(temperature=tf.constant(temperature, tf.float32),
                        top_k=tf.constant(top_k), seed=tf.constant(1, tf.int64))
        text = poet.compose(tf.constant(["春"]), 5, 4, **settings)
        assert poem_forms.poem_form(text.numpy()[0].decode(), 5, 4, "春")
        assert poet.generate(tf.constant([""]), 5, **settings).shape == (1,)
