"""Tests for zoo.layers.crf: the CRF layer's inference and its loss.

Every quantity is checked against brute force over all tag sequences of
the real steps (3 tags, at most 4 steps: 81 sequences), in float64.
"""

import itertools
import os
import re
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.layers import crf as crf_module
from zoo.layers.crf import CRF
from zoo.layers.crf import CRFLoss
from zoo.testing import random_array
from zoo.testing import randomize_weights
from zoo.testing import run_docstring_examples
from zoo.testing import run_layer_test
from zoo.testing import run_serialization_test
from zoo.training import precision

TAGS, TIME = 3, 4

# Rows: all real, left-padded, right-padded, a hole, fully padded.
MASK = np.array(
    [
        [True, True, True, True],
        [False, False, True, True],
        [True, True, True, False],
        [True, False, False, True],
        [False, False, False, False],
    ]
)
BATCH = len(MASK)
MASKS = {"no_mask": None, "padded": MASK}


def _crf(seed=0):
    layer = CRF(TAGS)
    layer.build((None, None, TAGS))
    randomize_weights(layer, seed, scale=1.0)
    return layer


def _potentials(seed=1, mask=MASK):
    x = random_array((BATCH, TIME, TAGS), seed)
    if mask is not None:
        # Padded steps hold large values: they must never count.
        x = np.where(mask[:, :, None], x, 40.0).astype("float32")
    return x


def _weights(layer):
    transitions, start, end = (
        np.asarray(w, dtype="float64") for w in layer.get_weights()
    )
    return transitions, start, end


def _reference_score(x, tags, real, weights):
    """Score of `tags` at the `real` steps of one row, float64."""
    transitions, start, end = weights
    steps = np.flatnonzero(real)
    if steps.size == 0:
        return 0.0
    path = [int(tags[t]) for t in steps]
    score = start[path[0]] + end[path[-1]]
    score += sum(float(x[t, y]) for t, y in zip(steps, path))
    score += sum(transitions[a, b] for a, b in zip(path, path[1:]))
    return score


def _all_paths(x, real, weights):
    """`{tags of the real steps: score}` for every tag sequence of a row."""
    steps = np.flatnonzero(real)
    paths = {}
    for path in itertools.product(range(TAGS), repeat=steps.size):
        tags = np.zeros(len(real), dtype=int)
        tags[steps] = path
        paths[path] = _reference_score(x, tags, real, weights)
    return steps, paths


def _log_sum_exp(values):
    values = np.asarray(list(values), dtype="float64")
    top = values.max()
    return top + np.log(np.exp(values - top).sum())


def _brute_log_partition(x, real, weights):
    steps, paths = _all_paths(x, real, weights)
    return _log_sum_exp(paths.values()) if steps.size else 0.0


def _rows(mask):
    return MASK if mask is not None else np.ones((BATCH, TIME), dtype=bool)


@pytest.mark.parametrize("mask", MASKS.values(), ids=MASKS.keys())
def test_log_partition_matches_brute_force(mask):
    layer, x = _crf(), _potentials(1, mask)
    log_z = np.asarray(layer.log_partition(x, mask))
    assert log_z.shape == (BATCH,) and log_z.dtype == np.float32
    weights = _weights(layer)
    expected = [_brute_log_partition(x[b], real, weights)
                for b, real in enumerate(_rows(mask))]
    np.testing.assert_allclose(log_z, expected, atol=1e-5, rtol=1e-6)
    if mask is not None:
        assert log_z[-1] == 0.0  # Fully padded.


@pytest.mark.parametrize("mask", MASKS.values(), ids=MASKS.keys())
def test_decode_matches_brute_force(mask):
    layer, x = _crf(2), _potentials(3, mask)
    tags, best_score = layer.decode(x, mask)
    tags, best_score = np.asarray(tags), np.asarray(best_score)
    assert tags.shape == (BATCH, TIME) and tags.dtype == np.int32
    assert best_score.shape == (BATCH,) and best_score.dtype == np.float32
    weights = _weights(layer)
    for b, real in enumerate(_rows(mask)):
        steps, paths = _all_paths(x[b], real, weights)
        expected = np.zeros(TIME, dtype=int)
        if steps.size:
            best = max(paths, key=paths.get)
            expected[steps] = best
            np.testing.assert_allclose(best_score[b], paths[best], atol=1e-5)
        else:
            assert best_score[b] == 0.0
        np.testing.assert_array_equal(tags[b], expected)
        np.testing.assert_array_equal(tags[b][~real], 0)


def test_hard_constraints_and_nan_padding():
    # Tag 0 may never follow tag 1, nor tag 2 follow itself: -1e4 forbids.
    layer, x = _crf(8), _potentials(9)
    transitions = layer.transitions.numpy()
    transitions[1, 0] = transitions[2, 2] = -1e4
    layer.transitions.assign(transitions)
    # Whatever padded steps hold, even NaN, never counts.
    x = np.where(MASK[:, :, None], x, np.nan).astype("float32")
    weights = _weights(layer)
    log_z = np.asarray(layer.log_partition(x, MASK))
    marginals = np.asarray(layer.marginals(x, MASK))
    tags = np.asarray(layer.decode(x, MASK)[0])
    for b, real in enumerate(MASK):
        steps, paths = _all_paths(x[b], real, weights)
        if not steps.size:
            continue
        np.testing.assert_allclose(
            log_z[b], _log_sum_exp(paths.values()), atol=1e-5, rtol=1e-6
        )
        np.testing.assert_array_equal(tags[b][steps], max(paths, key=paths.get))
        for i, t in enumerate(steps):
            expected = [
                sum(np.exp(v - log_z[b]) for p, v in paths.items() if p[i] == j)
                for j in range(TAGS)
            ]
            np.testing.assert_allclose(marginals[b, t], expected, atol=1e-5)
    assert np.all(np.isfinite(marginals)) and np.all(np.isfinite(log_z))
    with tf.GradientTape() as tape:
        potentials = tf.constant(x)
        tape.watch(potentials)
        loss = tf.reduce_sum(layer.log_partition(potentials, MASK))
    grad = tape.gradient(loss, [potentials, layer.transitions])
    assert all(np.all(np.isfinite(g)) for g in grad)


def test_sequence_score_matches_reference():
    layer, x = _crf(4), _potentials(5)
    rng = np.random.default_rng(6)
    tags = rng.integers(0, TAGS, size=(BATCH, TIME))
    tags = np.where(MASK, tags, -1)  # Padded tags are ignored, even -1.
    score = np.asarray(layer.sequence_score(x, tags, MASK))
    weights = _weights(layer)
    expected = [_reference_score(x[b], tags[b], MASK[b], weights)
                for b in range(BATCH)]
    np.testing.assert_allclose(score, expected, atol=1e-5)
    assert score[-1] == 0.0
    # Without a mask every step counts.
    tags = np.abs(tags)
    everything = np.ones(TIME, dtype=bool)
    np.testing.assert_allclose(
        np.asarray(layer.sequence_score(x, tags)),
        [_reference_score(x[b], tags[b], everything, weights)
         for b in range(BATCH)],
        atol=1e-5,
    )


@pytest.mark.parametrize("row", range(BATCH))
def test_likelihoods_of_all_sequences_sum_to_one(row):
    layer, x = _crf(7), _potentials(8)
    real = MASK[row]
    # Every tag sequence of the real steps, one per batch row; padded
    # steps hold -1.
    paths = np.array(list(itertools.product(range(TAGS), repeat=real.sum())))
    tags = np.full((len(paths), TIME), -1)
    tags[:, real] = paths.reshape(len(paths), -1)
    batch = len(tags)
    log_p = layer.log_likelihood(
        np.repeat(x[row : row + 1], batch, axis=0), tags,
        np.repeat(MASK[row : row + 1], batch, axis=0),
    )
    np.testing.assert_allclose(np.exp(np.asarray(log_p, "float64")).sum(),
                               1.0, atol=1e-5)


@pytest.mark.parametrize("mask", MASKS.values(), ids=MASKS.keys())
def test_marginals_match_brute_force(mask):
    layer, x = _crf(9), _potentials(10, mask)
    marginals = np.asarray(layer.marginals(x, mask))
    assert marginals.shape == (BATCH, TIME, TAGS)
    weights = _weights(layer)
    for b, real in enumerate(_rows(mask)):
        steps, paths = _all_paths(x[b], real, weights)
        expected = np.zeros((TIME, TAGS))
        if steps.size:
            log_z = _log_sum_exp(paths.values())
            for path, score in paths.items():
                expected[steps, path] += np.exp(score - log_z)
        np.testing.assert_allclose(marginals[b], expected, atol=1e-5)
        np.testing.assert_allclose(marginals[b][real].sum(-1), 1.0, atol=1e-5)
        np.testing.assert_array_equal(marginals[b][~real], 0.0)


def _brute_nll(x, tags, mask, weights):
    """Summed negative log-likelihood of a batch, float64."""
    return sum(
        _brute_log_partition(x[b], mask[b], weights)
        - _reference_score(x[b], tags[b], mask[b], weights)
        for b in range(len(x))
    )


def test_gradients_match_finite_differences():
    layer, x = _crf(11), _potentials(12)
    rng = np.random.default_rng(13)
    tags = np.where(MASK, rng.integers(0, TAGS, MASK.shape), -1)
    x_var = tf.Variable(x)
    with tf.GradientTape() as tape:
        # The per-step values of a row sum to its NLL.
        nll = tf.reduce_sum(CRFLoss(layer).call(tags, x_var))
    grads = tape.gradient(nll, [x_var, *layer.trainable_weights])
    grads = [np.asarray(g, "float64") for g in grads]
    for g in grads:
        assert np.all(np.isfinite(g))
    np.testing.assert_allclose(
        float(nll), _brute_nll(x, tags, MASK, _weights(layer)), atol=1e-4
    )

    # Central differences of the float64 reference: its truncation error
    # (eps**2 ~ 1e-10) is far below float32 rounding in the analytic
    # gradients (~1e-6 on values of order 10), hence atol 1e-4.
    eps = 1e-5
    params = [x.astype("float64"), *_weights(layer)]
    names = ["potentials", "transitions", "start_transitions",
             "end_transitions"]
    for i, (name, grad) in enumerate(zip(names, grads)):
        numeric = np.zeros_like(params[i])
        for index in np.ndindex(params[i].shape):
            for sign in (1, -1):
                shifted = [p.copy() for p in params]
                shifted[i][index] += sign * eps
                value = _brute_nll(shifted[0], tags, MASK, tuple(shifted[1:]))
                numeric[index] += sign * value / (2 * eps)
        np.testing.assert_allclose(grad, numeric, atol=1e-4, err_msg=name)
    # Padded potentials get no gradient.
    np.testing.assert_array_equal(grads[0][~MASK], 0.0)


def test_log_partition_gradient_is_the_marginals():
    layer, x = _crf(14), _potentials(15)
    x_var = tf.Variable(x)
    with tf.GradientTape() as tape:
        log_z = tf.reduce_sum(layer.log_partition(x_var, MASK))
    np.testing.assert_allclose(np.asarray(tape.gradient(log_z, x_var)),
                               np.asarray(layer.marginals(x, MASK)), atol=1e-5)


def test_crf_loss_per_token_layout_ignores_padding():
    layer, x = _crf(16), _potentials(17)
    rng = np.random.default_rng(18)
    tags = np.where(MASK, rng.integers(0, TAGS, MASK.shape), -1)
    loss = CRFLoss(layer)
    per_step = np.asarray(loss.call(tags, x))
    assert per_step.shape == (BATCH, TIME)
    weights = _weights(layer)
    for b, real in enumerate(MASK):
        expected = np.zeros(TIME)
        if real.any():
            expected[real] = _brute_nll(
                x[b : b + 1], tags[b : b + 1], MASK[b : b + 1], weights
            ) / real.sum()
        np.testing.assert_allclose(per_step[b], expected, atol=1e-5)
    # The padded tags' values do not matter.
    other = np.where(MASK, tags, -7)
    np.testing.assert_array_equal(np.asarray(loss.call(other, x)), per_step)

    # Reduced: y_pred without a Keras mask averages over batch * time;
    # with one (Masking -> CRF passes it on) over the real steps only.
    total = per_step.sum()
    assert np.isfinite(total)
    np.testing.assert_allclose(float(loss(tags, x)), total / MASK.size,
                               rtol=1e-5)
    masked_x = np.where(MASK[:, :, None], x, 0.0).astype("float32")
    y_pred = layer(keras.layers.Masking(0.0)(masked_x))
    np.testing.assert_allclose(float(loss(tags, y_pred)), total / MASK.sum(),
                               rtol=1e-5)
    # Nothing real at all: 0, not NaN.
    empty = np.full((2, TIME), -1)
    assert float(loss(empty, x[:2])) == 0.0
    np.testing.assert_array_equal(np.asarray(loss.call(empty, x[:2])), 0.0)


def test_fit_learns_a_rule_that_needs_transitions():
    # Tags alternate 0, 1, 0, 1, ... while every input step is the same:
    # only the start and transition weights can tell the tags apart.
    keras.utils.set_random_seed(19)
    lengths = np.array([4, 2, 3, 1, 4, 3])
    time = 4
    mask = np.arange(time)[None, :] < lengths[:, None]
    tags = np.where(mask, np.arange(time) % 2, -1)
    features = np.ones((len(lengths), time, 1), dtype="float32")
    inputs = keras.Input((None, 1))
    crf = CRF(TAGS)
    model = keras.Model(inputs, crf(keras.layers.Dense(TAGS)(inputs)))
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss=CRFLoss(crf))
    before = [np.array(w) for w in crf.get_weights()]
    history = model.fit(features, tags, batch_size=len(lengths), epochs=40,
                        verbose=0)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < 0.1 * losses[0]
    for name, old, new in zip(("transitions", "start", "end"), before,
                              crf.get_weights()):
        assert np.abs(new - old).max() > 0.1, name
    decoded, _ = crf.decode(model(features), mask)
    np.testing.assert_array_equal(np.asarray(decoded), np.where(mask, tags, 0))


def _traced(layer):
    spec = [tf.TensorSpec([None, None, TAGS], tf.float32),
            tf.TensorSpec([None, None], tf.bool)]

    @tf.function(input_signature=spec)
    def infer(potentials, mask):
        tags, best_score = layer.decode(potentials, mask)
        return {
            "log_z": layer.log_partition(potentials, mask),
            "tags": tags,
            "best_score": best_score,
            "marginals": layer.marginals(potentials, mask),
        }

    return infer


def _eager(layer, x, mask):
    tags, best_score = layer.decode(x, mask)
    return {
        "log_z": layer.log_partition(x, mask),
        "tags": tags,
        "best_score": best_score,
        "marginals": layer.marginals(x, mask),
    }


def _check_traced(infer, layer):
    x = _potentials(20)
    for batch, time in ((BATCH, TIME), (2, 2), (3, 0), (0, 3)):
        xs, mask = x[:batch, :time], MASK[:batch, :time]
        got = infer(tf.constant(xs), tf.constant(mask))
        expected = _eager(layer, xs, mask)
        for key in expected:
            assert tuple(got[key].shape) == tuple(expected[key].shape), key
            np.testing.assert_allclose(np.asarray(got[key]),
                                       np.asarray(expected[key]), atol=1e-6,
                                       err_msg=key)
        if time == 0:
            assert got["tags"].shape == (batch, 0)
            np.testing.assert_array_equal(np.asarray(got["log_z"]), 0.0)


def test_traces_with_dynamic_batch_and_time():
    layer = _crf(21)
    _check_traced(_traced(layer), layer)


def test_saved_model_with_dynamic_batch_and_time():
    layer = _crf(22)
    module = tf.Module()
    module.crf = layer
    module.infer = _traced(layer)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "crf")
        tf.saved_model.save(module, path)
        loaded = tf.saved_model.load(path)  # Owns the restored variables.
    _check_traced(loaded.infer, layer)


def test_call_returns_the_potentials_and_passes_the_mask_on():
    x = _potentials(23)
    output = run_layer_test(_crf(), x, (BATCH, TIME, TAGS), mask=MASK)
    np.testing.assert_array_equal(np.asarray(output), x)
    run_layer_test(CRF(TAGS), x, (BATCH, TIME, TAGS))
    assert CRF(TAGS).compute_mask(x, MASK) is MASK
    # In a model: the mask of an Embedding reaches the CRF's output.
    ids = keras.Input((None,), dtype="int32")
    potentials = keras.layers.Embedding(5, TAGS, mask_zero=True)(ids)
    output = CRF(TAGS)(potentials)
    model = keras.Model(ids, output)
    assert output._keras_mask is not None
    assert len(model.layers[-1].trainable_weights) == 3


def test_weights():
    layer = CRF(4, transitions_initializer="ones")
    layer.build((None, None, 4))
    shapes = {w.path.split("/")[-1]: (tuple(w.shape), w.dtype, w.trainable)
              for w in layer.weights}
    assert shapes == {
        "transitions": ((4, 4), "float32", True),
        "start_transitions": ((4,), "float32", True),
        "end_transitions": ((4,), "float32", True),
    }
    np.testing.assert_array_equal(np.asarray(layer.transitions), 1.0)
    np.testing.assert_array_equal(np.asarray(layer.start_transitions), 0.0)
    # Zero weights: every one of the 4 ** 3 sequences scores 0.
    np.testing.assert_allclose(
        np.asarray(CRF(4).log_partition(np.zeros((1, 3, 4), "float32"))),
        [3 * np.log(4.0)], rtol=1e-6,
    )


def test_build_rejects_potentials_of_another_width():
    with pytest.raises(ValueError, match=re.escape(
        "`CRF(num_tags=3)` expects potentials of shape [batch, time, 3], "
        "got shape (None, None, 4)"
    )):
        CRF(3).build((None, None, 4))


def test_serialization():
    keras.utils.set_random_seed(24)
    x = _potentials(25)
    run_serialization_test(_crf(26), x)
    run_serialization_test(_crf(26), x, mask=MASK)
    layer = CRF(TAGS, transitions_initializer="random_normal", name="crf")
    layer.build((None, None, TAGS))
    config = layer.get_config()
    assert config["num_tags"] == TAGS and config["name"] == "crf"
    clone = CRF.from_config(config)
    assert clone.get_config() == config
    clone.build((None, None, TAGS))
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(clone.log_partition(x, MASK)),
                               np.asarray(layer.log_partition(x, MASK)))
    assert CRF(2).get_config()["transitions_initializer"]["class_name"] == (
        "Zeros"
    )


def test_compiled_model_reloads_without_compiling():
    inputs = keras.Input((None, TAGS))
    crf = CRF(TAGS)
    model = keras.Model(inputs, crf(inputs))
    model.compile(loss=CRFLoss(crf))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        with pytest.raises(ValueError, match=re.escape(
            "`CRFLoss` cannot be rebuilt from its config: it needs the "
            "model's `CRF` layer."
        )):
            keras.saving.load_model(path)
        reloaded = keras.saving.load_model(path, compile=False)
    assert isinstance(reloaded.layers[-1], CRF)


@pytest.mark.parametrize("value", [0, -1, "3", 2.0, None],
                         ids=["zero", "negative", "string", "float", "none"])
def test_invalid_num_tags_rejected(value):
    with pytest.raises(ValueError, match=re.escape(
        "Received an invalid value for argument `num_tags`, expected a "
        f"positive integer, got {value!r}"
    )):
        CRF(value)


@pytest.mark.parametrize("value", [None, "crf", keras.layers.Dense(3)],
                         ids=["none", "string", "dense"])
def test_crf_loss_rejects_anything_but_a_crf(value):
    with pytest.raises(ValueError, match=re.escape(
        "Received an invalid value for argument `crf`, expected a "
        f"`zoo.layers.CRF` layer, got {value!r}"
    )):
        CRFLoss(value)


def test_docstring_examples_run():
    run_docstring_examples(crf_module)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_under_mixed_precision_everything_is_float32(policy):
    reference, x = _crf(19), _potentials(20)
    with precision.applied(policy, gpus=[]):
        layer = CRF(TAGS)
        layer.build((None, None, TAGS))
    layer.set_weights(reference.get_weights())
    assert {w.dtype for w in layer.weights} == {"float32"}
    # Potentials in the policy's 16 bits, as a mixed tagger's Dense would
    # give them: every result is float32 and equals float32 on the same
    # values (their rounding is the only difference).
    low = keras.ops.cast(x, policy.split("_")[1])
    same = np.asarray(keras.ops.cast(low, "float32"))
    tags, score = layer.decode(low, MASK)
    want_tags, want_score = reference.decode(same, MASK)
    assert score.dtype == "float32"
    np.testing.assert_array_equal(np.asarray(tags), np.asarray(want_tags))
    for got, want in [
        (score, want_score),
        (layer.log_partition(low, MASK), reference.log_partition(same, MASK)),
        (layer.marginals(low, MASK), reference.marginals(same, MASK)),
    ]:
        assert got.dtype == "float32"
        np.testing.assert_allclose(np.asarray(got), np.asarray(want),
                                   rtol=1e-6, atol=1e-6)
    rng = np.random.default_rng(21)
    labels = np.where(MASK, rng.integers(0, TAGS, MASK.shape), -1)
    np.testing.assert_allclose(float(CRFLoss(layer)(labels, low)),
                               float(CRFLoss(reference)(labels, same)),
                               rtol=1e-6)
