"""The compiled recurrent loop (`rnn.cc`) as a differentiable function.

`run(cell, ...)` gives what `zoo.layers.Recurrent`'s TensorFlow loop gives
(last output, outputs in processing order with zeros at padded steps,
final states) for zoo's `SimpleRNNCell`, `LSTMCell` (peepholes and cell
clipping included) and `GRUCell` (`reset_after` either way), with tanh
and sigmoid, in float32. The input projection `x W + b` (and its
gradient) is one TensorFlow matrix product over all steps; the compiled
ops run the sequential part, forward and backward (with the gradients of
the recurrent kernel, peepholes and recurrent bias), one row block per
thread of TensorFlow's intra-op pool.

`unsupported_reason(cell, dtype)` says why a cell cannot run here, or
None. The kernel is built on first use (`zoo.kernels.build`).
"""

import keras
import tensorflow as tf

from zoo import cells as cells_lib
from zoo.kernels import build

NAME = "rnn"


def ops():
    """The compiled op module, or None (the reason is logged once)."""
    return build.load(NAME)


def unsupported_reason(cell, dtype):
    """Why `cell` on `dtype` inputs cannot take the compiled loop, or None.

    Checks the cell only; whether the kernel built is `ops()`'s business.
    """
    if type(cell) not in KINDS:
        return ("the compiled loop runs zoo's SimpleRNNCell, LSTMCell and "
                f"GRUCell, not {type(cell).__name__}")
    tanh_sigmoid = cell.activation is keras.activations.tanh and (
        isinstance(cell, cells_lib.SimpleRNNCell)
        or cell.recurrent_activation is keras.activations.sigmoid
    )
    if not tanh_sigmoid:
        return "the compiled loop needs tanh and sigmoid activations"
    dtypes = {tf.as_dtype(dtype).name, cell.compute_dtype, cell.variable_dtype}
    if dtypes != {"float32"}:
        return ("the compiled loop runs float32 only, got "
                f"{', '.join(sorted(dtypes - {'float32'}))}")
    return None


# The compiled ops' `kind` of each cell class, and its gates.
KINDS = {
    cells_lib.SimpleRNNCell: "simple",
    cells_lib.LSTMCell: "lstm",
    cells_lib.GRUCell: "gru",
}
GATES = {"simple": 1, "lstm": 4, "gru_after": 3, "gru_before": 3}


def _kind(cell):
    kind = KINDS[type(cell)]
    if kind == "gru":
        return "gru_after" if cell.reset_after else "gru_before"
    return kind


def run(cell, inputs, initial_state, mask=None, recurrent_mask=None,
        go_backwards=False):
    """The recurrent loop of `cell` over `inputs`, by the compiled ops.

    Args:
        cell: A built `SimpleRNNCell`, `LSTMCell` or `GRUCell` (see
            `unsupported_reason`).
        inputs: `[batch, time, features]` float32.
        initial_state: List of `[batch, units]`: `[h, c]` or `[h]`.
        mask: Optional boolean `[batch, time]`, True for real steps.
        recurrent_mask: Optional `[batch, units]` recurrent dropout
            multiplier of h_{t-1}.
        go_backwards: Process time in reverse; outputs in processing order.

    Returns:
        `(last_output, outputs, states)`: `[batch, units]` (the output of
        the last real step; zeros for a row with none), `[batch, time,
        units]` (zeros at padded steps), and the list of final states.
    """
    module = ops()
    if module is None:
        raise RuntimeError(
            f"zoo's compiled loop is unavailable: {build.unavailable_reason(NAME)}"
        )
    kind = _kind(cell)
    units = cell.units
    gates = GATES[kind]
    batch, time = tf.shape(inputs)[0], tf.shape(inputs)[1]
    features = tf.shape(inputs)[2]
    # One matrix product for every step: [batch * time, features] @ W. The
    # ops add the bias and give its gradient (a column sum of d_xproj that
    # they make while each row is in cache).
    xproj = tf.matmul(tf.reshape(inputs, [-1, features]), cell.kernel)
    xproj = tf.reshape(xproj, [batch, time, gates * units])
    if not cell.use_bias:
        bias = tf.zeros([0])
    elif kind == "gru_after":
        bias = cell.bias[0]
    else:
        bias = tf.convert_to_tensor(cell.bias)
    if kind == "lstm" and cell.use_peepholes:
        extra = tf.convert_to_tensor(cell.peephole_weights)
    elif kind == "lstm":
        extra = tf.zeros([0, units])
    elif kind == "gru_after":
        extra = (tf.convert_to_tensor(cell.bias[1]) if cell.use_bias
                 else tf.zeros([gates * units]))
    else:
        extra = tf.zeros([0])
    h0 = tf.convert_to_tensor(initial_state[0])
    c0 = tf.convert_to_tensor(initial_state[1]) if kind == "lstm" else h0
    float_mask = (tf.ones([batch, time]) if mask is None
                  else tf.cast(mask, "float32"))
    dropout = (tf.zeros([0, units]) if recurrent_mask is None
               else tf.stop_gradient(tf.convert_to_tensor(recurrent_mask)))
    attrs = dict(kind=kind, cell_clip=float(getattr(cell, "cell_clip", None) or 0.0),
                 go_backwards=go_backwards)

    @tf.custom_gradient
    def loop(xproj, bias, h0, c0, kernel, extra):
        outputs, h, c, workspace = module.zoo_rnn_forward(
            xproj, bias, h0, c0, kernel, extra, float_mask, dropout, **attrs
        )

        def grad(d_outputs, d_h, d_c):
            d_outputs, d_h, d_c = (
                tf.zeros_like(value) if d is None else d
                for d, value in ((d_outputs, outputs), (d_h, h), (d_c, c))
            )
            (d_xproj, d_bias, d_kernel, d_h0, d_c0,
             d_extra) = module.zoo_rnn_backward(
                h0, c0, kernel, extra, bias, float_mask, dropout, workspace,
                d_outputs, d_h, d_c, **attrs
            )
            return d_xproj, d_bias, d_h0, d_c0, d_kernel, d_extra

        return (outputs, h, c), grad

    outputs, h, c = loop(xproj, bias, h0, c0,
                         tf.convert_to_tensor(cell.recurrent_kernel), extra)
    if mask is None:
        last_output = h
    else:
        # A row with no real step has no output: zeros, as the loop gives.
        any_real = tf.reduce_any(tf.cast(mask, "bool"), axis=1)
        last_output = tf.where(any_real[:, None], h, tf.zeros_like(h))
    states = [h, c] if kind == "lstm" else [h]
    return last_output, outputs, states

