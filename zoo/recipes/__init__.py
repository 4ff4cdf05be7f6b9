"""Runnable recipes: `python -m zoo.recipes.<name>`.

`python -m zoo.recipes` lists them, one line each; `get(name)` returns a
recipe's module (its `Config`, `train_and_evaluate` and model builders),
`task(name)` its `zoo.training.Task` class.
"""

import ast
import importlib
import importlib.util
import types

# The recipes, in the order the README presents them.
RECIPES = ("mnist_rnn", "sentiment", "tagger", "translate", "poetry")


def names():
    """The recipe names `get()` accepts."""
    return list(RECIPES)


def _module_name(name):
    if name not in RECIPES:
        raise ValueError(
            f"Unknown recipe {name!r}; known recipes: {', '.join(RECIPES)}"
        )
    return f"{__name__}.{name}"


def get(identifier):
    """Returns a recipe's module from its name (or the module itself).

    Raises:
        ValueError: For an unknown name, listing the known ones.
    """
    if isinstance(identifier, types.ModuleType):
        return identifier
    return importlib.import_module(_module_name(identifier))


def summary(name):
    """The first line of recipe `name`'s docstring, read without importing
    it (a recipe imports TensorFlow).

    Raises:
        ValueError: For an unknown name, listing the known ones.
    """
    spec = importlib.util.find_spec(_module_name(name))
    with open(spec.origin, encoding="utf-8") as f:
        docstring = ast.get_docstring(ast.parse(f.read())) or ""
    return docstring.strip().splitlines()[0] if docstring.strip() else ""


def task(identifier):
    """A recipe's `zoo.training.Task` subclass (the one its module defines),
    from its name or module.

    Raises:
        ValueError: For an unknown name, listing the known ones.
    """
    from zoo import training

    module = get(identifier)
    found = [value for value in vars(module).values()
             if isinstance(value, type) and issubclass(value, training.Task)
             and value.__module__ == module.__name__]
    if len(found) != 1:
        raise ValueError(f"{module.__name__} defines {len(found)} Task "
                         "classes; a recipe defines one")
    return found[0]

