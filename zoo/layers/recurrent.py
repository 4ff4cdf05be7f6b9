"""The masked recurrent layer: runs any cell over time."""

import os

import keras
import tensorflow as tf
from keras import ops

from zoo import cells as cells_lib
from zoo import compat
from zoo import utils
from zoo.kernels import rnn as compiled_rnn

# Keras' RNN loop and its fused kernels (cuDNN on a GPU) live behind a
# private module, the one its own RNN layers call (see zoo.compat). The
# fused kernels raise NotImplementedError wherever they cannot run: our
# signal to take the loop.
_keras_backend = compat.keras_backend()

USE_FUSED_CHOICES = ("auto", True, False)
USE_KERNEL_CHOICES = ("auto", True, False)

# `batch_shards="auto"` gives each row block at least MIN_SHARD_ROWS rows
# and MIN_SHARD_WORK multiply-adds of recurrent product a step; on less,
# a second loop's per-step overhead outweighs the second core (measured
# on 2 cores: an LSTM of 128 units gains from 2 x 64 rows, a SimpleRNN of
# 128 units loses).
MIN_SHARD_ROWS = 8
MIN_SHARD_WORK = 2**21


def cpu_count():
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # Not on Linux.
        return os.cpu_count() or 1


def block_sizes(batch, shards, min_batch=0):
    """Rows of each of `shards` blocks: `[shards]` int32, summing to `batch`.

    Sizes differ by at most one row (5 rows in 2 blocks: `[3, 2]`); a
    batch smaller than `min_batch` goes whole to the first block
    (`[batch, 0, ...]`).
    """
    batch = tf.convert_to_tensor(batch, "int32")
    balanced = batch // shards + tf.cast(
        tf.range(shards) < batch % shards, "int32"
    )
    # Not `tf.one_hot` of a scalar: tf2onnx cannot convert it.
    whole = tf.where(tf.range(shards) == 0, batch, 0)
    return tf.where(batch >= min_batch, balanced, whole)


def _check_batch_shards(value):
    if value == "auto" and isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            "Received an invalid value for argument `batch_shards`, expected "
            f"'auto' or a positive integer, got {value!r}"
        )
    return value


def _fused_reason(cell):
    """Why `cell` cannot use Keras' fused kernel, or None if it can."""
    if isinstance(cell, cells_lib.LSTMCell):
        if cell.use_peepholes or cell.cell_clip is not None:
            return "peephole connections and cell clipping have no fused kernel"
    elif isinstance(cell, cells_lib.GRUCell):
        if not cell.reset_after:
            return "the fused GRU kernel needs `reset_after=True`"
    else:
        return f"no fused kernel exists for {type(cell).__name__}"
    # Only zoo's LSTM and GRU cells get here: other cells (any layer with
    # the cell contract) need not have activation attributes.
    tanh_sigmoid = (
        cell.activation is keras.activations.tanh
        and cell.recurrent_activation is keras.activations.sigmoid
    )
    if not tanh_sigmoid:
        return "the fused kernels need tanh and sigmoid activations"
    if not cell.use_bias:
        return "the fused kernels need `use_bias=True`"
    return None


def _is_right_padded(mask):
    """True where every row of `mask` is a non-empty run of Trues, then Falses."""
    lengths = ops.sum(ops.cast(mask, "int32"), axis=1)
    positions = ops.arange(ops.shape(mask)[1])
    right_padded = positions[None, :] < lengths[:, None]
    return ops.logical_and(
        ops.all(ops.equal(right_padded, mask)), ops.all(lengths > 0)
    )


@keras.saving.register_keras_serializable(package="zoo")
class Recurrent(keras.layers.Layer):
    """Runs a recurrent cell over the time axis, honouring any mask.

    Masked steps (mask False) leave the state untouched and emit zeros, so a
    row gives exactly the outputs of its unpadded sequence whatever the
    padding: on the right, on the left, in the middle, or the whole row (a
    fully padded row returns the initial state and zeros).

    Implementation: with `use_fused="auto"` the layer hands cells that
    Keras' built-in layers support (`LSTMCell` without peepholes or
    clipping, `GRUCell` with `reset_after=True`, tanh/sigmoid, with bias,
    no recurrent dropout) to Keras' fused kernel (cuDNN, on a GPU) when the
    mask allows it (right-padded, no empty row, which is all cuDNN
    accepts), and runs the generic loop over the cell otherwise. On a CPU
    the generic loop is what Keras' built-in layers run too, one step after
    another on one core; this layer splits the batch into `batch_shards`
    row blocks and runs one loop per block, side by side, one per core.
    Rows never interact, so the results are those of one loop.

    In training on a CPU, with `use_kernel="auto"`, zoo's `SimpleRNNCell`,
    `LSTMCell` and `GRUCell` (any options, tanh/sigmoid, float32) take
    zoo's compiled loop
    instead (`zoo.kernels.rnn`, built from source on first use; one row
    block per thread of TensorFlow's intra-op pool), with the same results
    and gradients. Outside training (`evaluate`, `predict`, exported
    models) the TensorFlow loop runs, so an export holds only core
    TensorFlow ops.

    Args:
        cell: A cell name from `zoo.cells.names()`, a serialized cell, or a
            cell instance (any layer following Keras' cell contract whose
            first state is its output).
        units: Positive integer; required when `cell` is a name.
        return_sequences: Return the output of every step
            `[batch, time, units]` instead of the last one `[batch, units]`.
            Default: `False`.
        return_state: Also return the final states. Default: `False`.
        go_backwards: Process the sequence in reverse and return the
            sequence of outputs in processing order (Keras' convention,
            which `keras.layers.Bidirectional` relies on). Default: `False`.
        dropout: Fraction of input features dropped in training, with one
            mask for all steps of a sequence (Gal & Ghahramani, 2016).
        recurrent_dropout: Fraction of the hidden state dropped where it
            enters the recurrent product, one mask per sequence.
        use_fused: `"auto"` (use the fused kernel when it can run, else the
            loop), `True` (raise if it cannot; a mask that is not
            right-padded, or has an empty row, fails with an
            `InvalidArgumentError`), or `False` (always loop).
        seed: Optional integer seed for the dropout masks.
        batch_shards: Row blocks the generic loop runs in parallel:
            `"auto"` (one per CPU core, or per core this layer has to
            itself inside `zoo.layers.Bidirectional`, when each block gets
            enough rows, see `MIN_SHARD_ROWS` and `MIN_SHARD_WORK`;
            otherwise one loop), or a positive integer (that many blocks,
            whatever the batch; 1 = one loop). Does not affect the fused
            kernel nor the compiled loop.
        use_kernel: `"auto"` (in training, take the compiled loop where it
            can run; else the loop above), `True` (raise where it cannot,
            in training), or `False` (never). Where the kernel cannot be
            built, "auto" logs one line saying why and loops.
        **kwargs: Base layer keyword arguments.

    Call arguments:
        inputs: `[batch, time, features]`.
        initial_state: Optional list of `[batch, state_size]` tensors;
            zeros by default.
        mask: Optional boolean `[batch, time]`, True for real steps. Padded
            steps are skipped (state carried) and emit zeros.
        training: Whether dropout is active.

    Returns:
        The last output `[batch, units]` (the output of the last real step),
        or all outputs `[batch, time, units]`; with `return_state`, a list
        `[output, *final_states]`.

    Example:

    >>> layer = Recurrent("lstm", units=4, return_sequences=True)
    >>> x = keras.ops.ones((2, 5, 3))
    >>> mask = keras.ops.array([[True] * 5, [False, False, True, True, True]])
    >>> tuple(layer(x, mask=mask).shape)
    (2, 5, 4)

    References:
        Gal & Ghahramani, "A Theoretically Grounded Application of Dropout
        in Recurrent Neural Networks", NeurIPS 2016.
    """

    def __init__(
        self,
        cell,
        units=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        dropout=0.0,
        recurrent_dropout=0.0,
        use_fused="auto",
        seed=None,
        batch_shards="auto",
        use_kernel="auto",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(cell, str):
            if units is None:
                raise ValueError(
                    "Received an invalid value for argument `units`, "
                    f"expected a positive integer with cell {cell!r}, "
                    "got None"
                )
            cell = cells_lib.get(cell, units=units)
        elif units is not None:
            raise ValueError(
                "Received an invalid value for argument `units`, expected "
                "None when `cell` is not a name (the cell has its own), "
                f"got {units!r}"
            )
        self.cell = cells_lib.get(cell)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.dropout = utils.check_fraction("dropout", dropout)
        self.recurrent_dropout = utils.check_fraction(
            "recurrent_dropout", recurrent_dropout
        )
        self.use_fused = utils.check_choice(
            "use_fused", use_fused, USE_FUSED_CHOICES
        )
        self.seed = seed
        self.batch_shards = _check_batch_shards(batch_shards)
        self.use_kernel = utils.check_choice(
            "use_kernel", use_kernel, USE_KERNEL_CHOICES
        )
        # XLA cannot compile the compiled loop's op: Keras then trains
        # without XLA (with a warning where `jit_compile=True` was asked).
        self.supports_jit = self.use_kernel is False
        # How many such layers run at the same time (2 inside
        # zoo.layers.Bidirectional); "auto" shards share the cores among them.
        self.side_by_side = 1
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True
        # Read by keras.layers.Bidirectional; state is never kept across
        # batches, so there are no state variables (`states`, as in
        # keras.layers.RNN, which Bidirectional.compute_mask reads).
        self.stateful = False
        self.states = None
        if self.use_kernel is True:
            reason = compiled_rnn.unsupported_reason(
                self.cell, self.dtype_policy.compute_dtype
            )
            if reason is not None:
                raise ValueError(
                    "Received an invalid value for argument `use_kernel`: "
                    f"True cannot be honoured because {reason}"
                )
        if self.use_fused is True:
            reason = _fused_reason(self.cell)
            if reason is None and self.recurrent_dropout:
                reason = "the fused kernels have no recurrent dropout"
            if reason is not None:
                raise ValueError(
                    "Received an invalid value for argument `use_fused`: "
                    f"True cannot be honoured because {reason}"
                )

    @property
    def units(self):
        return self.cell.output_size

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                "Recurrent expects inputs of rank 3 [batch, time, features], "
                f"got shape {tuple(input_shape)}"
            )
        if not self.cell.built:
            self.cell.build((input_shape[0], input_shape[-1]))

    def compute_output_shape(self, input_shape):
        batch, time = input_shape[0], input_shape[1]
        if self.return_sequences:
            output_shape = (batch, time, self.units)
        else:
            output_shape = (batch, self.units)
        if not self.return_state:
            return output_shape
        # A tuple, as keras.layers.RNN returns: keras.layers.Bidirectional
        # concatenates it with tuples.
        return (output_shape, *[(batch, s) for s in self._state_sizes()])

    def compute_mask(self, inputs, mask=None):
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self._state_sizes())
        return output_mask

    def _state_sizes(self):
        size = self.cell.state_size
        return list(size) if isinstance(size, (list, tuple)) else [size]

    def call(self, inputs, initial_state=None, mask=None, training=False):
        batch = ops.shape(inputs)[0]
        if initial_state is None:
            initial_state = self.cell.get_initial_state(batch_size=batch)
        initial_state = list(initial_state)
        if mask is not None:
            mask = ops.cast(mask, "bool")
        if training and self.dropout:
            # One mask per sequence, shared by all steps: [batch, 1, features].
            inputs = keras.random.dropout(
                inputs,
                self.dropout,
                noise_shape=(batch, 1, ops.shape(inputs)[-1]),
                seed=self.seed_generator,
            )
        recurrent_mask = None
        if training and self.recurrent_dropout:
            recurrent_mask = keras.random.dropout(
                ops.ones((batch, self.units), dtype=inputs.dtype),
                self.recurrent_dropout,
                seed=self.seed_generator,
            )

        result = None
        if training and self.use_kernel is not False:
            result = self._try_kernel(
                inputs, initial_state, mask, recurrent_mask
            )
        if result is None and self.use_fused is not False and recurrent_mask is None:
            result = self._try_fused(inputs, initial_state, mask)
        if result is None:
            result = self._sharded_loop(
                inputs, initial_state, mask, recurrent_mask
            )
        last_output, outputs, states = result
        output = outputs if self.return_sequences else last_output
        if self.return_state:
            return [output] + list(states)
        return output

    def _sharded_loop(self, inputs, initial_state, mask, recurrent_mask):
        """`_loop`, run on `batch_shards` row blocks side by side."""
        args = (inputs, initial_state, mask, recurrent_mask)
        if self.batch_shards != "auto":
            if self.batch_shards == 1:
                return self._loop(*args)
            return self._loop_shards(*args, shards=self.batch_shards)
        # Layers that run side by side (the two directions of a
        # Bidirectional) already share the cores. The count is fixed when
        # the layer is traced: a SavedModel keeps the exporting machine's.
        shards = max(1, cpu_count() // self.side_by_side)
        if shards == 1:
            return self._loop(*args)
        enough = shards * self._min_shard_rows()
        if inputs.shape[0] is not None and inputs.shape[0] < enough:
            return self._loop(*args)
        # A batch size known only when the graph runs is split then: too
        # small a batch goes whole to the first block, and the other
        # blocks' loops run on no rows.
        return self._loop_shards(*args, shards=shards, min_batch=enough)

    def _min_shard_rows(self):
        """The fewest rows a block needs under `batch_shards="auto"`."""
        kernel = getattr(self.cell, "recurrent_kernel", None)
        if kernel is None or None in tuple(kernel.shape):
            return MIN_SHARD_ROWS
        # A row's recurrent product a step: [units] @ [units, gates * units].
        work = int(kernel.shape[0]) * int(kernel.shape[1])
        return max(MIN_SHARD_ROWS, -(-MIN_SHARD_WORK // work))

    def _loop_shards(self, inputs, initial_state, mask, recurrent_mask,
                     shards, min_batch=0):
        """Splits the batch into `shards` row blocks, loops, concatenates.

        The blocks' loops do not depend on each other, so TensorFlow's
        inter-op threads run them at the same time.
        """
        sizes = block_sizes(tf.shape(inputs)[0], shards, min_batch)

        def split(tensor):
            if tensor is None:
                return [None] * shards
            return tf.split(tensor, sizes, axis=0, num=shards)

        blocks = zip(
            split(inputs),
            zip(*[split(state) for state in initial_state]),
            split(mask),
            split(recurrent_mask),
        )
        # Where the batch size is unknown until the graph runs, a block
        # may get no rows; its loop then runs one step, not all of them.
        trim = inputs.shape[0] is None
        results, output_steps = [], None
        for i, (x, states, m, r) in enumerate(blocks):
            rows = tf.shape(x)[0]
            if trim and i:
                steps = tf.where(rows > 0, tf.shape(x)[1], 1)
                x = x[:, :steps]
                m = None if m is None else m[:, :steps]
            last, outputs, states = self._loop(x, list(states), m, r)
            if output_steps is None:
                output_steps = tf.shape(outputs)[1]
            # An empty block's [0, 1, units] outputs as [0, time, units].
            outputs = tf.reshape(outputs, [rows, output_steps, self.units])
            results.append((last, outputs, states))
        last_outputs, outputs, states = zip(*results)
        return (
            tf.concat(last_outputs, axis=0),
            tf.concat(outputs, axis=0),
            [tf.concat(s, axis=0) for s in zip(*states)],
        )

    def _loop(self, inputs, initial_state, mask, recurrent_mask):
        """The generic loop: one cell call a step (Keras' own RNN loop)."""
        cell_kwargs = {}
        if recurrent_mask is not None:
            cell_kwargs["recurrent_dropout_mask"] = recurrent_mask

        def step(x_t, states):
            output, new_states = self.cell(x_t, list(states), **cell_kwargs)
            if not isinstance(new_states, (list, tuple)):
                new_states = [new_states]
            return output, list(new_states)

        # Masked steps carry the state and the previous output, so the last
        # output is that of the last real step.
        last_output, outputs, states = _keras_backend.rnn(
            step,
            inputs,
            initial_state,
            go_backwards=self.go_backwards,
            mask=mask,
            zero_output_for_mask=False,
            return_all_outputs=self.return_sequences,
        )
        if self.return_sequences and mask is not None:
            # Padded steps emit zeros. Outputs are in processing order, so a
            # backward layer's mask is flipped along time: [batch, time, 1].
            step_mask = ops.flip(mask, axis=1) if self.go_backwards else mask
            # expand_dims, not [:, :, None]: LiteRT's converter cannot
            # add an axis to a bool tensor by slicing when the batch size
            # is unknown.
            outputs = ops.where(ops.expand_dims(step_mask, -1), outputs, 0.0)
        return last_output, outputs, list(states)

    def _try_kernel(self, inputs, initial_state, mask, recurrent_mask):
        """zoo's compiled loop, or None where it cannot run here."""
        reason = compiled_rnn.unsupported_reason(self.cell, inputs.dtype)
        if reason is None and self.use_fused is True:
            reason = "`use_fused=True` asks for Keras' fused kernel"
        if reason is None and any(
            state.dtype != "float32" for state in initial_state
        ):
            reason = "the compiled loop needs float32 initial states"
        if reason is None and tf.config.list_logical_devices("GPU"):
            reason = "it runs on the CPU and a GPU is present"
        if reason is None and compiled_rnn.ops() is None:
            reason = ("it is unavailable: "
                      f"{compiled_rnn.build.unavailable_reason(compiled_rnn.NAME)}")
        if reason is None:
            return compiled_rnn.run(
                self.cell, inputs, initial_state, mask, recurrent_mask,
                self.go_backwards,
            )
        if self.use_kernel is True:
            raise ValueError(
                "Received an invalid value for argument `use_kernel`: True "
                f"cannot be honoured because {reason}"
            )
        return None

    def _try_fused(self, inputs, initial_state, mask):
        """Keras' fused kernel, or None where it cannot run here."""
        reason = _fused_reason(self.cell)
        if reason is None:
            try:
                return self._fused(inputs, initial_state, mask)
            except NotImplementedError:
                reason = "Keras' fused kernel needs a GPU with cuDNN"
        if self.use_fused is True:
            raise ValueError(
                "Received an invalid value for argument `use_fused`: True "
                f"cannot be honoured because {reason}"
            )
        return None

    def _fused(self, inputs, initial_state, mask):
        cell = self.cell
        common = dict(
            kernel=cell.kernel,
            recurrent_kernel=cell.recurrent_kernel,
            bias=cell.bias,
            activation=cell.activation,
            recurrent_activation=cell.recurrent_activation,
            return_sequences=self.return_sequences,
            go_backwards=self.go_backwards,
        )

        def fused():
            if isinstance(cell, cells_lib.LSTMCell):
                h0, c0 = initial_state
                return _keras_backend.lstm(inputs, h0, c0, mask, **common)
            return _keras_backend.gru(
                inputs, initial_state[0], mask, reset_after=True, **common
            )

        if mask is None:
            last, outputs, states = fused()
        elif self.use_fused is True:
            tf.debugging.Assert(
                _is_right_padded(mask),
                ["use_fused=True: cuDNN accepts only right-padded masks with "
                 "no empty row; use use_fused='auto' for other masks"],
            )
            last, outputs, states = fused()
        else:
            # cuDNN accepts only right-padded masks without empty rows;
            # any other mask takes the generic loop.
            last, outputs, states = ops.cond(
                _is_right_padded(mask),
                fused,
                lambda: self._loop(inputs, initial_state, mask, None),
            )
        return last, outputs, list(states)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "cell": keras.saving.serialize_keras_object(self.cell),
                "return_sequences": self.return_sequences,
                "return_state": self.return_state,
                "go_backwards": self.go_backwards,
                "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout,
                "use_fused": self.use_fused,
                "seed": self.seed,
                "batch_shards": self.batch_shards,
                "use_kernel": self.use_kernel,
            }
        )
        return config
