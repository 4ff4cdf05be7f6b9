r"""Recipe epoch times under each dtype policy, interleaved runs.

    python -m bench.precision [--recipes=poetry,translate] \
        [--precisions=float32,mixed_bfloat16] [--rounds=3] [--epochs=3] \
        [--steps_per_epoch=0] [--shared=../shared/data] \
        [--workdir=/tmp/zoo-precision] [--output=bench/results/precision.json]

Each round runs every recipe's bare command on its development corpus
(`DATA`, under `--shared`) once per precision, as a child process, with
only `--precision`, `--epochs` and (when not 0) `--steps_per_epoch`
added, and no export. The order of the precisions turns by one each
round, so that neither always runs first: a machine whose speed drifts
within a session weighs on both alike.

A precision written `PRECISION:loop` (e.g. `float32:loop`) runs that
precision with `ZOO_KERNELS=0` in the child's environment: the recurrent
layers' TensorFlow loop instead of zoo's compiled loop, so that
`--precisions=float32:loop,float32` measures the kernel's before and
after side by side.

Epoch seconds are each run's `metrics.json` `epoch_seconds` (training and
validation); the first epoch of every run is left out, since it traces
the model. Per recipe and precision: the median of the rest, pooled over
rounds; per recipe and precision other than the first: the speed against
the first precision, as the ratio of the pooled medians and as the median
of the rounds' own ratios (each round's runs ran side by side), and the
test result of every run (`RESULT`), which compares the precisions at an
equal, cut budget, not the preset's final result. Printed as a markdown
table and written as JSON.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys

from absl import app
from absl import flags

import bench

# Each recipe's development corpus, under --shared.
DATA = {
    "poetry": "tang_poems/poems.jsonl.gz",
    "translate": "bible_en_es/pairs.tsv",
    "sentiment": "sentence_polarity",
    "tagger": "brown_names",
    "mnist_rnn": "mnist",
}
# The metrics.json entry that is each recipe's test result.
RESULT = {
    "poetry": "test_bpc",
    "translate": "bleu_beam",
    "sentiment": "test_accuracy",
    "tagger": "test_f1",
    "mnist_rnn": "test_accuracy",
}


LOOP_SUFFIX = ":loop"


def split_variant(precision):
    """`"float32:loop"` -> `("float32", True)`; `"float32"` -> `("float32",
    False)`: the recipe's --precision, and whether the kernel is off."""
    if precision.endswith(LOOP_SUFFIX):
        return precision[:-len(LOOP_SUFFIX)], True
    return precision, False


def command(recipe, precision, data, workdir, epochs, steps_per_epoch=0):
    """The recipe's bare command with only the measured settings added."""
    precision = split_variant(precision)[0]
    line = [sys.executable, "-m", f"zoo.recipes.{recipe}", f"--data={data}",
            f"--workdir={workdir}", "--export_dir=",
            f"--precision={precision}", f"--epochs={epochs}"]
    if steps_per_epoch:
        line.append(f"--steps_per_epoch={steps_per_epoch}")
    return line


def run(line, workdir, loop=False):
    """Runs one recipe command in a fresh `workdir` (with `loop`, zoo's
    compiled kernels off); its `metrics.json`."""
    shutil.rmtree(workdir, ignore_errors=True)
    env = dict(os.environ)
    env.pop("ZOO_KERNELS", None)  # Not inherited: the variant decides.
    if loop:
        env["ZOO_KERNELS"] = "0"
    done = subprocess.run(line, capture_output=True, text=True, env=env)
    if done.returncode:
        raise RuntimeError(f"{' '.join(line)} failed:\n"
                           f"{done.stderr[-3000:]}")
    with open(os.path.join(workdir, "metrics.json")) as f:
        return json.load(f)


def orders(precisions, rounds):
    """The precisions' order in each round: turned by one every round."""
    return [precisions[r % len(precisions):] + precisions[:r % len(precisions)]
            for r in range(rounds)]


def summarise(recipe, runs, precisions):
    """One row per precision from `runs` (dicts of `round`, `precision`,
    `epoch_seconds`): pooled median epoch (first epochs left out), and
    against `precisions[0]` the ratio of medians and the median of the
    rounds' own ratios.

    Raises:
        ValueError: A run with fewer than two epochs (nothing is left
            once the traced first epoch is out).
    """
    for one in runs:
        if len(one["epoch_seconds"]) < 2:
            raise ValueError(
                f"{recipe} ({one['precision']}) ran "
                f"{len(one['epoch_seconds'])} epoch(s); the first traces "
                "the model and is left out, so at least 2 are needed")
    medians, per_round = {}, {}
    for precision in precisions:
        mine = [one for one in runs if one["precision"] == precision]
        medians[precision] = statistics.median(
            s for one in mine for s in one["epoch_seconds"][1:])
        per_round[precision] = {
            one["round"]: statistics.median(one["epoch_seconds"][1:])
            for one in mine}
    reference = precisions[0]
    rows = []
    for precision in precisions:
        ratios = [per_round[reference][r] / seconds
                  for r, seconds in per_round[precision].items()
                  if r in per_round[reference]]
        rows.append({
            "recipe": recipe, "precision": precision,
            "median_epoch_seconds": medians[precision],
            "speed": medians[reference] / medians[precision],
            "median_round_speed": statistics.median(ratios),
            "results": [one["result"] for one in runs
                        if one["precision"] == precision],
        })
    return rows


def measure(recipe, precisions, rounds, epochs, steps_per_epoch, shared,
            workdir):
    """Every run of `recipe`, interleaved (see `orders`)."""
    data = os.path.join(shared, DATA[recipe])
    if not os.path.exists(data):
        raise FileNotFoundError(f"{recipe}: no development data at {data}")
    runs = []
    for r, order in enumerate(orders(precisions, rounds)):
        for precision in order:
            folder = os.path.join(workdir, f"{recipe}-{precision}")
            metrics = run(command(recipe, precision, data, folder, epochs,
                                  steps_per_epoch), folder,
                          loop=split_variant(precision)[1])
            one = {"round": r, "precision": precision,
                   "ran": metrics["precision"],
                   "epoch_seconds": metrics["epoch_seconds"],
                   "result": metrics.get(RESULT[recipe])}
            runs.append(one)
            print(f"{recipe} round {r} {precision}: epochs "
                  + ", ".join(f"{s:.1f}" for s in one["epoch_seconds"])
                  + f" s; {RESULT[recipe]} {one['result']}", flush=True)
            shutil.rmtree(folder, ignore_errors=True)
    return runs


def table(rows):
    lines = ["| recipe | precision | median epoch (s) | speed | median "
             "round speed | results |", "|---|---|---|---|---|---|"]
    for row in rows:
        results = ", ".join(f"{r:.4g}" if r is not None else "-"
                            for r in row["results"])
        lines.append(
            f"| {row['recipe']} | {row['precision']} | "
            f"{row['median_epoch_seconds']:.1f} | {row['speed']:.2f}x | "
            f"{row['median_round_speed']:.2f}x | {results} |")
    return "\n".join(lines)


def define_flags(flag_values=flags.FLAGS):
    """Defines the program's flags into `flag_values` (none at import)."""
    into = dict(flag_values=flag_values)
    flags.DEFINE_list("recipes", ["poetry", "translate"],
                      f"Recipes to measure, of {', '.join(DATA)}.", **into)
    flags.DEFINE_list("precisions", ["float32", "mixed_bfloat16"],
                      "Precisions to run; speeds are against the first. "
                      "PRECISION:loop runs it with zoo's compiled kernels "
                      "off.", **into)
    flags.DEFINE_integer("rounds", 3, "Runs per recipe and precision.",
                         lower_bound=1, **into)
    flags.DEFINE_integer("epochs", 3, "Epochs of each run (the first is "
                         "left out).", lower_bound=2, **into)
    flags.DEFINE_integer("steps_per_epoch", 0, "Training steps per epoch; "
                         "0: the preset's.", lower_bound=0, **into)
    flags.DEFINE_string("shared", "../shared/data", "The development "
                        "corpora's folder.", **into)
    flags.DEFINE_string("workdir", "/tmp/zoo-precision", "Where the runs "
                        "are written (and deleted after).", **into)
    flags.DEFINE_string("output", "bench/results/precision.json",
                        "Where the JSON results go.", **into)


def main(argv, flag_values=flags.FLAGS):
    from zoo.training import precision as zoo_precision

    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    unknown = sorted(set(flag_values.recipes) - set(DATA))
    if unknown or not flag_values.recipes:
        raise app.UsageError(
            f"--recipes must name some of {', '.join(DATA)}, got "
            f"{flag_values.recipes}")
    bad = sorted({split_variant(p)[0] for p in flag_values.precisions}
                 - set(zoo_precision.PRECISIONS))
    if bad or not flag_values.precisions:
        raise app.UsageError(
            f"--precisions must name some of "
            f"{', '.join(zoo_precision.PRECISIONS)}, got "
            f"{flag_values.precisions}")
    rows, runs = [], {}
    for recipe in flag_values.recipes:
        try:
            runs[recipe] = measure(
                recipe, flag_values.precisions, flag_values.rounds,
                flag_values.epochs, flag_values.steps_per_epoch,
                flag_values.shared, flag_values.workdir)
        except FileNotFoundError as error:
            raise app.UsageError(str(error))
        rows += summarise(recipe, runs[recipe], flag_values.precisions)
    print(table(rows))
    bench.write_json(
        {"rounds": flag_values.rounds, "epochs": flag_values.epochs,
         "steps_per_epoch": flag_values.steps_per_epoch, "rows": rows,
         "runs": runs}, flag_values.output)


if __name__ == "__main__":
    define_flags()
    app.run(main)
