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
    assert not re.search(r"RESULTS_TABLE|TODO|TBD|@@", read("README.md"))


def test_readme_counts_the_malformed_files_the_loaders_are_given():
    total = 0
    for name in ("mnist", "labelled_text", "conll", "pairs", "poems"):
        path = os.path.join(REPO, "tests", "data", f"{name}_test.py")
        spec = importlib.util.spec_from_file_location(f"_{name}_cases", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        total += len(module.MALFORMED_FILES)
    assert f"**{total} malformed files**" in read("README.md")


def user_sections():
    """The README up to its section for contributors."""
    return read("README.md").split("\n## For contributors", 1)[0]


def recipe_commands():
    """`(recipe, [arguments])` of each recipe command in the user sections,
    continuation lines joined."""
    text = user_sections().replace("\\\n", " ")
    found = re.findall(r"python -m zoo\.recipes\.(\w+)((?:[ \t]+--[\w-]+"
                       r"(?:=\S+)?)*)", text)
    return [(name, args.split()) for name, args in found]


def test_user_sections_need_no_development_corpora():
    assert "../shared" not in user_sections()


def test_every_recipe_command_names_flags_the_recipe_has(monkeypatch):
    from absl import flags

    from zoo import recipes
    from zoo.training import flags as zoo_flags

    monkeypatch.chdir(REPO)  # Presets are named from the repository root.
    commands = recipe_commands()
    assert {name for name, _ in commands} == set(recipes.names())
    for name, args in commands:
        defined = flags.FlagValues()
        zoo_flags.define_flags(recipes.get(name).Config, defined)
        args = [a for a in args if a not in ("--helpshort", "--helpfull")]
        defined(["prog", *args])  # Raises on a flag the recipe lacks.


def test_every_python_snippet_parses():
    snippets = re.findall(r"```python\n(.*?)```", read("README.md"), re.S)
    assert len(snippets) >= 5
    for snippet in snippets:
        compile(snippet, "README.md", "exec")
