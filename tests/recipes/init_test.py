"""Tests for zoo.recipes: the registry of recipes."""

import os
import subprocess
import sys

import pytest

from zoo import recipes

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_every_recipe_module_is_registered():
    folder = os.path.join(REPO, "zoo", "recipes")
    modules = {f[:-3] for f in os.listdir(folder)
               if f.endswith(".py") and not f.startswith("_")}
    assert set(recipes.names()) == modules


def test_get_returns_the_module_with_its_program_parts():
    module = recipes.get("sentiment")
    assert module.__name__ == "zoo.recipes.sentiment"
    assert callable(module.train_and_evaluate) and module.Config.WORKDIR
    assert recipes.get(module) is module


def test_task_is_the_recipes_task_class():
    from zoo import training

    for name in recipes.names():
        task = recipes.task(name)
        assert issubclass(task, training.Task)
        assert task.__module__ == f"zoo.recipes.{name}"
        assert task.Config is recipes.get(name).Config
    assert recipes.task("tagger").__name__ == "Tagger"


def test_a_module_without_one_task_is_refused(monkeypatch):
    import types

    module = types.ModuleType("zoo.recipes.empty")
    with pytest.raises(ValueError, match="zoo.recipes.empty defines 0 Task "
                       "classes; a recipe defines one"):
        recipes.task(module)


@pytest.mark.parametrize("get", [recipes.get, recipes.summary,
                                 recipes.task])
def test_an_unknown_name_lists_the_known_ones(get):
    with pytest.raises(ValueError, match=r"Unknown recipe 'langid'; known "
                       r"recipes: mnist_rnn, sentiment, tagger, translate, "
                       r"poetry"):
        get("langid")


def test_summary_is_the_docstring_first_line_without_importing_it():
    code = ("import sys; from zoo import recipes; "
            "print(recipes.summary('tagger')); "
            "print('tensorflow' in sys.modules)")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True,
                           text=True, check=True, cwd=REPO)
    first, imported = found.stdout.splitlines()
    assert first == recipes.get("tagger").__doc__.splitlines()[0]
    assert imported == "False"
