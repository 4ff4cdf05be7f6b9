r"""One recurrent layer alone against PyTorch, and each framework's step cost.

    python -m bench.layer [--cells=lstm,gru] [--steps=5] [--repeats=25]
        [--output=bench/results/layer.json]

`bench.throughput` times whole training steps: its `torch_ratio` mixes
the recurrent layer with what Keras' `train_on_batch` and PyTorch's loop
cost around it. This benchmark splits that ratio in two, at the same
row-by-row MNIST shape (batch 128, 28 steps of 28 inputs, 128 units):

- `layer_ratio`: one unidirectional, unmasked layer alone, forward and
  backward (the gradients of its weights for the sum of its final
  output), zoo's `StackedRNN` in one `tf.function` (the compiled loop
  where it runs) against `torch.nn.LSTM` / `GRU`; zoo's time over
  PyTorch's is inverted so that above 1 means zoo is faster.
- `step_ratio`: the training step of a model with no recurrent layer
  (flatten, one dense layer, Adam, cross-entropy) by Keras'
  `train_on_batch` against PyTorch's loop: what each framework costs per
  step besides the layers, in milliseconds.

Every side runs `--steps` calls per repetition, interleaved in one
process with the side that goes first alternating within each pair, so that a change of
machine speed hits every side alike; the reported ratio is the median of
the per-repetition ratios, after one warm-up repetition. Needs PyTorch
(`pip install '.[bench]'`).
"""

import statistics
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app
from absl import flags

import bench
from bench import throughput
from zoo import layers
from zoo.kernels import rnn as compiled_rnn

CELLS = ("lstm", "gru")


def define_flags(flag_values=flags.FLAGS):
    """Defines the program's flags into `flag_values` (importing defines
    none: the other benchmarks share these names)."""
    into = dict(flag_values=flag_values)
    flags.DEFINE_list("cells", list(CELLS), "Cells to measure: some of "
                      f"{', '.join(CELLS)}.", **into)
    flags.DEFINE_integer("steps", 5, "Calls per side and repetition.",
                         lower_bound=1, **into)
    flags.DEFINE_integer("repeats", 25, "Measured repetitions (after one "
                         "warm-up).", lower_bound=1, **into)
    flags.DEFINE_string("output", "bench/results/layer.json",
                        "Where the JSON results go.", **into)


def zoo_layer_step(cell, batch=throughput.BATCH, units=throughput.UNITS):
    """A function running zoo's layer forward and backward on one batch."""
    layer = layers.StackedRNN(cell, units=units, num_layers=1)
    x = tf.constant(throughput.batch_data(batch)[0])
    layer(x)  # Build.

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x, training=True))
        grads = tape.gradient(loss, layer.trainable_variables)
        return tf.add_n([tf.reduce_sum(g) for g in grads])

    return lambda: step().numpy()


def torch_layer_step(cell, batch=throughput.BATCH, units=throughput.UNITS):
    """A function running PyTorch's module forward and backward."""
    import torch

    torch.manual_seed(0)
    module = getattr(torch.nn, throughput.TORCH_MODULES[cell])(
        throughput.INPUTS, units, batch_first=True)
    x = torch.from_numpy(throughput.batch_data(batch)[0])

    def step():
        for parameter in module.parameters():
            parameter.grad = None
        _, state = module(x)
        h_n = state[0] if isinstance(state, tuple) else state
        h_n[-1].sum().backward()

    return step


def keras_plain_step(batch=throughput.BATCH):
    """`train_on_batch` of a model with no recurrent layer."""
    x, y = throughput.batch_data(batch)
    model = keras.Sequential([
        keras.Input((throughput.TIME, throughput.INPUTS), batch_size=batch),
        keras.layers.Flatten(),
        keras.layers.Dense(throughput.CLASSES),
    ])
    model.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return lambda: model.train_on_batch(x, y)


def torch_plain_step(batch=throughput.BATCH):
    """PyTorch's training step of the same model."""
    import torch

    torch.manual_seed(0)
    x, y = throughput.batch_data(batch)
    module = torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(throughput.TIME * throughput.INPUTS,
                        throughput.CLASSES),
    )
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad()
        loss = loss_fn(module(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        optimizer.step()

    return step


def interleaved(sides, steps, repeats):
    """Milliseconds per call of each of `sides` (`(group, side)` ->
    function): a list per side, one entry per measured repetition. The
    sides of a group take turns going first (`throughput.rotated_order`)."""
    found = {name: [] for name in sides}
    for repeat in range(repeats + 1):
        for name in throughput.rotated_order(list(sides), repeat):
            start = time.perf_counter()
            for _ in range(steps):
                sides[name]()
            if repeat:  # The first repetition traces and warms up.
                found[name].append(
                    (time.perf_counter() - start) / steps * 1e3)
    return found


def median_ratio(numerators, denominators):
    """The median of the per-repetition ratios."""
    return statistics.median(a / b for a, b in zip(numerators, denominators))


def measure(cells, steps, repeats, batch=throughput.BATCH,
            units=throughput.UNITS):
    """Result dicts: one per cell (`layer_ratio`), then the step cost
    (`step_ratio`). Milliseconds are medians over repetitions."""
    sides = {}
    for cell in cells:
        sides[cell, "zoo"] = zoo_layer_step(cell, batch, units)
        sides[cell, "torch"] = torch_layer_step(cell, batch, units)
    sides["step", "keras"] = keras_plain_step(batch)
    sides["step", "torch"] = torch_plain_step(batch)
    found = interleaved(sides, steps, repeats)
    results = []
    for cell in cells:
        zoo, torch_ = found[cell, "zoo"], found[cell, "torch"]
        results.append(dict(
            name=f"{cell} uni unmasked 1 layer, forward and backward",
            zoo_ms=statistics.median(zoo), torch_ms=statistics.median(torch_),
            layer_ratio=median_ratio(torch_, zoo),
        ))
    keras_, torch_ = found["step", "keras"], found["step", "torch"]
    results.append(dict(
        name="training step of a model without recurrent layers",
        keras_ms=statistics.median(keras_), torch_ms=statistics.median(torch_),
        step_ratio=median_ratio(torch_, keras_),
    ))
    return results


def table(results):
    """A Markdown table of `measure`'s results."""
    lines = ["| measured | zoo or Keras ms | PyTorch ms | ratio |",
             "|---|---:|---:|---:|"]
    for r in results:
        ours = r.get("zoo_ms", r.get("keras_ms"))
        ratio = r.get("layer_ratio", r.get("step_ratio"))
        lines.append(f"| {r['name']} | {ours:.2f} | {r['torch_ms']:.2f} | "
                     f"{ratio:.3f}x |")
    return "\n".join(lines)


def main(argv, flag_values=flags.FLAGS):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    bench.check_cells(flag_values.cells, CELLS)
    if not throughput.torch_available():
        raise app.UsageError(
            "bench.layer compares with PyTorch, which is not installed: "
            "pip install '.[bench]'")
    import torch

    kernel = compiled_rnn.ops() is not None
    if not kernel:
        print("zoo's compiled loop is unavailable "
              f"({compiled_rnn.build.unavailable_reason(compiled_rnn.NAME)}): "
              "zoo runs its TensorFlow loop.")
    results = measure(flag_values.cells, flag_values.steps,
                      flag_values.repeats)
    print(table(results))
    bench.write_json(dict(
        shape=dict(batch=throughput.BATCH, time=throughput.TIME,
                   inputs=throughput.INPUTS, units=throughput.UNITS),
        steps=flag_values.steps, repeats=flag_values.repeats, kernel=kernel,
        torch_version=torch.__version__, results=results,
    ), flag_values.output)


if __name__ == "__main__":
    define_flags()
    app.run(main)
