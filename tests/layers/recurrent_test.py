"""Tests for zoo.layers.recurrent: masking, Keras parity, dropout, fusing."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from zoo import cells
from zoo.layers import recurrent
from zoo.layers.recurrent import Recurrent
from zoo.testing import random_array
from zoo.testing import randomize_weights
from zoo.testing import run_layer_test
from zoo.testing import run_serialization_test
from zoo.testing import to_numpy
from zoo.testing import run_docstring_examples
from zoo.training import precision

FEATURES, UNITS, TIME = 3, 4, 6

# Rows: right-padded, left-padded, fully padded, a gap in the middle.
MASK = np.array(
    [
        [True, True, True, True, False, False],
        [False, False, True, True, True, True],
        [False] * 6,
        [True, True, False, False, True, True],
    ]
)
RIGHT_PADDED = np.array([[True] * 6, [True] * 4 + [False] * 2])
LEFT_PADDED = np.array([[True] * 6, [False] * 2 + [True] * 4])

HAS_GPU = bool(tf.config.list_physical_devices("GPU"))


class _EchoCell(keras.layers.Layer):
    """Returns its input, times the recurrent dropout mask when one is
    given: the layer's output then shows exactly what the loop fed in."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    @property
    def state_size(self):
        return [self.units]

    @property
    def output_size(self):
        return self.units

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, self.units))]

    def call(self, inputs, states, recurrent_dropout_mask=None):
        if recurrent_dropout_mask is not None:
            inputs = inputs * recurrent_dropout_mask
        return inputs, [inputs]


# Masking --------------------------------------------------------------------


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("name", cells.names())
def test_masked_rows_equal_their_unpadded_sequences(name, go_backwards):
    keras.utils.set_random_seed(1)
    x = random_array((4, TIME, FEATURES), 2)
    cell = cells.get(name, units=UNITS)
    seq_layer = Recurrent(cell, return_sequences=True, return_state=True,
                          go_backwards=go_backwards)
    seq_layer.build(x.shape)
    randomize_weights(seq_layer, 3)
    # Same cell, hence same weights.
    last_layer = Recurrent(cell, return_state=True, go_backwards=go_backwards)
    forward_layer = Recurrent(cell, return_sequences=True, return_state=True)

    seq_out, *states = to_numpy(seq_layer(x, mask=MASK))
    last_out, *last_states = to_numpy(last_layer(x, mask=MASK))
    assert seq_out.shape == (4, TIME, UNITS)
    assert last_out.shape == (4, UNITS)
    assert len(states) == len(last_states) == len(cell.state_size)

    for b, real in enumerate(MASK):
        # Sequence outputs are in processing order.
        in_order = real[::-1] if go_backwards else real
        np.testing.assert_array_equal(seq_out[b][~in_order], 0.0)
        if not real.any():
            np.testing.assert_array_equal(seq_out[b], 0.0)
            np.testing.assert_array_equal(last_out[b], 0.0)
            for state in states + last_states:
                np.testing.assert_array_equal(state[b], 0.0)
            continue
        ref_seq, *ref_states = to_numpy(seq_layer(x[b : b + 1, real]))
        np.testing.assert_allclose(seq_out[b][in_order], ref_seq[0],
                                   atol=1e-5)
        np.testing.assert_allclose(last_out[b], ref_seq[0, -1], atol=1e-5)
        for state, last_state, ref in zip(states, last_states, ref_states):
            np.testing.assert_allclose(state[b], ref[0], atol=1e-5)
            np.testing.assert_allclose(last_state[b], ref[0], atol=1e-5)
        if go_backwards:
            # Going backwards is going forwards over the reversed sequence.
            fwd_seq, *_ = to_numpy(
                forward_layer(x[b : b + 1, real][:, ::-1])
            )
            np.testing.assert_allclose(ref_seq, fwd_seq, atol=1e-5)


def test_fully_padded_row_returns_initial_state_and_zero_output():
    x = random_array((4, TIME, FEATURES), 4)
    layer = Recurrent("lstm", units=UNITS, return_sequences=True,
                      return_state=True)
    layer.build(x.shape)
    randomize_weights(layer, 5)
    h0, c0 = random_array((4, UNITS), 6), random_array((4, UNITS), 7)
    out, h, c = to_numpy(layer(x, initial_state=[h0, c0], mask=MASK))
    np.testing.assert_array_equal(out[2], 0.0)
    np.testing.assert_allclose(h[2], h0[2], atol=0)
    np.testing.assert_allclose(c[2], c0[2], atol=0)
    # A real row starts from its initial state.
    ref_out, ref_h, ref_c = to_numpy(
        layer(x[1:2, MASK[1]], initial_state=[h0[1:2], c0[1:2]])
    )
    np.testing.assert_allclose(out[1][MASK[1]], ref_out[0], atol=1e-5)
    np.testing.assert_allclose(h[1], ref_h[0], atol=1e-5)
    np.testing.assert_allclose(c[1], ref_c[0], atol=1e-5)
    zero_start = to_numpy(layer(x[1:2, MASK[1]]))[1]
    assert np.abs(zero_start[0] - h[1]).max() > 1e-4


def test_mask_from_masking_layer_in_functional_model():
    x = random_array((4, TIME, FEATURES), 8)
    x[~MASK] = 0.0
    layer = Recurrent("gru", units=UNITS, return_sequences=True)
    inputs = keras.Input((TIME, FEATURES))
    outputs = layer(keras.layers.Masking(0.0)(inputs))
    model = keras.Model(inputs, outputs)
    np.testing.assert_allclose(
        np.asarray(model(x)), np.asarray(layer(x, mask=MASK)), atol=1e-6
    )
    assert outputs._keras_mask is not None  # Passed downstream.


def test_return_state_in_functional_model():
    x = random_array((4, TIME, FEATURES), 19)
    layer = Recurrent("lstm", units=UNITS, return_state=True)
    inputs = keras.Input((TIME, FEATURES))
    mask = keras.Input((TIME,), dtype="bool")
    outputs = layer(inputs, mask=mask)
    assert [tuple(o.shape) for o in outputs] == [(None, UNITS)] * 3
    model = keras.Model([inputs, mask], outputs)
    for a, b in zip(to_numpy(model([x, MASK])), to_numpy(layer(x, mask=MASK))):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_compute_mask():
    mask = ops.convert_to_tensor(MASK)
    assert Recurrent("gru", units=2).compute_mask(None, mask) is None
    seq = Recurrent("gru", units=2, return_sequences=True)
    assert seq.compute_mask(None, mask) is mask
    with_state = Recurrent("lstm", units=2, return_sequences=True,
                           return_state=True)
    assert with_state.compute_mask(None, mask) == [mask, None, None]


def test_compute_output_shape_with_state():
    layer = Recurrent("lstm", units=UNITS, return_state=True)
    assert layer.compute_output_shape((2, TIME, FEATURES)) == (
        (2, UNITS), (2, UNITS), (2, UNITS)
    )
    layer = Recurrent("gru", units=UNITS, return_sequences=True,
                      return_state=True)
    assert layer.compute_output_shape((None, None, FEATURES)) == (
        (None, None, UNITS), (None, UNITS)
    )
    assert layer.units == UNITS


def test_any_contract_cell_runs_with_default_use_fused():
    # Keras' SimpleRNNCell has no `recurrent_activation`: the fast-path
    # dispatch must not need one (regression test).
    x = random_array((2, TIME, FEATURES), 30)
    cell = keras.layers.SimpleRNNCell(UNITS)
    ours = Recurrent(cell, return_sequences=True)
    theirs = keras.layers.RNN(cell, return_sequences=True)
    np.testing.assert_allclose(np.asarray(ours(x, mask=RIGHT_PADDED))[0],
                               np.asarray(theirs(x, mask=RIGHT_PADDED))[0],
                               atol=1e-6)
    with pytest.raises(ValueError,
                       match="no fused kernel exists for SimpleRNNCell"):
        Recurrent(cell, use_fused=True)


# Parity with Keras' layers ---------------------------------------------------


@pytest.mark.parametrize(
    "cell,keras_layer",
    [
        (lambda: "lstm", lambda **kw: keras.layers.LSTM(UNITS, **kw)),
        (lambda: "gru", lambda **kw: keras.layers.GRU(UNITS, **kw)),
        (lambda: "simple_rnn",
         lambda **kw: keras.layers.SimpleRNN(UNITS, **kw)),
        (lambda: cells.GRUCell(UNITS, reset_after=False),
         lambda **kw: keras.layers.GRU(UNITS, reset_after=False, **kw)),
    ],
    ids=["lstm", "gru", "simple_rnn", "gru_reset_before"],
)
@pytest.mark.parametrize("go_backwards", [False, True])
def test_matches_keras_layer(cell, keras_layer, go_backwards):
    keras.utils.set_random_seed(2)
    x = random_array((2, TIME, FEATURES), 9)
    kwargs = dict(return_sequences=True, return_state=True,
                  go_backwards=go_backwards)
    cell = cell()
    ours = Recurrent(cell, units=UNITS if isinstance(cell, str) else None,
                     **kwargs)
    theirs = keras_layer(**kwargs)
    ours.build(x.shape)
    theirs.build(x.shape)
    randomize_weights(ours, 10)
    theirs.set_weights(ours.get_weights())
    for mask in [None, RIGHT_PADDED]:
        our_out = to_numpy(ours(x, mask=mask))
        their_out = to_numpy(theirs(x, mask=mask))
        assert len(our_out) == len(their_out)
        real = np.ones((2, TIME), bool) if mask is None else mask
        real = real[:, ::-1] if go_backwards else real
        # Keras repeats the last output at padded steps; we emit zeros.
        np.testing.assert_allclose(our_out[0][real], their_out[0][real],
                                   atol=1e-5)
        for a, b in zip(our_out[1:], their_out[1:]):
            np.testing.assert_allclose(a, b, atol=1e-5)


# Dropout ---------------------------------------------------------------------


def test_inference_ignores_dropout():
    x = random_array((2, TIME, FEATURES), 11)
    cell = cells.get("lstm", units=UNITS)
    plain = Recurrent(cell, return_sequences=True)
    dropped = Recurrent(cell, return_sequences=True, dropout=0.5,
                        recurrent_dropout=0.5, seed=1)
    expected = np.asarray(plain(x, mask=LEFT_PADDED))
    for _ in range(2):
        np.testing.assert_allclose(
            np.asarray(dropped(x, mask=LEFT_PADDED, training=False)),
            expected, atol=0,
        )
    np.testing.assert_allclose(np.asarray(dropped(x, mask=LEFT_PADDED)),
                               expected, atol=0)


@pytest.mark.parametrize(
    "dropout,recurrent_dropout", [(0.5, 0.0), (0.0, 0.5)]
)
def test_training_dropout_changes_outputs(dropout, recurrent_dropout):
    keras.utils.set_random_seed(3)
    x = random_array((3, TIME, FEATURES), 12)
    layer = Recurrent("gru", units=UNITS, return_sequences=True,
                      dropout=dropout, recurrent_dropout=recurrent_dropout,
                      seed=4)
    inference = np.asarray(layer(x, training=False))
    train_1 = np.asarray(layer(x, training=True))
    train_2 = np.asarray(layer(x, training=True))
    assert np.abs(train_1 - inference).max() > 1e-3
    assert np.abs(train_1 - train_2).max() > 1e-3  # A new mask per call.
    if recurrent_dropout:
        # The first step sees a zero state, so only later steps change.
        np.testing.assert_allclose(train_1[:, 0], inference[:, 0], atol=1e-6)


def test_same_seed_same_dropout_masks():
    x = random_array((3, TIME, FEATURES), 13)
    cell = cells.get("simple_rnn", units=UNITS)
    a = Recurrent(cell, dropout=0.3, recurrent_dropout=0.3, seed=7)
    b = Recurrent(cell, dropout=0.3, recurrent_dropout=0.3, seed=7)
    np.testing.assert_allclose(np.asarray(a(x, training=True)),
                               np.asarray(b(x, training=True)), atol=0)


def test_input_dropout_mask_is_shared_by_all_steps():
    keras.utils.set_random_seed(4)
    # Distinct, nonzero inputs: the echo output divided by the input is
    # the dropout multiplier of every (row, step, feature).
    x = (1.0 + np.arange(3 * TIME * 5).reshape(3, TIME, 5)).astype("float32")
    layer = Recurrent(_EchoCell(5), return_sequences=True, dropout=0.5,
                      seed=5)
    np.testing.assert_allclose(np.asarray(layer(x)), x, atol=0)
    multiplier = np.asarray(layer(x, training=True)) / x
    # Every multiplier is 0 (dropped) or 1 / (1 - rate) (kept) ...
    assert np.all(np.isclose(multiplier, 0.0) | np.isclose(multiplier, 2.0))
    assert np.isclose(multiplier, 0.0).any()
    assert np.isclose(multiplier, 2.0).any()
    # ... and constant along time: one mask per sequence.
    np.testing.assert_allclose(
        multiplier, np.repeat(multiplier[:, :1], TIME, axis=1), atol=1e-6
    )
    # Rows get their own masks.
    assert len({tuple(row) for row in multiplier[:, 0]}) > 1


def test_recurrent_dropout_mask_is_shared_by_all_steps():
    keras.utils.set_random_seed(5)
    x = (1.0 + np.arange(3 * TIME * 5).reshape(3, TIME, 5)).astype("float32")
    layer = Recurrent(_EchoCell(5), return_sequences=True,
                      recurrent_dropout=0.5, seed=6)
    # Inference passes no recurrent mask to the cell.
    np.testing.assert_allclose(np.asarray(layer(x)), x, atol=0)
    multiplier = np.asarray(layer(x, training=True)) / x
    assert np.all(np.isclose(multiplier, 0.0) | np.isclose(multiplier, 2.0))
    assert np.isclose(multiplier, 0.0).any()
    assert np.isclose(multiplier, 2.0).any()
    np.testing.assert_allclose(
        multiplier, np.repeat(multiplier[:, :1], TIME, axis=1), atol=1e-6
    )


def test_recurrent_dropout_in_training_matches_masked_cell_loop():
    keras.utils.set_random_seed(6)
    x = random_array((2, 3, FEATURES), 14)
    layer = Recurrent("lstm", units=UNITS, return_sequences=True,
                      recurrent_dropout=0.5, seed=8)
    echo = Recurrent(_EchoCell(UNITS), return_sequences=True,
                     recurrent_dropout=0.5, seed=8)
    out = np.asarray(layer(x, training=True))
    # Same seed, same first draw: the echo layer reveals the mask.
    mask = np.asarray(echo(np.ones((2, 3, UNITS), "float32"),
                           training=True))[:, 0]
    assert set(np.unique(mask)) == {0.0, 2.0}
    # Run the cell by hand with that recurrent mask.
    h, c = np.zeros((2, UNITS), "float32"), np.zeros((2, UNITS), "float32")
    for t in range(3):
        h, (h, c) = layer.cell(x[:, t], [h, c], recurrent_dropout_mask=mask)
        np.testing.assert_allclose(out[:, t], np.asarray(h), atol=1e-5)


# Fused fast path -------------------------------------------------------------


@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_fused_auto_equals_loop(name):
    x = random_array((2, TIME, FEATURES), 15)
    cell = cells.get(name, units=UNITS)
    auto = Recurrent(cell, return_sequences=True, return_state=True)
    loop = Recurrent(cell, return_sequences=True, return_state=True,
                     use_fused=False)
    auto.build(x.shape)
    randomize_weights(auto, 16)
    for mask in [None, RIGHT_PADDED, LEFT_PADDED]:
        for a, b in zip(to_numpy(auto(x, mask=mask)),
                        to_numpy(loop(x, mask=mask))):
            np.testing.assert_allclose(a, b, atol=1e-6)
    # In a graph both branches of the right-padding test are traced.
    graph = tf.function(lambda x, m: auto(x, mask=m))
    for mask in [RIGHT_PADDED, LEFT_PADDED]:
        for a, b in zip(to_numpy(graph(x, mask)),
                        to_numpy(loop(x, mask=mask))):
            np.testing.assert_allclose(a, b, atol=1e-5)


class _FakeFusedBackend:
    """Keras' backend with fused kernels that mark their outputs with 100.

    Lets a CPU test see which path the layer dispatched to.
    """

    def __init__(self):
        import keras.src.backend as real

        self.rnn = real.rnn
        self.calls = 0

    def _fused(self, inputs, *states_and_mask, return_sequences, **kwargs):
        self.calls += 1
        states = [s for s in states_and_mask[:-1]]
        batch, time = ops.shape(inputs)[0], ops.shape(inputs)[1]
        last = ops.full((batch, UNITS), 100.0)
        outputs = ops.full((batch, time, UNITS), 100.0)
        return last, outputs, [ops.full(ops.shape(s), 100.0) for s in states]

    def lstm(self, inputs, h0, c0, mask, **kwargs):
        return self._fused(inputs, h0, c0, mask, **kwargs)

    def gru(self, inputs, h0, mask, reset_after, **kwargs):
        return self._fused(inputs, h0, mask, **kwargs)


@pytest.mark.parametrize("name", ["lstm", "gru"])
@pytest.mark.parametrize(
    "mask,fused",
    [(None, True), (RIGHT_PADDED, True), (LEFT_PADDED, False),
     (MASK, False)],
    ids=["no-mask", "right-padded", "left-padded", "mixed-and-empty"],
)
def test_auto_dispatches_only_masks_cudnn_accepts(monkeypatch, name, mask, fused):
    fake = _FakeFusedBackend()
    monkeypatch.setattr(recurrent, "_keras_backend", fake)
    batch = 2 if mask is None else len(mask)
    x = random_array((batch, TIME, FEATURES), 21)
    layer = Recurrent(name, units=UNITS, return_sequences=True)
    output = np.asarray(layer(x, mask=mask))
    assert bool(np.all(output == 100.0)) is fused
    assert fake.calls == (1 if fused else 0)
    # Recurrent dropout has no fused kernel: always the loop.
    dropping = Recurrent(name, units=UNITS, recurrent_dropout=0.5)
    dropping(x, mask=mask, training=True)
    assert fake.calls == (1 if fused else 0)


def test_forced_fused_rejects_masks_cudnn_cannot_take(monkeypatch):
    monkeypatch.setattr(recurrent, "_keras_backend", _FakeFusedBackend())
    layer = Recurrent("lstm", units=UNITS, use_fused=True)
    x = random_array((2, TIME, FEATURES), 22)
    assert np.all(np.asarray(layer(x, mask=RIGHT_PADDED)) == 100.0)
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match="use_fused=True: cuDNN accepts only right-padded masks",
    ):
        layer(x, mask=LEFT_PADDED)


@pytest.mark.parametrize(
    "make_layer,reason",
    [
        (lambda: Recurrent("peephole_lstm", units=2, use_fused=True),
         "peephole connections and cell clipping have no fused kernel"),
        (lambda: Recurrent(cells.LSTMCell(2, cell_clip=1.0), use_fused=True),
         "peephole connections and cell clipping have no fused kernel"),
        (lambda: Recurrent(cells.GRUCell(2, reset_after=False),
                           use_fused=True),
         "the fused GRU kernel needs `reset_after=True`"),
        (lambda: Recurrent("lstm", units=2, recurrent_dropout=0.1,
                           use_fused=True),
         "the fused kernels have no recurrent dropout"),
        (lambda: Recurrent("simple_rnn", units=2, use_fused=True),
         "no fused kernel exists for SimpleRNNCell"),
        (lambda: Recurrent(cells.GRUCell(2, activation="relu"),
                           use_fused=True),
         "the fused kernels need tanh and sigmoid activations"),
        (lambda: Recurrent(cells.LSTMCell(2, use_bias=False),
                           use_fused=True),
         "the fused kernels need `use_bias=True`"),
    ],
    ids=["peephole", "cell_clip", "gru_reset_before", "recurrent_dropout",
         "simple_rnn", "activation", "no_bias"],
)
def test_use_fused_true_rejected_at_construction(make_layer, reason):
    message = (
        "Received an invalid value for argument `use_fused`: True cannot be "
        f"honoured because {reason}"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        make_layer()


@pytest.mark.skipif(HAS_GPU, reason="cuDNN may be available on a GPU")
@pytest.mark.parametrize("name", ["lstm", "gru"])
@pytest.mark.parametrize("mask", [None, RIGHT_PADDED])
def test_use_fused_true_without_gpu_raises_at_call(name, mask):
    layer = Recurrent(name, units=2, use_fused=True)  # Constructs fine.
    with pytest.raises(
        ValueError,
        match=re.escape(
            "True cannot be honoured because Keras' fused kernel needs a "
            "GPU with cuDNN"
        ),
    ):
        layer(random_array((2, TIME, FEATURES), 17), mask=mask)


# Batch shards ----------------------------------------------------------------


@pytest.fixture
def looped(monkeypatch):
    """The batch size of every loop Recurrent runs, in order."""
    sizes = []
    loop = Recurrent._loop
    monkeypatch.setattr(Recurrent, "_loop", lambda self, x, *rest: (
        sizes.append(x.shape[0]) or loop(self, x, *rest)))
    return sizes


def _sharding_pair(shards, cell="peephole_lstm", **kwargs):
    """The same layer twice: one loop, and `shards` row blocks."""
    one = Recurrent(cell, units=UNITS, batch_shards=1, seed=3, **kwargs)
    many = Recurrent(one.cell, batch_shards=shards, seed=3, **kwargs)
    return one, many


@pytest.mark.parametrize("shards", [2, 3])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_batch_shards_give_the_results_and_gradients_of_one_loop(
        shards, go_backwards):
    one, many = _sharding_pair(shards, return_sequences=True,
                               return_state=True, go_backwards=go_backwards)
    x = tf.constant(random_array((len(MASK), TIME, FEATURES), 40))
    initial = [random_array((len(MASK), UNITS), 41 + i) for i in range(2)]
    one.build(x.shape)
    randomize_weights(one, 42)
    found = []
    for layer in (one, many):
        with tf.GradientTape() as tape:
            tape.watch(x)
            results = layer(x, initial_state=initial, mask=MASK)
            loss = sum(tf.reduce_sum(tf.sin(r * (k + 1.0)))
                       for k, r in enumerate(results))
        found.append((results,
                      tape.gradient(loss, [x, *one.trainable_weights])))
    (a_results, a_grads), (b_results, b_grads) = found
    # Gradients reach |6|: float32 sums in another order differ in the
    # last bits, hence a relative tolerance beside the absolute one.
    for a, b in zip(a_results + a_grads, b_results + b_grads):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_batch_shards_keep_dropout_masks_per_row():
    one, many = _sharding_pair(2, cell="gru", dropout=0.5,
                               recurrent_dropout=0.5, return_sequences=True)
    x = random_array((5, TIME, FEATURES), 43)
    np.testing.assert_allclose(one(x, training=True), many(x, training=True),
                               atol=1e-6)


def test_more_shards_than_rows_leave_empty_blocks_harmless():
    one, many = _sharding_pair(3, return_state=True)
    x = random_array((2, TIME, FEATURES), 44)
    for a, b in zip(one(x, mask=RIGHT_PADDED), many(x, mask=RIGHT_PADDED)):
        np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("batch", [2 * recurrent.MIN_SHARD_ROWS, 3])
def test_auto_shards_by_the_batch_the_graph_sees(monkeypatch, looped, batch):
    # Two cores: batches of 2 * MIN_SHARD_ROWS rows or more run as two
    # blocks, smaller ones as one loop (beside one on no rows where the
    # batch size is known only when the graph runs).
    monkeypatch.setattr(recurrent, "cpu_count", lambda: 2)
    monkeypatch.setattr(recurrent, "MIN_SHARD_WORK", 1)
    layer = Recurrent("lstm", units=UNITS, use_fused=False,
                      return_sequences=True, return_state=True)
    x = random_array((batch, TIME, FEATURES), 45)
    mask = np.arange(TIME)[None, :] < (np.arange(batch) % TIME + 1)[:, None]
    one_loop = Recurrent(layer.cell, batch_shards=1, use_fused=False,
                         return_sequences=True, return_state=True)(x, mask=mask)
    graph = tf.function(
        lambda x, mask: layer(x, mask=mask),
        input_signature=[tf.TensorSpec([None, TIME, FEATURES]),
                         tf.TensorSpec([None, TIME], tf.bool)])
    looped.clear()
    for a, b in zip(graph(x, mask), one_loop):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert looped == [None, None]  # Traced: two blocks of unknown size.
    looped.clear()
    layer(x, mask=mask)
    expected = ([batch // 2, batch - batch // 2]
                if batch >= 2 * recurrent.MIN_SHARD_ROWS else [batch])
    assert sorted(looped) == sorted(expected)


@pytest.mark.parametrize(
    "batch,shards,min_batch,sizes",
    [(5, 2, 0, [3, 2]), (6, 3, 6, [2, 2, 2]), (7, 3, 0, [3, 2, 2]),
     (3, 2, 16, [3, 0]), (2, 3, 0, [1, 1, 0]), (0, 2, 0, [0, 0])],
)
def test_block_sizes(batch, shards, min_batch, sizes):
    assert recurrent.block_sizes(batch, shards, min_batch).numpy().tolist() == (
        sizes)


@pytest.mark.parametrize(
    "cell,units,rows",
    [("lstm", 128, 32), ("gru", 128, 43), ("simple_rnn", 128, 128),
     ("lstm", 512, 8), ("simple_rnn", 1024, 8)],
)
def test_auto_blocks_need_enough_recurrent_work(cell, units, rows):
    layer = Recurrent(cell, units=units)
    layer.build((None, TIME, FEATURES))
    # At least MIN_SHARD_WORK multiply-adds a step, and MIN_SHARD_ROWS rows.
    assert layer._min_shard_rows() == rows
    assert rows * units * units * {"lstm": 4, "gru": 3, "simple_rnn": 1}[
        cell] >= recurrent.MIN_SHARD_WORK or rows == recurrent.MIN_SHARD_ROWS
    assert Recurrent(_EchoCell(UNITS))._min_shard_rows() == (
        recurrent.MIN_SHARD_ROWS)


def test_bidirectional_directions_share_the_cores(monkeypatch, looped):
    from zoo.layers import Bidirectional

    monkeypatch.setattr(recurrent, "cpu_count", lambda: 2)
    monkeypatch.setattr(recurrent, "MIN_SHARD_WORK", 1)
    bi = Bidirectional(Recurrent("lstm", units=UNITS, seed=1))
    assert bi.forward_layer.side_by_side == bi.backward_layer.side_by_side == 2
    bi(random_array((64, TIME, FEATURES), 47))
    assert looped == [64, 64]  # One loop per direction, one core each.
    looped.clear()
    monkeypatch.setattr(recurrent, "cpu_count", lambda: 4)
    Bidirectional(Recurrent("lstm", units=UNITS))(
        random_array((64, TIME, FEATURES), 47))
    assert looped == [32, 32, 32, 32]


def test_one_core_keeps_one_loop(monkeypatch, looped):
    monkeypatch.setattr(recurrent, "cpu_count", lambda: 1)
    Recurrent("gru", units=UNITS)(random_array((64, TIME, FEATURES), 46))
    assert looped == [64]


@pytest.mark.parametrize("value", [0, -2, 1.5, True, "all", None])
def test_invalid_batch_shards_rejected(value):
    message = (
        "Received an invalid value for argument `batch_shards`, expected "
        f"'auto' or a positive integer, got {value!r}"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        Recurrent("lstm", units=2, batch_shards=value)


# Errors ----------------------------------------------------------------------


@pytest.mark.parametrize("use_fused", ["yes", "AUTO", 1, 0, None])
def test_invalid_use_fused_rejected(use_fused):
    message = (
        "Received an invalid value for argument `use_fused`, expected one of "
        f"'auto', True, False, got {use_fused!r}"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        Recurrent("lstm", units=2, use_fused=use_fused)


@pytest.mark.parametrize("argument", ["dropout", "recurrent_dropout"])
@pytest.mark.parametrize("value", [1.5, 1.0, -0.1])
def test_invalid_dropout_rejected(argument, value):
    message = (
        f"Received an invalid value for argument `{argument}`, expected a "
        f"number in [0, 1), got {value!r}"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        Recurrent("gru", units=2, **{argument: value})


def test_units_missing_for_a_name_rejected():
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Received an invalid value for argument `units`, expected a "
            "positive integer with cell 'gru', got None"
        ),
    ):
        Recurrent("gru")


@pytest.mark.parametrize(
    "cell",
    [lambda: cells.GRUCell(2),
     lambda: keras.saving.serialize_keras_object(cells.GRUCell(2))],
    ids=["instance", "config"],
)
def test_units_with_a_cell_object_rejected(cell):
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Received an invalid value for argument `units`, expected None "
            "when `cell` is not a name (the cell has its own), got 4"
        ),
    ):
        Recurrent(cell(), units=4)


def test_invalid_units_and_cell_names_rejected():
    with pytest.raises(ValueError, match="argument `units`, expected a "
                       "positive integer, got 0"):
        Recurrent("lstm", units=0)
    with pytest.raises(ValueError, match="Known cells: gru, lstm"):
        Recurrent("lsmt", units=2)


@pytest.mark.parametrize("shape", [(2, FEATURES), (2, 3, 4, FEATURES)])
def test_wrong_input_rank_rejected(shape):
    layer = Recurrent("lstm", units=2)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Recurrent expects inputs of rank 3 [batch, time, features], "
            f"got shape {shape}"
        ),
    ):
        layer(np.zeros(shape, "float32"))


# Shared checks and config ----------------------------------------------------


@pytest.mark.parametrize(
    "make_layer,expected_shape",
    [
        (lambda: Recurrent("lstm", units=UNITS, return_sequences=True),
         (2, TIME, UNITS)),
        (lambda: Recurrent(
            cells.LSTMCell(UNITS, use_peepholes=True, cell_clip=1.0,
                           peephole_initializer="random_normal"),
            go_backwards=True), (2, UNITS)),
        (lambda: Recurrent("gru", units=UNITS, go_backwards=True,
                           return_sequences=True, dropout=0.2, seed=3),
         (2, TIME, UNITS)),
        (lambda: Recurrent("simple_rnn", units=UNITS, use_fused=False),
         (2, UNITS)),
    ],
    ids=["lstm", "peephole_backwards", "gru_dropout", "simple_rnn"],
)
def test_shared_layer_and_serialization_checks(make_layer, expected_shape):
    keras.utils.set_random_seed(7)
    x = random_array((2, TIME, FEATURES), 18)
    run_layer_test(make_layer(), x, expected_shape)
    run_layer_test(make_layer(), x, expected_shape, mask=LEFT_PADDED)
    run_serialization_test(make_layer(), x)
    run_serialization_test(make_layer(), x, mask=LEFT_PADDED)


def test_get_config_round_trip():
    layer = Recurrent("peephole_lstm", units=3, return_sequences=True,
                      return_state=True, go_backwards=True, dropout=0.25,
                      recurrent_dropout=0.5, use_fused=False, seed=11,
                      batch_shards=3, name="rec")
    config = layer.get_config()
    for key, value in dict(return_sequences=True, return_state=True,
                           go_backwards=True, dropout=0.25,
                           recurrent_dropout=0.5, use_fused=False,
                           seed=11, batch_shards=3, name="rec").items():
        assert config[key] == value, key
    assert config["cell"]["registered_name"] == "zoo>LSTMCell"
    assert config["cell"]["config"]["use_peepholes"] is True
    clone = Recurrent.from_config(config)
    assert clone.get_config() == config
    assert isinstance(clone.cell, cells.LSTMCell)
    assert clone.cell is not layer.cell


def test_docstring_example_runs():
    run_docstring_examples(Recurrent)


# Mixed precision --------------------------------------------------------------

# Largest difference from float32 of a recurrent layer's outputs (tanh and
# sigmoid bounded, 6 steps): 8-bit bfloat16 and 11-bit float16 mantissas.
MIXED_TOLERANCE = {"mixed_bfloat16": 0.05, "mixed_float16": 5e-3}


@pytest.mark.parametrize("policy", sorted(MIXED_TOLERANCE))
@pytest.mark.parametrize("name", cells.names())
def test_mixed_precision_is_close_to_float32_and_masks_stay_exact(
        name, policy):
    x = random_array((4, TIME, FEATURES), 2)
    reference = Recurrent(name, units=UNITS, return_sequences=True,
                          return_state=True)
    reference.build(x.shape)
    randomize_weights(reference, 3)
    want, *want_states = to_numpy(reference(x, mask=MASK))
    with precision.applied(policy, gpus=[]):
        layer = Recurrent(name, units=UNITS, return_sequences=True,
                          return_state=True)
        layer.build(x.shape)
    layer.set_weights(reference.get_weights())
    assert {w.dtype for w in layer.weights} == {"float32"}
    got, *states = layer(x, mask=MASK)
    assert got.dtype == policy.split("_")[1]
    tolerance = MIXED_TOLERANCE[policy]
    np.testing.assert_allclose(to_numpy(got), want, atol=tolerance)
    for state, want_state in zip(states, want_states):
        np.testing.assert_allclose(to_numpy(state), want_state,
                                   atol=tolerance)
    # Padded steps change nothing: other values there, the same results.
    noisy = np.where(MASK[:, :, None], x, 1e3).astype("float32")
    again, *again_states = layer(noisy, mask=MASK)
    np.testing.assert_array_equal(to_numpy(again), to_numpy(got))
    for state, again_state in zip(states, again_states):
        np.testing.assert_array_equal(to_numpy(again_state), to_numpy(state))
