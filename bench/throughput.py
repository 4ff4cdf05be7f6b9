r"""Training throughput of zoo's recurrent blocks against Keras' and PyTorch's.

    python -m bench.throughput [--quick] [--precisions=float32,mixed_bfloat16]
        [--output=bench/results/throughput.json]

Every configuration (cell, direction, mask, depth) is one small classifier
at the row-by-row MNIST shape (batch 128, 28 steps of 28 inputs, 128
units, 10 classes), built twice: with `zoo.layers.StackedRNN` and with
the Keras built-in layer of the same cell (`keras.layers.LSTM`, `GRU`,
`SimpleRNN`; the peephole LSTM, which Keras lacks, is compared with
Keras' plain LSTM). When PyTorch is installed (`pip install '.[bench]'`,
the CPU build of torch 2.13.0), a third model of the same shape is
built with `torch.nn.RNN`, `LSTM` or `GRU` (masked rows are packed with
`pack_padded_sequence`; the peephole LSTM has no PyTorch counterpart)
and trained with the same optimizer and loss. Each model trains
`--steps` batches per repetition; the repetitions are interleaved (A B A
B ...) so that a change of machine speed hits every side alike, and the
side that goes first rotates from one repetition to the next. The
medians are compared: `ratio` is zoo samples/s over Keras samples/s,
`torch_ratio` zoo over PyTorch. The first repetition traces and is not
counted.

`--precisions` repeats every configuration under each Keras dtype policy
(`float32`, `mixed_bfloat16`, `mixed_float16`; `auto` is the policy
`--precision=auto` picks on this machine): the zoo and Keras models of a
row are built under the same policy, so `ratio` compares like with like,
and each row's `speedup` is its zoo samples/s over the same
configuration's in float32 (when float32 is measured too). PyTorch runs
in float32 only: its rows under a mixed policy have no PyTorch side.

Where zoo's compiled loop (`zoo.kernels`) runs here, the float32 rows
get a fourth side, the same zoo model with `use_kernel=False` (the
TensorFlow loop): `kernel_speedup` is the zoo side over it, the kernel's
before and after in one run. The peephole LSTM's float32 rows get one
more side, zoo's plain LSTM of the same configuration:
`peephole_ratio` is the peephole LSTM's samples/s over it, measured in
the same rotation (rows that run minutes apart carry the machine's
drift).

The GEMM ceiling of the machine (a large matrix product) is measured in
float32, and in bfloat16 when a bfloat16 policy is measured, with the
samples/s an LSTM training step would reach at the float32 one (forward
and backward, about 3 x 2 x time x 4 x units x (inputs + units) FLOP per
sample).

`--cells` keeps the configurations of some cells only. `--quick` runs two
configurations for a few steps: a smoke run, not a measurement. The results are printed as a table and written as JSON.
"""

import importlib.util
import itertools
import statistics
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app
from absl import flags

import bench
from zoo import layers
from zoo.kernels import rnn as compiled_rnn
from zoo.training import precision as precision_lib



def define_flags(flag_values=flags.FLAGS):
    """Defines the program's flags into `flag_values`.

    Importing this module defines none, so it can be imported beside the
    other benchmarks, whose flags share these names.
    """
    into = dict(flag_values=flag_values)
    flags.DEFINE_boolean("quick", False, "Two configurations, few steps: a "
                         "smoke run.", **into)
    flags.DEFINE_integer("steps", 20, "Training batches per repetition.",
                         lower_bound=1, **into)
    flags.DEFINE_integer("repeats", 5, "Measured repetitions per model "
                         "(after one warm-up).", lower_bound=1, **into)
    flags.DEFINE_list("cells", list(CELLS), "Cells whose configurations "
                      f"run: some of {', '.join(CELLS)}.", **into)
    flags.DEFINE_list("precisions", ["float32"], "Dtype policies to measure "
                      "every configuration under: "
                      f"{', '.join(precision_lib.PRECISIONS)}.", **into)
    flags.DEFINE_string("output", "bench/results/throughput.json",
                        "Where the JSON results go.", **into)


BATCH, TIME, INPUTS, UNITS, CLASSES = 128, 28, 28, 128, 10
CELLS = ("simple_rnn", "lstm", "peephole_lstm", "gru")
TORCH_MODULES = {  # Names in torch.nn; the peephole LSTM has none.
    "simple_rnn": "RNN",
    "lstm": "LSTM",
    "gru": "GRU",
}
KERAS_LAYERS = {
    "simple_rnn": keras.layers.SimpleRNN,
    "lstm": keras.layers.LSTM,
    "peephole_lstm": keras.layers.LSTM,  # Keras has no peephole LSTM.
    "gru": keras.layers.GRU,
}


def configurations(quick=False, cells=CELLS):
    """Dicts of cell, bidirectional, masked and layers to compare (of
    `cells` only; `quick` ignores it)."""
    if quick:
        return [
            dict(cell="lstm", bidirectional=False, masked=False, layers=1),
            dict(cell="gru", bidirectional=True, masked=True, layers=1),
        ]
    return [
        dict(cell=c, bidirectional=b, masked=m, layers=n)
        for c, b, m, n in itertools.product(
            cells, (False, True), (False, True), (1, 2)
        )
    ]


def name(config):
    return (f"{config['cell']} {'bi' if config['bidirectional'] else 'uni'} "
            f"{'masked' if config['masked'] else 'unmasked'} "
            f"{config['layers']} layer{'s' if config['layers'] > 1 else ''}")


def build(config, zoo, batch=BATCH, units=UNITS, use_kernel="auto"):
    """A compiled classifier `[batch, TIME, INPUTS]` -> `CLASSES` logits
    (`use_kernel` is the zoo layers' argument)."""
    inputs = keras.Input(shape=(TIME, INPUTS), batch_size=batch)
    x = inputs
    if config["masked"]:
        # All-zero rows are padding: the data pads every row's end.
        x = keras.layers.Masking(0.0)(x)
    if zoo:
        x = layers.StackedRNN(
            config["cell"], units=units, num_layers=config["layers"],
            bidirectional=config["bidirectional"], use_kernel=use_kernel,
        )(x)
    else:
        for index in range(config["layers"]):
            last = index == config["layers"] - 1
            layer = KERAS_LAYERS[config["cell"]](
                units, return_sequences=not last
            )
            if config["bidirectional"]:
                layer = keras.layers.Bidirectional(layer)
            x = layer(x)
    model = keras.Model(inputs, keras.layers.Dense(CLASSES)(x))
    model.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def batch_data(batch=BATCH, seed=0):
    """Random inputs with the last rows of each sequence zeroed (padding)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, TIME, INPUTS)).astype("float32")
    lengths = rng.integers(TIME // 2, TIME + 1, size=batch)
    x[np.arange(TIME)[None, :] >= lengths[:, None]] = 0.0
    y = rng.integers(0, CLASSES, size=batch)
    return x, y


def torch_available():
    return importlib.util.find_spec("torch") is not None


def build_torch(config, batch=BATCH, units=UNITS, seed=0):
    """The PyTorch twin of `build(config)`: a module and its training step.

    Returns `(module, train_step)`, where `train_step(x, y)` takes the
    NumPy batch of `batch_data` and runs one Adam step, or None when
    PyTorch has no module for `config["cell"]`.
    """
    import torch

    if config["cell"] not in TORCH_MODULES:
        return None
    torch.manual_seed(seed)

    class Classifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            rnn = getattr(torch.nn, TORCH_MODULES[config["cell"]])
            self.rnn = rnn(INPUTS, units, num_layers=config["layers"],
                           bidirectional=config["bidirectional"],
                           batch_first=True)
            self.directions = 2 if config["bidirectional"] else 1
            self.out = torch.nn.Linear(self.directions * units, CLASSES)

        def forward(self, x, lengths=None):
            if lengths is not None:
                x = torch.nn.utils.rnn.pack_padded_sequence(
                    x, lengths, batch_first=True, enforce_sorted=False)
            _, state = self.rnn(x)
            h_n = state[0] if isinstance(state, tuple) else state
            # h_n [layers * directions, batch, units]: the last layer's
            # final states (forward, then backward), as Keras concatenates.
            last = torch.cat(list(h_n[-self.directions:]), dim=-1)
            return self.out(last)

    module = Classifier()
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def train_step(x, y):
        lengths = None
        if config["masked"]:
            # Rows are real steps then all-zero padding (see batch_data).
            lengths = torch.from_numpy(np.any(x != 0, axis=-1).sum(1))
        optimizer.zero_grad()
        loss = loss_fn(module(torch.from_numpy(x), lengths),
                       torch.from_numpy(y))
        loss.backward()
        optimizer.step()

    return module, train_step


def time_steps(train_step, x, y, steps):
    """Samples per second of `steps` calls of `train_step(x, y)`."""
    start = time.perf_counter()
    for _ in range(steps):
        train_step(x, y)
    return steps * len(x) / (time.perf_counter() - start)


def gemm_ceiling(size=2048, repeats=5, dtype="float32"):
    """GFLOP/s of a `size` x `size` matrix product in `dtype` (median)."""
    a = tf.random.normal([size, size], dtype=dtype)
    b = tf.random.normal([size, size], dtype=dtype)
    product = tf.function(lambda a, b: tf.matmul(a, b))
    product(a, b).numpy()  # Trace and warm up.
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        product(a, b).numpy()
        seconds.append(time.perf_counter() - start)
    return 2 * size ** 3 / statistics.median(seconds) / 1e9


def lstm_flop_per_sample(time_steps_=TIME, inputs=INPUTS, units=UNITS):
    """Training FLOP of one LSTM sample: 3 x (forward gate products)."""
    return 3 * 2 * time_steps_ * 4 * units * (inputs + units)


def rotated_order(keys, repeat):
    """`(config, side)` keys in run order for repetition `repeat`.

    Configurations run in turn; within one, the sides take turns going
    first (zoo keras torch, keras torch zoo, ...), so that no side always
    runs right after another one, whatever that one leaves behind
    (caches, threads winding down).
    """
    order = []
    for config in dict.fromkeys(key[0] for key in keys):
        sides = [key for key in keys if key[0] == config]
        shift = repeat % len(sides)
        order.extend(sides[shift:] + sides[:shift])
    return order


def measure(configs, steps, repeats, batch=BATCH, units=UNITS,
            with_torch=False, precisions=("float32",), with_loop=False,
            with_plain=False):
    """Interleaved medians; returns one result dict per configuration and
    precision (a Keras dtype policy), configuration by configuration.

    With `with_torch`, float32 configurations that PyTorch has get a third
    side; their results carry `torch_samples_per_second` and `torch_ratio`
    (None where PyTorch has no such model or the policy is mixed). With
    float32 among `precisions`, every result carries `speedup`: its zoo
    samples/s over the float32 one of the same configuration. With
    `with_loop`, float32 configurations also run zoo's model with
    `use_kernel=False`: `loop_samples_per_second` and `kernel_speedup`.
    With `with_plain`, float32 peephole LSTM configurations also run zoo's
    plain LSTM: `plain_samples_per_second` and `peephole_ratio` (None in
    other rows).
    """
    x, y = batch_data(batch)
    rows = [(i, policy) for i in range(len(configs)) for policy in precisions]
    steps_of = {}
    for row in rows:
        config = configs[row[0]]
        with precision_lib.policy_scope(row[1]):
            for side in ("zoo", "keras"):
                steps_of[row, side] = build(
                    config, side == "zoo", batch, units).train_on_batch
        if with_loop and row[1] == "float32":
            steps_of[row, "zoo_loop"] = build(
                config, True, batch, units, use_kernel=False).train_on_batch
        if (with_plain and row[1] == "float32"
                and config["cell"] == "peephole_lstm"):
            steps_of[row, "zoo_plain"] = build(
                {**config, "cell": "lstm"}, True, batch, units).train_on_batch
        if with_torch and row[1] == "float32":
            twin = build_torch(config, batch, units)
            if twin is not None:
                steps_of[row, "torch"] = twin[1]
    found = {key: [] for key in steps_of}
    for repeat in range(repeats + 1):  # Repetition 0 traces: not counted.
        for key in rotated_order(list(steps_of), repeat):
            speed = time_steps(steps_of[key], x, y, steps)
            if repeat:
                found[key].append(speed)
    results = []
    for row in rows:
        config = configs[row[0]]
        zoo = statistics.median(found[row, "zoo"])
        keras_ = statistics.median(found[row, "keras"])
        result = {**config, "name": name(config), "precision": row[1],
                  "zoo_samples_per_second": zoo,
                  "keras_samples_per_second": keras_,
                  "ratio": zoo / keras_}
        if "float32" in precisions:
            result["speedup"] = zoo / statistics.median(
                found[(row[0], "float32"), "zoo"])
        if with_loop:
            loop = (statistics.median(found[row, "zoo_loop"])
                    if (row, "zoo_loop") in found else None)
            result["loop_samples_per_second"] = loop
            result["kernel_speedup"] = zoo / loop if loop else None
        if with_plain:
            plain = (statistics.median(found[row, "zoo_plain"])
                     if (row, "zoo_plain") in found else None)
            result["plain_samples_per_second"] = plain
            result["peephole_ratio"] = zoo / plain if plain else None
        if with_torch:
            torch_ = (statistics.median(found[row, "torch"])
                      if (row, "torch") in found else None)
            result["torch_samples_per_second"] = torch_
            result["torch_ratio"] = zoo / torch_ if torch_ else None
        results.append(result)
    return results


def table(results):
    """A Markdown table of `measure`'s results; the precision and speedup
    columns appear when a mixed policy was measured."""
    with_torch = any("torch_ratio" in r for r in results)
    with_loop = any("kernel_speedup" in r for r in results)
    with_plain = any(r.get("peephole_ratio") for r in results)
    mixed = any(r.get("precision", "float32") != "float32" for r in results)
    speedup = mixed and any("speedup" in r for r in results)
    header = "| configuration |"
    if mixed:
        header += " precision |"
    header += " zoo samples/s | Keras samples/s | ratio |"
    if speedup:
        header += " zoo / zoo float32 |"
    if with_torch:
        header += " PyTorch samples/s | zoo / PyTorch |"
    if with_loop:
        header += " zoo loop samples/s | kernel speedup |"
    if with_plain:
        header += " zoo plain LSTM samples/s | peephole / plain |"
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for r in results:
        line = f"| {r['name']} |"
        if mixed:
            line += f" {r.get('precision', 'float32')} |"
        line += (f" {r['zoo_samples_per_second']:.0f} | "
                 f"{r['keras_samples_per_second']:.0f} | {r['ratio']:.2f} |")
        if speedup:
            line += (f" {r['speedup']:.2f} |" if "speedup" in r else " - |")
        if with_torch:
            line += _measured_cells(r.get("torch_samples_per_second"),
                                    r.get("torch_ratio"))
        if with_loop:
            line += _measured_cells(r.get("loop_samples_per_second"),
                                    r.get("kernel_speedup"))
        if with_plain:
            line += _measured_cells(r.get("plain_samples_per_second"),
                                    r.get("peephole_ratio"))
        lines.append(line)
    return "\n".join(lines)


def _measured_cells(samples, ratio):
    """A side's two table cells, samples/s and ratio; dashes where that
    side did not run."""
    if ratio is None:
        return " - | - |"
    return f" {samples:.0f} | {ratio:.2f} |"


def policies(precisions):
    """The Keras dtype policies `--precisions` names, in order, once each
    (`auto` is the one `--precision=auto` picks here).

    Raises:
        app.UsageError: An unknown or empty precision list.
    """
    found = []
    for precision in precisions:
        try:
            policy = precision_lib.choose(precision)[0]
        except ValueError:
            raise app.UsageError(
                f"--precisions: unknown precision {precision!r}; expected "
                f"some of {', '.join(precision_lib.PRECISIONS)}") from None
        if policy not in found:
            found.append(policy)
    if not found:
        raise app.UsageError("--precisions: name at least one precision")
    return found


def _torch_version():
    import torch

    return torch.__version__


def main(argv, flag_values=flags.FLAGS):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    quick, output = flag_values.quick, flag_values.output
    precisions = policies(flag_values.precisions)
    bench.check_cells(flag_values.cells, CELLS)
    steps = 2 if quick else flag_values.steps
    repeats = 2 if quick else flag_values.repeats
    size = 512 if quick else 2048
    ceiling = gemm_ceiling(size=size)
    bfloat16_ceiling = (gemm_ceiling(size=size, dtype="bfloat16")
                        if "mixed_bfloat16" in precisions else None)
    with_torch = torch_available()
    if not with_torch:
        print("PyTorch is not installed (pip install '.[bench]'): comparing "
              "with Keras only.")
    kernel_missing = compiled_rnn.ops() is None
    if kernel_missing:
        print("zoo's compiled loop is unavailable "
              f"({compiled_rnn.build.unavailable_reason(compiled_rnn.NAME)}): "
              "zoo runs its TensorFlow loop.")
    results = measure(configurations(quick, flag_values.cells), steps,
                      repeats, with_torch=with_torch, precisions=precisions,
                      with_loop=not kernel_missing, with_plain=True)
    payload = {
        "shape": dict(batch=BATCH, time=TIME, inputs=INPUTS, units=UNITS,
                      classes=CLASSES),
        "steps": steps,
        "repeats": repeats,
        "quick": quick,
        "precisions": precisions,
        "torch_version": _torch_version() if with_torch else None,
        "kernel": not kernel_missing,
        "gemm_gflops": ceiling,
        "bfloat16_gemm_gflops": bfloat16_ceiling,
        "lstm_samples_per_second_at_ceiling":
            ceiling * 1e9 / lstm_flop_per_sample(),
        "results": results,
    }
    print(table(results))
    print(f"float32 GEMM: {ceiling:.0f} GFLOP/s; an LSTM training step at "
          f"that speed: {payload['lstm_samples_per_second_at_ceiling']:.0f} "
          "samples/s")
    for r in results:
        if r["name"] == "lstm uni unmasked 1 layer" and (
                r["precision"] == "float32"):
            share = (r["zoo_samples_per_second"]
                     / payload["lstm_samples_per_second_at_ceiling"])
            payload["lstm_share_of_ceiling"] = share
            print(f"{r['name']}: {share:.0%} of that")
    if bfloat16_ceiling:
        print(f"bfloat16 GEMM: {bfloat16_ceiling:.0f} GFLOP/s")
    bench.write_json(payload, output)


if __name__ == "__main__":
    define_flags()
    app.run(main)
