r"""Prints README results-table rows from recipe runs' `metrics.json`.

    python -m bench.report --machine="2-core AMD EPYC VM, no GPU" \
        RECIPE:PRESET:WORKDIR [...]

Each argument names the recipe, the preset (a file in `recipes/RECIPE/`
without `.flags`, or `default`) and the workdir of a finished run. A row
is printed only for a run whose settings are exactly the preset's (any
data, workdir and export folder), that ran from start to end in one
process (so its wall time is whole), on real data (not the offline
fallback). The row shows the command that reproduces the run, the test
result (accuracy; a tagger's per token; a translator's BLEU; a language
model's bits per character beside its baselines; a classical baseline's
result; the epoch tested and how many were trained), the wall
time, the machine and the date the run finished. The
README's numbers are pasted from this output, never typed.
"""

import datetime
import importlib
import json
import os

from absl import app
from absl import flags

from zoo.training import flags as zoo_flags

_MACHINE = flags.DEFINE_string("machine", "", "Machine description.")

HEADER = (
    "| recipe | preset | command | test result | wall time | machine | date |\n"
    "|---|---|---|---|---|---|---|"
)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Where a run reads data and writes results: free to differ from a preset.
PLACES = {"data", "workdir", "export_dir", "tfds_data_dir"}


class ReportError(ValueError):
    """A run that must not stand in the results table."""


def preset_config(recipe, preset):
    """The config a recipe's preset (or its bare command) runs with."""
    module = importlib.import_module(f"zoo.recipes.{recipe}")
    flag_values = flags.FlagValues()
    zoo_flags.define_flags(module.Config, flag_values)
    argv = ["prog"]
    if preset != "default":
        argv.append(f"--flagfile=recipes/{recipe}/{preset}.flags")
    cwd = os.getcwd()
    os.chdir(REPO)  # Nested --flagfile paths are relative to the repo root.
    try:
        flag_values(argv)
    finally:
        os.chdir(cwd)
    return zoo_flags.config_from_flags(module.Config, flag_values)


def row(recipe, preset, workdir, machine):
    """One markdown table row for the run in `workdir`.

    Raises:
        ReportError: The run is not the preset's, was resumed, or trained
            on the offline fallback data.
    """
    path = os.path.join(workdir, "metrics.json")
    with open(path) as f:
        metrics = json.load(f)
    ran = metrics["config"]
    expected = vars(preset_config(recipe, preset))
    differences = sorted(
        k for k in set(ran) | set(expected)
        if k not in PLACES and ran.get(k) != expected.get(k)
    )
    if differences:
        raise ReportError(
            f"{path}: not the {preset} preset; differs in "
            + ", ".join(f"{k}={ran.get(k)!r}" for k in differences)
        )
    if metrics.get("resumed_from_epoch"):
        raise ReportError(f"{path}: resumed run; its wall time is partial")
    if metrics.get("data_is_fallback"):
        raise ReportError(f"{path}: trained on the offline fallback data")
    command = f"python -m zoo.recipes.{recipe}"
    if preset != "default":
        command += f" --flagfile=recipes/{recipe}/{preset}.flags"
    command += f" --data={ran['data']}"
    if "finished_at" in metrics:
        date = metrics["finished_at"][:10]
    else:  # Runs from before `finished_at` was recorded.
        date = datetime.date.fromtimestamp(os.path.getmtime(path)).isoformat()
    minutes, seconds = divmod(round(metrics["wall_seconds"]), 60)
    result = _result(metrics, path)
    if metrics.get("best_epoch"):
        result += f"; epoch {metrics['best_epoch']} of {metrics['epochs']}"
    return (
        f"| {recipe} | {preset} | `{command}` | {result} | "
        f"{minutes} min {seconds:02d} s "
        f"| {machine} | {date} |"
    )


def _result(metrics, path):
    """The test accuracy (a tagger's per token, and entity F1 if any), a
    translator's BLEU (greedy and beam search) and chrF, or a language
    model's bits per character and its share of the unigram baseline's."""
    if "test_bpc" in metrics:
        return (
            f"{metrics['test_bpc']:.3f} bits/char ("
            f"{100 * metrics['test_bpc'] / metrics['unigram_bpc']:.1f}% of "
            f"unigram {metrics['unigram_bpc']:.3f}; bigram "
            f"{metrics['bigram_bpc']:.3f})"
        )
    if "bleu_beam" in metrics:
        width = metrics["config"]["beam_width"]
        return (
            f"BLEU {metrics['bleu_greedy']:.2f} greedy, "
            f"{metrics['bleu_beam']:.2f} beam {width} "
            f"(chrF {metrics['chrf_beam']:.1f})"
        )
    accuracy = metrics.get("test_accuracy", metrics.get("test_token_accuracy"))
    if accuracy is None:
        raise ReportError(
            f"{path}: holds no test_accuracy, test_token_accuracy, "
            "bleu_beam or test_bpc"
        )
    shown = f"{100 * accuracy:.2f}%"
    if "test_f1" in metrics:
        shown += f" (entity F1 {100 * metrics['test_f1']:.2f}%)"
    baseline = metrics.get("baseline") or {}
    base = baseline.get("accuracy", baseline.get("token_accuracy"))
    if base is not None:
        shown += f"; baseline {100 * base:.2f}%"
        if "f1" in baseline:
            shown += f" (entity F1 {100 * baseline['f1']:.2f}%)"
    return shown


def main(argv):
    print(HEADER)
    for spec in argv[1:]:
        recipe, preset, workdir = spec.split(":", 2)
        print(row(recipe, preset, workdir, _MACHINE.value))


if __name__ == "__main__":
    app.run(main)
