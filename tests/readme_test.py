"""The README's quick start is what CI and users actually run."""

import importlib.util
import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(*parts):
    with open(os.path.join(REPO, *parts)) as f:
        return f.read()


def quick_start_commands():
    section = read("README.md").split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [line.strip() for line in section.splitlines() if line.startswith("    pip")]


def test_quick_start_is_two_commands_install_and_run():
    install_and_run, install_and_test = quick_start_commands()
    assert install_and_run == "pip install . && python -m zoo.recipes.mnist_rnn"
    assert install_and_test == "pip install '.[test]' && python -m pytest"


def test_ci_runs_the_readme_test_command():
    ci_commands = [
        line.strip() for line in read(".ci", "run").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert quick_start_commands()[1] == ci_commands[-1]


def test_readme_has_no_unfilled_placeholders():
    assert not re.search(r"RESULTS_TABLE|TODO|TBD", read("README.md"))


def test_readme_counts_the_malformed_files_the_loaders_are_given():
    total = 0
    for name in ("mnist", "labelled_text", "conll", "pairs", "poems"):
        path = os.path.join(REPO, "tests", "data", f"{name}_test.py")
        spec = importlib.util.spec_from_file_location(f"_{name}_cases", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        total += len(module.MALFORMED_FILES)
    assert f"**{total} malformed files**" in read("README.md")
