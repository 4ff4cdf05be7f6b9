r"""Prints README results-table rows from recipe runs' `metrics.json`.

    python -m bench.report --machine="2-core AMD EPYC VM, no GPU" \
        RECIPE:PRESET:WORKDIR [...]

Each argument names the recipe, the preset (a file in `recipes/RECIPE/`,
or `default`) and the workdir of a finished run; the row shows the command
that reproduces the run, the test accuracy, the wall time from
`metrics.json`, the machine and the date of the metrics file. The README's
numbers are pasted from this output, never typed.
"""

import datetime
import json
import os

from absl import app
from absl import flags

_MACHINE = flags.DEFINE_string("machine", "", "Machine description.")

HEADER = (
    "| recipe | preset | command | test accuracy | wall time | machine | date |\n"
    "|---|---|---|---|---|---|---|"
)


def row(recipe, preset, workdir, machine):
    """One markdown table row for the run in `workdir`."""
    path = os.path.join(workdir, "metrics.json")
    with open(path) as f:
        metrics = json.load(f)
    data = metrics["config"]["data"]
    command = f"python -m zoo.recipes.{recipe}"
    if preset != "default":
        command += f" --flagfile=recipes/{recipe}/{preset}.flags"
    command += f" --data={data}"
    date = datetime.date.fromtimestamp(os.path.getmtime(path)).isoformat()
    minutes, seconds = divmod(round(metrics["wall_seconds"]), 60)
    return (
        f"| {recipe} | {preset} | `{command}` | "
        f"{100 * metrics['test_accuracy']:.2f}% | {minutes} min {seconds:02d} s "
        f"| {machine} | {date} |"
    )


def main(argv):
    print(HEADER)
    for spec in argv[1:]:
        recipe, preset, workdir = spec.split(":", 2)
        print(row(recipe, preset, workdir, _MACHINE.value))


if __name__ == "__main__":
    app.run(main)
