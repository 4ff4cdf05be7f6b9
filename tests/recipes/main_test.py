"""Tests for zoo.recipes.__main__: `python -m zoo.recipes` lists them."""

import subprocess
import sys

from zoo import recipes


def test_lists_every_recipe_with_its_summary():
    found = subprocess.run([sys.executable, "-m", "zoo.recipes"],
                           capture_output=True, text=True, check=True)
    lines = found.stdout.splitlines()
    assert "python -m zoo.recipes.<name>" in lines[0]
    assert len(lines) == 1 + len(recipes.names())
    for name, line in zip(recipes.names(), lines[1:]):
        assert line.split(None, 1) == [name, recipes.summary(name)]
