r"""Length bucketing against padding to the maximum length: epoch time.

    python -m bench.padding [--quick] [--examples=4000] [--repeats=5] \
        [--output=bench/results/padding.json]

The data: `--examples` synthetic token sequences (a fixed seed) whose
lengths are skewed, as real text is: log-normal with a median of
`MEDIAN_LENGTH` tokens, rounded up and clipped to [1, `MAX_LENGTH`], so
most sequences are short and a long tail reaches the maximum. Tokens are
ids 1 to `VOCAB - 1` (0 is padding); the label of a sequence is 1 when it
has more "positive" tokens (ids below `VOCAB // 2`) than others, so the
task is learnable and the loss falls.

The model: a many-to-one classifier, `keras.layers.Embedding` with
`mask_zero=True` (padding is masked), a `zoo.layers.StackedRNN` LSTM and a
dense layer, trained with Adam on the cross-entropy.

The pipelines, each one epoch over every example once:

- `bucketed`: the project's own length bucketing,
  `zoo.data.pipeline.id_sequence_stream(..., bucket=True)` (buckets of
  `bucket_boundaries`), each batch padded to its own longest row.
- `max_length`: exactly the same batches, the same rows in the same order,
  but every batch padded to the longest sequence of the data set (the
  global maximum length). Only the padding differs, and the model masks
  padding, so training both from the same initial weights must give the
  same weights and metrics up to float rounding: the benchmark checks this
  and reports the largest absolute difference of the final weights, loss
  and accuracy. The difference in time is the cost of the padding alone.
- `random`: the common case without bucketing, batches of random rows
  (a fixed permutation) padded to the global maximum length. Its batches
  differ, so its metrics do too. Bucketing leaves each bucket's remainder
  as a partly filled batch, so it makes more batches (more training
  steps) than random batching: `max_length` isolates the cost of padding,
  `random` is the comparison a user of unbucketed batches sees.

The batches are built once, before timing, and kept in memory as NumPy
arrays; an epoch is one `train_on_batch` call per batch, for every
pipeline alike (`bucketing_seconds` reports the one pass of the bucketing
pipeline that built them). Each pipeline has its own copy of the model,
all starting from the same weights. Epochs are interleaved (bucketed,
max_length, random, bucketed, ...) so that a change of machine speed hits
every side alike; the first epoch of each traces and is not timed, the
`--repeats` after it are, and the medians are compared: `speedup` is the
median epoch seconds of `max_length` over those of `bucketed`. Each model
keeps training across the epochs, so the reported loss and accuracy are
those of its last epoch (means over its batches).

The padded fraction of a pipeline is the share of padded positions among
all the positions (rows x time steps) it feeds to the recurrent layer in
an epoch: 1 - (real tokens) / (sum over batches of rows x time steps).

`--quick` (a few hundred examples, a small model, one timed epoch) is a
smoke run, not a measurement. The results are printed as a markdown
table and written as JSON.
"""

import statistics
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app
from absl import flags

import bench
from zoo import layers
from zoo.data import pipeline

MAX_LENGTH = 200  # Longest sequence the generator makes.
MEDIAN_LENGTH = 12  # Median of the log-normal lengths, in tokens.
SIGMA = 1.0  # Spread (log scale) of the lengths: the long tail.
VOCAB = 32  # Token ids 1 .. VOCAB - 1; 0 is padding.
BATCH = 64
UNITS = 64
QUICK = dict(examples=300, repeats=1, units=16)
PIPELINES = ("bucketed", "max_length", "random")


def sequence_lengths(count, max_length=MAX_LENGTH, seed=0):
    """`count` skewed lengths in [1, `max_length`]: log-normal, clipped.

    Returns an int64 array; the median is about `MEDIAN_LENGTH`.
    """
    rng = np.random.default_rng(seed)
    lengths = np.ceil(rng.lognormal(np.log(MEDIAN_LENGTH), SIGMA, size=count))
    return np.clip(lengths, 1, max_length).astype(np.int64)


def make_data(count, max_length=MAX_LENGTH, seed=0):
    """Token sequences of `sequence_lengths` and their labels.

    Returns:
        `(sequences, labels)`: a list of `count` int32 arrays of ids in
        [1, VOCAB), and an int32 array `[count]`, 1 where a sequence has
        more ids below `VOCAB // 2` than others.
    """
    rng = np.random.default_rng(seed + 1)
    sequences = [rng.integers(1, VOCAB, size=n).astype(np.int32)
                 for n in sequence_lengths(count, max_length, seed)]
    labels = np.array(
        [2 * np.sum(s < VOCAB // 2) > len(s) for s in sequences], np.int32)
    return sequences, labels


def bucketed_batches(sequences, labels, batch_size=BATCH):
    """The project's length-bucketed batches, as `(x, y)` NumPy pairs.

    `x` is int32 `[batch, time]`, right-padded with 0 to the batch's
    longest row; `y` is int32 `[batch]`.
    """
    # The label rides along as a one-id sequence: bucketing keys on a
    # row's longest sequence, which is the tokens (at least one).
    rows = tf.data.Dataset.from_tensor_slices((
        tf.ragged.constant([s.tolist() for s in sequences], tf.int32,
                           ragged_rank=1),
        tf.constant(np.asarray(labels, np.int32)[:, None]),
    )).map(lambda ids, label: (ids, label))  # Rows as plain tensors.
    dataset = pipeline.id_sequence_stream(
        rows, batch_size, max(len(s) for s in sequences), bucket=True)
    return [(x.numpy(), y.numpy()[:, 0]) for x, y in dataset]


def pad_batches(batches, length):
    """`batches` with every `x` right-padded with 0 to `length` steps.

    Raises:
        ValueError: A batch is longer than `length`.
    """
    padded = []
    for x, y in batches:
        if x.shape[1] > length:
            raise ValueError(
                f"Cannot pad a batch of {x.shape[1]} steps to {length}: "
                "`length` must be at least the longest batch")
        padded.append((np.pad(x, ((0, 0), (0, length - x.shape[1]))), y))
    return padded


def random_batches(sequences, labels, length, batch_size=BATCH, seed=0):
    """Batches of randomly drawn rows, each padded to `length` steps."""
    order = np.random.default_rng(seed).permutation(len(sequences))
    batches = []
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        x = np.zeros((len(rows), length), np.int32)
        for i, row in enumerate(rows):
            x[i, :len(sequences[row])] = sequences[row]
        batches.append((x, labels[rows]))
    return batches


def padded_fraction(batches):
    """Share of padded (0) positions among all positions of `batches`."""
    padding = sum(int(np.sum(x == 0)) for x, _ in batches)
    return padding / sum(x.size for x, _ in batches)


def build(units=UNITS, seed=0):
    """A compiled masked classifier: ids `[batch, time]` -> 2 logits."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, units, mask_zero=True)(inputs)
    x = layers.StackedRNN("lstm", units=units)(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    model.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def train_epoch(model, batches):
    """One `train_on_batch` a batch; returns the epoch's mean metrics.

    The means are over rows (each batch's loss and accuracy weighted by its
    rows), as `model.fit` reports them.
    """
    totals, rows = {}, 0
    for x, y in batches:
        logs = model.train_on_batch(x, y, return_dict=True)
        for name, value in logs.items():
            totals[name] = totals.get(name, 0.0) + float(value) * len(y)
        rows += len(y)
    return {name: total / rows for name, total in totals.items()}


def max_weight_difference(a, b):
    """Largest absolute difference between two models' weights."""
    return max(float(np.max(np.abs(u - v)))
               for u, v in zip(a.get_weights(), b.get_weights()))


def measure(examples, repeats, units=UNITS, batch_size=BATCH, seed=0):
    """Builds the pipelines, trains each, and returns the result dict."""
    sequences, labels = make_data(examples, seed=seed)
    lengths = np.array([len(s) for s in sequences])
    longest = int(lengths.max())
    start = time.perf_counter()
    bucketed = bucketed_batches(sequences, labels, batch_size)
    bucketing_seconds = time.perf_counter() - start
    batches = {
        "bucketed": bucketed,
        "max_length": pad_batches(bucketed, longest),
        "random": random_batches(sequences, labels, longest, batch_size,
                                 seed=seed),
    }
    first = build(units, seed)
    models = {"bucketed": first}
    for name in PIPELINES[1:]:
        models[name] = build(units, seed)
        models[name].set_weights(first.get_weights())
    seconds = {name: [] for name in PIPELINES}
    metrics = {}
    for repeat in range(repeats + 1):  # Epoch 0 traces: not timed.
        for name in PIPELINES:
            start = time.perf_counter()
            metrics[name] = train_epoch(models[name], batches[name])
            if repeat:
                seconds[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(seconds[name]) for name in PIPELINES}
    pipelines = {
        name: {
            "batches": len(batches[name]),
            "positions": sum(x.size for x, _ in batches[name]),
            "padded_fraction": padded_fraction(batches[name]),
            "epoch_seconds": seconds[name],
            "median_epoch_seconds": medians[name],
            "speedup_of_bucketing": medians[name] / medians["bucketed"],
            "loss": metrics[name]["loss"],
            "accuracy": metrics[name]["accuracy"],
        }
        for name in PIPELINES
    }
    same, twin = metrics["bucketed"], metrics["max_length"]
    return {
        "examples": examples,
        "repeats": repeats,
        "epochs": repeats + 1,
        "units": units,
        "batch_size": batch_size,
        "vocab": VOCAB,
        "lengths": {
            "min": int(lengths.min()), "median": float(np.median(lengths)),
            "mean": float(lengths.mean()),
            "p90": float(np.percentile(lengths, 90)), "max": longest,
        },
        "bucketing_seconds": bucketing_seconds,
        "pipelines": pipelines,
        "speedup": medians["max_length"] / medians["bucketed"],
        "max_abs_difference": {
            "loss": abs(same["loss"] - twin["loss"]),
            "accuracy": abs(same["accuracy"] - twin["accuracy"]),
            "weights": max_weight_difference(models["bucketed"],
                                             models["max_length"]),
        },
    }


DESCRIPTIONS = {
    "bucketed": "bucketed, padded to the batch's longest",
    "max_length": "same batches, padded to the maximum length",
    "random": "random batches, padded to the maximum length",
}


def table(result):
    lines = [
        "| pipeline | batches | padded fraction | epoch s (median) | "
        "bucketing speed-up | loss | accuracy |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in PIPELINES:
        r = result["pipelines"][name]
        lines.append(
            f"| {DESCRIPTIONS[name]} | {r['batches']} | "
            f"{r['padded_fraction']:.3f} | {r['median_epoch_seconds']:.2f} | "
            f"{r['speedup_of_bucketing']:.2f} | {r['loss']:.4f} | "
            f"{r['accuracy']:.4f} |")
    return "\n".join(lines)


def summary(result):
    lengths, diff = result["lengths"], result["max_abs_difference"]
    return (
        f"{result['examples']} sequences, lengths {lengths['min']}-"
        f"{lengths['max']} (median {lengths['median']:g}, mean "
        f"{lengths['mean']:.1f}, 90th percentile {lengths['p90']:g}); "
        f"{result['epochs']} epochs each, the first untimed.\n"
        f"Bucketing: {result['speedup']:.2f}x faster epochs than the same "
        "batches padded to the maximum length; max |difference| after "
        f"training: loss {diff['loss']:.2g}, accuracy {diff['accuracy']:.2g}"
        f", weights {diff['weights']:.2g}.\n"
        f"Against random batches padded to the maximum length: "
        f"{result['pipelines']['random']['speedup_of_bucketing']:.2f}x.")


def define_flags(flag_values=flags.FLAGS):
    """Defines the program's flags into `flag_values`.

    Importing this module defines none (as with the recipes), so it can be
    imported beside the other benchmarks, whose flags share these names.
    """
    into = dict(flag_values=flag_values)
    flags.DEFINE_boolean(
        "quick", False, "Few examples, a small model, one timed epoch: a "
        "smoke run (overrides --examples and --repeats).", **into)
    flags.DEFINE_integer("examples", 4000, "Sequences in the synthetic "
                         "data set.", lower_bound=1, **into)
    flags.DEFINE_integer("repeats", 5, "Timed epochs per pipeline (after "
                         "one warm-up epoch).", lower_bound=1, **into)
    flags.DEFINE_string("output", "bench/results/padding.json",
                        "Where the JSON results go.", **into)


def main(argv, flag_values=flags.FLAGS):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    quick, output = flag_values.quick, flag_values.output
    if quick:
        result = measure(**QUICK)
    else:
        result = measure(flag_values.examples, flag_values.repeats)
    result["quick"] = quick
    print(table(result))
    print(summary(result))
    bench.write_json(result, output)


if __name__ == "__main__":
    define_flags()
    app.run(main)
