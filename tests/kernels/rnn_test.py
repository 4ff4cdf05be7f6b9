"""Tests for zoo.kernels.rnn: the compiled loop equals the TensorFlow loop.

Forward outputs, final states and the gradients of inputs, initial states
and every weight, to 1e-5, for every cell and option, with right-, left-
and fully padded rows and holes, recurrent dropout masks, both directions,
eagerly, under `tf.function` and in `fit`; it runs in training only, so
exports never hold it.
"""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo import cells
from zoo.kernels import build
from zoo.kernels import rnn as compiled
from zoo.layers import Recurrent
from zoo.layers import StackedRNN
from zoo.testing import random_array
from zoo.testing import randomize_weights

FEATURES, UNITS, TIME = 3, 4, 6
# Rows: right-padded, left-padded, fully padded, a hole in the middle, full.
MASK = np.array(
    [
        [True, True, True, True, False, False],
        [False, False, True, True, True, True],
        [False] * 6,
        [True, True, False, True, True, True],
        [True] * 6,
    ]
)
TOLERANCE = dict(rtol=1e-5, atol=1e-5)

CELLS = {
    "simple_rnn": lambda: cells.SimpleRNNCell(UNITS),
    "lstm": lambda: cells.LSTMCell(UNITS),
    # Peepholes that matter and a clip that binds (|c| goes past 0.4).
    "peephole_lstm": lambda: cells.LSTMCell(
        UNITS, use_peepholes=True, cell_clip=0.4,
        peephole_initializer="random_normal",
    ),
    "lstm_no_bias": lambda: cells.LSTMCell(UNITS, use_bias=False),
    "gru": lambda: cells.GRUCell(UNITS),
    "gru_reset_before": lambda: cells.GRUCell(UNITS, reset_after=False),
    "gru_no_bias": lambda: cells.GRUCell(UNITS, use_bias=False),
}

# Where a compiler is found on Linux the kernel must build: a broken
# source fails these tests instead of skipping them.
BUILDABLE = (build.compiler() is not None and sys.platform == "linux"
             and not build.disabled())
requires_kernel = pytest.mark.skipif(
    not BUILDABLE, reason="no C++ compiler on Linux here, or ZOO_KERNELS=0")


def test_the_kernel_builds_where_it_can():
    if not BUILDABLE:
        pytest.skip("no C++ compiler on Linux here, or ZOO_KERNELS=0")
    assert compiled.ops() is not None, build.unavailable_reason(compiled.NAME)


def _cell(name, seed=0):
    cell = CELLS[name]()
    cell.build((None, FEATURES))
    randomize_weights(cell, seed, scale=0.5)
    return cell


def _results_and_gradients(fn, x, initial, cell):
    """`fn()`'s (last, outputs, *states) and the gradients of a loss that
    weighs each of them differently."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        tape.watch(initial)
        last, outputs, states = fn()
        results = [last, outputs, *states]
        loss = sum(tf.reduce_sum(tf.sin(r * (k + 1.0)))
                   for k, r in enumerate(results))
    return results, tape.gradient(loss, [x, *initial, *cell.trainable_weights])


def _assert_all_close(found, expected):
    assert len(found) == len(expected)
    for a, b in zip(found, expected):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), **TOLERANCE)


@requires_kernel
@pytest.mark.parametrize("dropout", [False, True])
@pytest.mark.parametrize("mask", [None, MASK], ids=["unmasked", "masked"])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("name", sorted(CELLS))
def test_equals_the_tensorflow_loop(name, go_backwards, mask, dropout):
    cell = _cell(name)
    x = tf.constant(random_array((len(MASK), TIME, FEATURES), 1))
    initial = [tf.constant(random_array((len(MASK), UNITS), 2 + i))
               for i in range(len(cell.state_size))]
    recurrent_mask = None
    if dropout:
        keep = random_array((len(MASK), UNITS), 5) > -0.5
        recurrent_mask = tf.constant(keep.astype("float32") / 0.7)
    layer = Recurrent(cell, go_backwards=go_backwards, return_sequences=True,
                      use_fused=False, use_kernel=False, batch_shards=1)
    args = (x, initial, mask, recurrent_mask)
    expected = _results_and_gradients(lambda: layer._loop(*args), x, initial,
                                      cell)
    found = _results_and_gradients(
        lambda: compiled.run(cell, *args, go_backwards=go_backwards),
        x, initial, cell)
    _assert_all_close(found[0], expected[0])
    _assert_all_close(found[1], expected[1])


@requires_kernel
def test_the_clip_binds_in_the_peephole_case():
    # Otherwise the test above would not check the clip's gradient.
    cell = _cell("peephole_lstm")
    x = random_array((len(MASK), TIME, FEATURES), 1)
    _, _, (_, c) = compiled.run(cell, x, cell.get_initial_state(len(MASK)))
    assert np.max(np.abs(c)) == pytest.approx(0.4)


@requires_kernel
@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_row_blocks_on_threads_equal_one_block(name):
    # 40 rows make several blocks on a machine of 2 or more cores; the
    # TensorFlow loop is the reference either way.
    cell = _cell(name)
    batch = 40
    x = tf.constant(random_array((batch, TIME, FEATURES), 6))
    mask = np.arange(TIME)[None, :] < (np.arange(batch) % (TIME + 1))[:, None]
    initial = cell.get_initial_state(batch)
    layer = Recurrent(cell, return_sequences=True, use_fused=False,
                      use_kernel=False, batch_shards=1)
    args = (x, initial, mask, None)
    expected = _results_and_gradients(lambda: layer._loop(*args), x, initial,
                                      cell)
    found = _results_and_gradients(lambda: compiled.run(cell, *args), x,
                                   initial, cell)
    _assert_all_close(found[0] + found[1], expected[0] + expected[1])


@requires_kernel
def test_gradients_are_the_same_in_every_run(tmp_path):
    # Row blocks' weight gradients are added in block order, not in the
    # order their threads finish: exact resume needs repeatable steps.
    # Four intra-op threads, 64 rows: four blocks finishing in any order.
    program = tmp_path / "repeat.py"
    program.write_text(
        "import numpy as np, tensorflow as tf\n"
        "tf.config.threading.set_intra_op_parallelism_threads(4)\n"
        "from zoo import cells\n"
        "from zoo.kernels import rnn\n"
        "cell = cells.LSTMCell(16, use_peepholes=True)\n"
        "cell.build((None, 3))\n"
        "x = tf.constant(np.random.default_rng(0).normal(\n"
        "    size=(64, 7, 3)).astype('f'))\n"
        "state = cell.get_initial_state(64)\n"
        "def grads():\n"
        "    with tf.GradientTape() as tape:\n"
        "        loss = tf.reduce_sum(tf.sin(rnn.run(cell, x, state)[1]))\n"
        "    return [g.numpy() for g in tape.gradient(\n"
        "        loss, cell.trainable_weights)]\n"
        "first = grads()\n"
        "for _ in range(20):\n"
        "    for a, b in zip(grads(), first):\n"
        "        np.testing.assert_array_equal(a, b)\n"
        "print('repeatable')\n"
    )
    result = subprocess.run([sys.executable, str(program)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "repeatable" in result.stdout


def _pair(name, use_kernel=True, **kwargs):
    """Two layers on one cell: compiled loop and TensorFlow loop."""
    kwargs = dict(return_sequences=True, return_state=True, seed=7, **kwargs)
    with_kernel = Recurrent(_cell(name), use_kernel=use_kernel, **kwargs)
    without = Recurrent(with_kernel.cell, use_kernel=False, use_fused=False,
                        **kwargs)
    return with_kernel, without


@requires_kernel
@pytest.mark.parametrize("name", ["peephole_lstm", "gru_reset_before"])
def test_layer_in_training_under_tf_function_with_dropout(name):
    x = tf.constant(random_array((len(MASK), TIME, FEATURES), 8))
    results = []
    for layer in _pair(name, dropout=0.3, recurrent_dropout=0.4,
                       go_backwards=True):

        @tf.function
        def step(x, layer=layer):
            with tf.GradientTape() as tape:
                outputs = layer(x, mask=MASK, training=True)
                loss = sum(tf.reduce_sum(tf.sin(o)) for o in outputs)
            return outputs, tape.gradient(loss, layer.trainable_weights)

        outputs, gradients = step(x)
        results.append(list(outputs) + list(gradients))
        graph = step.get_concrete_function(x).graph.as_graph_def()
        op_types = {node.op for node in graph.node}
        op_types |= {node.op for f in graph.library.function
                     for node in f.node_def}
        results.append("ZooRnnForward" in op_types)
    with_kernel, used, without, not_used = results
    assert used and not not_used
    _assert_all_close(with_kernel, without)


def _model(use_kernel, seed=3):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((TIME, FEATURES))
    x = keras.layers.Masking(0.0)(inputs)
    x = StackedRNN("lstm", units=UNITS, num_layers=2, bidirectional=True,
                   dropout=0.2, recurrent_dropout=0.2, seed=4,
                   use_kernel=use_kernel, use_fused=False,
                   cell_kwargs={"use_peepholes": True, "cell_clip": 2.0})(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    model.compile(keras.optimizers.SGD(0.5), keras.losses
                  .SparseCategoricalCrossentropy(from_logits=True))
    return model


@requires_kernel
def test_fit_gives_the_weights_of_the_tensorflow_loop():
    x = random_array((8, TIME, FEATURES), 9)
    x[:2, :2] = 0.0  # left padding
    x[3:5, 4:] = 0.0  # right padding
    x[6] = 0.0  # a fully padded row
    y = np.arange(8) % 2
    weights = []
    for use_kernel in (True, False):
        model = _model(use_kernel)
        model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
        weights.append(model.get_weights())
    moved = _model(False).get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(weights[0], moved))
    _assert_all_close(weights[0], weights[1])


@requires_kernel
def test_inference_and_exports_run_the_tensorflow_loop(tmp_path):
    model = _model("auto")
    x = random_array((4, TIME, FEATURES), 10)
    model.fit(x, np.arange(4) % 2, verbose=0)
    for training in (True, False):
        graph = tf.function(lambda x: model(x, training=training))
        nodes = graph.get_concrete_function(
            tf.TensorSpec([None, TIME, FEATURES])).graph.as_graph_def()
        text = str(nodes)
        assert ("ZooRnnForward" in text) is training
    model.export(str(tmp_path / "export"), verbose=False)
    with open(tmp_path / "export" / "saved_model.pb", "rb") as f:
        saved = f.read()
    assert b"While" in saved or b"while" in saved  # the loop is there
    assert b"ZooRnn" not in saved


def test_unsupported_reasons():
    assert compiled.unsupported_reason(_cell("gru"), "float32") is None
    assert "not _Echo" in compiled.unsupported_reason(_Echo(), "float32")
    relu = cells.LSTMCell(UNITS, activation="relu")
    assert "tanh and sigmoid" in compiled.unsupported_reason(relu, "float32")
    assert "float32 only, got bfloat16" in compiled.unsupported_reason(
        _cell("lstm"), "bfloat16")
    mixed = cells.GRUCell(UNITS, dtype="mixed_bfloat16")
    assert "float32 only, got bfloat16" in compiled.unsupported_reason(
        mixed, "float32")


class _Echo(cells.GRUCell):
    """A subclass may change the step: the compiled loop does not guess."""

    def __init__(self):
        super().__init__(UNITS)


def test_use_kernel_true_rejected_at_construction():
    with pytest.raises(ValueError, match=r"`use_kernel`: True cannot be "
                       r"honoured because the compiled loop needs tanh"):
        Recurrent(cells.GRUCell(UNITS, activation="relu"), use_kernel=True)
    with pytest.raises(ValueError, match="runs float32 only, got bfloat16"):
        Recurrent("lstm", units=UNITS, use_kernel=True,
                  dtype="mixed_bfloat16")


@pytest.mark.parametrize("value", ["yes", "AUTO", 1, 0, None])
def test_invalid_use_kernel_rejected(value):
    with pytest.raises(ValueError, match=r"argument `use_kernel`, expected "
                       r"one of 'auto', True, False"):
        Recurrent("lstm", units=UNITS, use_kernel=value)


@pytest.fixture
def unavailable(monkeypatch):
    """The kernel as on a machine where it could not be built."""
    monkeypatch.setattr(build, "_loaded",
                        {compiled.NAME: (None, "no C++ compiler found")})


def test_auto_falls_back_to_the_loop_where_the_kernel_is_missing(unavailable):
    with_kernel, without = _pair("lstm", use_kernel="auto")
    x = random_array((len(MASK), TIME, FEATURES), 11)
    _assert_all_close(with_kernel(x, mask=MASK, training=True),
                      without(x, mask=MASK, training=True))


def test_use_kernel_true_where_the_kernel_is_missing_raises(unavailable):
    layer = Recurrent("gru", units=UNITS, use_kernel=True)
    x = random_array((2, TIME, FEATURES), 12)
    with pytest.raises(ValueError, match=r"True cannot be honoured because it "
                       r"is unavailable: no C\+\+ compiler found"):
        layer(x, training=True)
    layer(x)  # Inference loops, as always.
    with pytest.raises(RuntimeError, match="zoo's compiled loop is "
                       "unavailable: no C\\+\\+ compiler found"):
        compiled.run(layer.cell, x, layer.cell.get_initial_state(2))


def test_a_gpu_keeps_the_layer_off_the_kernel(monkeypatch):
    real = tf.config.list_logical_devices
    monkeypatch.setattr(tf.config, "list_logical_devices",
                        lambda kind=None: ["GPU:0"] if kind == "GPU"
                        else real(kind))
    layer = Recurrent("lstm", units=UNITS, use_kernel=True)
    with pytest.raises(ValueError, match="it runs on the CPU and a GPU is "
                       "present"):
        layer(random_array((2, TIME, FEATURES), 13), training=True)


@requires_kernel
def test_initial_states_of_another_dtype_take_the_loop():
    # Keras casts a layer call's states to float32; a direct call may not.
    layer = Recurrent("gru", units=UNITS, use_kernel="auto")
    x = tf.constant(random_array((2, TIME, FEATURES), 15))
    layer.build(x.shape)
    state = [tf.ones((2, UNITS), "float64")]
    assert layer._try_kernel(x, state, None, None) is None
    forced = Recurrent(layer.cell, use_kernel=True)
    with pytest.raises(ValueError, match="needs float32 initial states"):
        forced._try_kernel(x, state, None, None)


@requires_kernel
def test_use_fused_true_keeps_the_kernel_out():
    # use_fused=True asks for Keras' fused kernel: on a CPU it raises in
    # training as in inference, rather than running the compiled loop.
    layer = Recurrent("lstm", units=UNITS, use_fused=True)
    with pytest.raises(ValueError, match="use_fused"):
        layer(random_array((2, TIME, FEATURES), 16), training=True)


@requires_kernel
def test_jit_compile_is_dropped_with_a_warning():
    layer = Recurrent("lstm", units=UNITS)
    assert layer.supports_jit is False
    assert Recurrent("lstm", units=UNITS, use_kernel=False).supports_jit
    inputs = keras.Input((TIME, FEATURES))
    model = keras.Model(inputs, keras.layers.Dense(2)(layer(inputs)))
    with pytest.warns(UserWarning, match="doesn't support `jit_compile"):
        model.compile("sgd", "mse", jit_compile=True)
    assert model.jit_compile is False
    model.fit(random_array((4, TIME, FEATURES), 17), np.zeros((4, 2)),
              verbose=0)


def test_use_kernel_in_config():
    layer = Recurrent("lstm", units=UNITS, use_kernel=False)
    assert layer.get_config()["use_kernel"] is False
    assert Recurrent.from_config(layer.get_config()).use_kernel is False
    stack = StackedRNN("gru", units=UNITS, use_kernel=False)
    assert stack.get_config()["use_kernel"] is False
    assert stack.rnn_layers[0].use_kernel is False


@requires_kernel
def test_one_intra_op_thread_gives_the_same_results(tmp_path):
    # The op shares its row blocks among the threads of TensorFlow's
    # intra-op pool; with a pool of one it runs them all on that thread.
    program = tmp_path / "one_thread.py"
    program.write_text(
        "import numpy as np, tensorflow as tf\n"
        "tf.config.threading.set_intra_op_parallelism_threads(1)\n"
        "from zoo import cells\n"
        "from zoo.kernels import rnn\n"
        "from zoo.layers import Recurrent\n"
        "cell = cells.LSTMCell(8)\n"
        "cell.build((None, 3))\n"
        "x = np.random.default_rng(0).normal(size=(64, 5, 3)).astype('f')\n"
        "state = cell.get_initial_state(64)\n"
        "a = rnn.run(cell, x, state)[1]\n"
        "b = Recurrent(cell, return_sequences=True, use_kernel=False,"
        " use_fused=False)._loop(x, state, None, None)[1]\n"
        "np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)\n"
        "print('threads', tf.config.threading"
        ".get_intra_op_parallelism_threads())\n"
    )
    import subprocess
    import sys

    result = subprocess.run([sys.executable, str(program)],
                            capture_output=True, text=True, timeout=300,
                            env=dict(os.environ))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "threads 1" in result.stdout


def _forward_inputs(**wrong):
    """Valid ZooRnnForward inputs of an LSTM (batch 2, time 3, units 4),
    with `wrong` ones replaced."""
    inputs = dict(xproj=tf.zeros([2, 3, 16]), bias=tf.zeros([16]),
                  h0=tf.zeros([2, 4]), c0=tf.zeros([2, 4]),
                  kernel=tf.zeros([4, 16]), extra=tf.zeros([0, 4]),
                  mask=tf.ones([2, 3]), dropout=tf.zeros([0, 4]))
    return {**inputs, **wrong}


@requires_kernel
@pytest.mark.parametrize("wrong, message", [
    (dict(xproj=tf.zeros([2, 3, 12])), "xproj must be"),
    (dict(bias=tf.zeros([12])), "bias must be"),
    (dict(h0=tf.zeros([3, 4])), "h0 and c0 must be"),
    (dict(kernel=tf.zeros([4, 12])), "kernel must be"),
    (dict(mask=tf.ones([2, 2])), "mask must be"),
    (dict(dropout=tf.zeros([1, 4])), "dropout must be"),
    (dict(extra=tf.zeros([2, 4])), "extra has the wrong shape"),
])
def test_the_ops_name_an_input_of_the_wrong_shape(wrong, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        compiled.ops().zoo_rnn_forward(**_forward_inputs(**wrong), kind="lstm")
