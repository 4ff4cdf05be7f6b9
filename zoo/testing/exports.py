"""Tiny untrained exports of every recipe, for tests of the served models.

Each recipe's own `zoo.training.Task` (`zoo.recipes.task(name)`) builds
its export the way `zoo.training.run` does, without training: tiny data
files in the recipe's format are written to a folder, and the task's
`data`, `adapt`, `build`, `endpoints` and `track` run with a tiny config
(`TINY`: 2-5 units; the weights are random, which does not matter to a
test of the serving code). The texts are a few fixed English sentences
(`ENGLISH`) and Tang poems (`POEMS`).

Example:

    exported = export_all("/tmp/exports")  # {recipe: version folder}
    tiny = build("sentiment")
    tiny.endpoints["serving_default"]  # (fn, [tf.TensorSpec]), in process.
"""

import collections
import os
import re
import tempfile

from zoo import export as export_lib
from zoo import recipes as zoo_recipes
from zoo import testing
from zoo.training import precision

RECIPES = tuple(zoo_recipes.names())
ENGLISH = (
    "The film is a quiet delight from start to finish.",
    "I would not watch it again, even for free.",
    "John Smith flew from London to New York on Monday.",
    "Where is the nearest train station?",
    "She gave him the book yesterday afternoon.",
    "The acting is wooden and the plot makes no sense at all.",
    "Thank you very much for your help.",
    "The European Union agreed on new rules for banks last week.",
)
POEMS = (
    "床前明月光，疑是地上霜。举头望明月，低头思故乡。",
    "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。",
    "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。",
    "千山鸟飞绝，万径人踪灭。孤舟蓑笠翁，独钓寒江雪。",
)
TAG_NAMES = ("B-X", "I-X", "O")
CLASS_NAMES = ("neg", "pos")
# The translator's beam width (its presets' default).
BEAM_WIDTH = 5
# Each recipe's tiny settings (beside `data`).
_NO_DROPOUT = dict(dropout=0.0, recurrent_dropout=0.0)
TINY = {
    "mnist_rnn": dict(units=3, **_NO_DROPOUT),
    "sentiment": dict(units=3, embedding_dim=4, max_tokens=50,
                      bigram_tokens=0, max_length=12, embedding_dropout=0.0,
                      output_dropout=0.0, **_NO_DROPOUT),
    "tagger": dict(units=3, embedding_dim=4, max_tokens=80, min_count=1,
                   char_filters=0, embedding_dropout=0.0, output_dropout=0.0,
                   **_NO_DROPOUT),
    "translate": dict(units=3, embedding_dim=4, attention_units=3,
                      source_tokens=80, target_tokens=80, min_count=1,
                      max_length=6, test_size=1, beam_width=BEAM_WIDTH,
                      embedding_dropout=0.0, output_dropout=0.0,
                      **_NO_DROPOUT),
    # float32 whatever the preset's --precision=auto picks on this machine
    # (`build(..., precision=...)` asks for another).
    "poetry": dict(units=3, embedding_dim=4, max_tokens=120, test_size=1,
                   output_dropout=0.0, precision="float32", **_NO_DROPOUT),
}

# What a recipe exports: the model, its endpoints (signature name ->
# `(fn, [tf.TensorSpec])`, callable in process), the layers outside the
# model that the endpoints use and its portable core (`zoo.export.Portable`).
Tiny = collections.namedtuple("Tiny", ["model", "endpoints", "track",
                                       "portable"])


def words(sentence):
    """A sentence's tokens: words (with their apostrophes) and punctuation.

    >>> words("I wouldn't, would you?")
    ['I', "wouldn't", ',', 'would', 'you', '?']
    """
    return re.findall(r"[\w']+|[^\w\s]", sentence)


def _lines(path, lines):
    return testing.write_file(path, "".join(f"{line}\n" for line in lines))


def write_data(recipe, folder):
    """Writes the tiny corpus of `recipe` in its format under `folder`;
    returns its `--data`."""
    folder = os.path.join(str(folder), f"{recipe}_data")
    os.makedirs(folder, exist_ok=True)
    if recipe == "mnist_rnn":
        testing.write_mnist_idx(folder, train_size=16, test_size=4)
        return folder
    if recipe == "sentiment":
        rows = [f"{CLASS_NAMES[i % 2]}\t{s}" for i, s in enumerate(ENGLISH)]
        for split in ("train", "test"):
            _lines(os.path.join(folder, f"{split}.tsv"), rows)
        return folder
    if recipe == "tagger":
        lines = []
        for sentence in ENGLISH:
            lines += [f"{w}\t{TAG_NAMES[i % 3]}"
                      for i, w in enumerate(words(sentence))] + [""]
        for split in ("train", "dev", "test"):
            _lines(os.path.join(folder, f"{split}.conll"), lines)
        return folder
    if recipe == "translate":
        # Every sentence twice: the held-out test pair is in training too.
        return _lines(os.path.join(folder, "pairs.tsv"),
                      [f"{s}\t{s}" for s in ENGLISH * 2])
    if recipe == "poetry":
        import json

        return _lines(os.path.join(folder, "poems.jsonl"), [
            json.dumps({"paragraphs": [poem]}, ensure_ascii=False)
            for poem in POEMS * 2])
    raise ValueError(f"Received an unknown recipe {recipe!r}, expected one "
                     f"of {', '.join(RECIPES)}")


def build(recipe, folder=None, **overrides):
    """The recipe's tiny model and endpoints, a `Tiny`, built by its Task.

    Args:
        recipe: One of `RECIPES`.
        folder: Where the tiny corpus and its records go (default: a new
            temporary folder).
        overrides: Settings beside `TINY[recipe]` (`precision`, say: the
            model is built under that dtype policy, as a run builds it).

    Raises:
        ValueError: `recipe` is not one of `RECIPES`.
    """
    if recipe not in RECIPES:
        raise ValueError(f"Received an unknown recipe {recipe!r}, expected "
                         f"one of {', '.join(RECIPES)}")
    folder = str(folder or tempfile.mkdtemp(prefix=f"zoo_{recipe}_"))
    task = zoo_recipes.task(recipe)()
    config = task.Config(data=write_data(recipe, folder),
                         **{**TINY[recipe], **overrides})
    workdir = os.path.join(folder, f"{recipe}_work")
    os.makedirs(workdir, exist_ok=True)
    data = task.data(config, workdir)
    task.adapt(config, data.train)
    with precision.applied(config.precision):  # As `zoo.training.run`.
        model = task.build(config)
        return Tiny(model, task.endpoints(model, config), task.track(model),
                    task.portable(precision.float32_copy(model), config))


def export(tiny, root, formats=()):
    """Exports a `Tiny` as the next version under `root`, with its portable
    models in `formats` (of `zoo.export.PORTABLE_FORMATS`); returns its
    path."""
    return export_lib.export_saved_model(
        tiny.model, tiny.endpoints, root, track=tiny.track,
        portable=tiny.portable if formats else None, formats=formats)


def _exporter(recipe):
    def export_recipe(root, formats=()):
        return export(build(recipe), root, formats)

    export_recipe.__name__ = f"export_{recipe}"
    export_recipe.__doc__ = (f"Exports a tiny {recipe} model under `root` "
                             "(with portable models in `formats`); returns "
                             "the version folder.")
    return export_recipe


# Recipe -> `fn(root)` exporting its tiny model; returns the version folder.
EXPORTERS = {recipe: _exporter(recipe) for recipe in RECIPES}


def export_all(root, recipes=RECIPES, formats=()):
    """Exports every recipe's tiny model to `<root>/<recipe>/<version>/`.

    Args:
        root: Export root (TensorFlow Serving layout, one folder per
            recipe).
        recipes: The recipes to export. Default: all of them.
        formats: Portable formats written beside each SavedModel (of
            `zoo.export.PORTABLE_FORMATS`; needs `pip install '.[export]'`
            for onnx). Default: none.

    Returns:
        Dict recipe -> the version folder written.
    """
    return {recipe: EXPORTERS[recipe](os.path.join(str(root), recipe),
                                      formats)
            for recipe in recipes}
