"""Benchmarks and result reports: `python -m bench.<name>`."""

import json
import os

from absl import app


def write_json(payload, path):
    """Writes a benchmark's results to `path` (folders made as needed)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(payload, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"Wrote {path}")


def check_cells(cells, known):
    """Raises `app.UsageError` unless `cells` (the `--cells` flag) names
    one or more of `known`."""
    if not cells or set(cells) - set(known):
        raise app.UsageError(
            f"--cells must name some of {', '.join(known)}; got "
            f"{','.join(cells)!r}")
