"""Tiny untrained exports of every recipe, for tests of the served models.

Each recipe's own functions build a tiny model (2-5 units, untrained:
the weights do not matter to a test of the serving code) and its
`serving_endpoints` give the signatures, as `train_and_evaluate` does
after training; `export` writes it with `zoo.export.export_saved_model`.
The text vocabularies are fit on a few fixed English sentences
(`ENGLISH`) and Tang poems (`POEMS`).

Example:

    exported = export_all("/tmp/exports")  # {recipe: version folder}
    tiny = build("sentiment")
    tiny.endpoints["serving_default"]  # (fn, [tf.TensorSpec]), in process.
"""

import collections
import os
import re

import tensorflow as tf

from zoo import export as export_lib
from zoo import recipes as zoo_recipes
from zoo.recipes import mnist_rnn
from zoo.recipes import poetry
from zoo.recipes import sentiment
from zoo.recipes import tagger
from zoo.recipes import translate

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
TAG_NAMES = ("O", "B-X", "I-X")
CLASS_NAMES = ("neg", "pos")
# The translator's beam width (its presets' default).
BEAM_WIDTH = 5

# What a recipe exports: the model, its endpoints (signature name ->
# `(fn, [tf.TensorSpec])`, callable in process) and the layers outside the
# model that the endpoints use.
Tiny = collections.namedtuple("Tiny", ["model", "endpoints", "track"])


def words(sentence):
    """A sentence's tokens: words (with their apostrophes) and punctuation.

    >>> words("I wouldn't, would you?")
    ['I', "wouldn't", ',', 'would', 'you', '?']
    """
    return re.findall(r"[\w']+|[^\w\s]", sentence)


def build_mnist_rnn():
    config = mnist_rnn.Config(units=3, dropout=0.0, recurrent_dropout=0.0)
    model = mnist_rnn.build_model(config)
    return Tiny(model, mnist_rnn.serving_endpoints(model), [])


def build_sentiment():
    config = sentiment.Config(units=3, embedding_dim=4, max_tokens=50,
                              bigram_tokens=0, max_length=12, dropout=0.0,
                              embedding_dropout=0.0, output_dropout=0.0)
    tokenizers = sentiment.make_tokenizers(config, ENGLISH)
    model = sentiment.build_model(config, tokenizers, len(CLASS_NAMES))
    return Tiny(model, sentiment.serving_endpoints(model, list(CLASS_NAMES)),
                [])


def build_tagger():
    config = tagger.Config(units=3, embedding_dim=4, max_tokens=80,
                           min_count=1, char_filters=0, dropout=0.0,
                           embedding_dropout=0.0, output_dropout=0.0)
    vocabularies = tagger.make_vocabularies(
        config, [words(s) for s in ENGLISH])
    model = tagger.build_model(config, vocabularies, len(TAG_NAMES))
    return Tiny(model, tagger.serving_endpoints(model, list(TAG_NAMES)), [])


def build_translate(beam_width=BEAM_WIDTH):
    config = translate.Config(units=3, embedding_dim=4, attention_units=3,
                              source_tokens=80, target_tokens=80, min_count=1,
                              max_length=6, dropout=0.0,
                              embedding_dropout=0.0, output_dropout=0.0)
    source, target = translate.make_vocabularies(config, ENGLISH, ENGLISH)
    source(tf.constant(ENGLISH))  # Built, as training leaves it.
    model = translate.build_model(config, len(source.get_vocabulary()),
                                  len(target.get_vocabulary()))
    seq2seq = translate.Seq2Seq(model, config, source,
                                target.get_vocabulary())
    return Tiny(model, translate.serving_endpoints(seq2seq, beam_width),
                [source])


def build_poetry():
    config = poetry.Config(units=3, embedding_dim=4, max_tokens=120,
                           output_dropout=0.0)
    layer = poetry.make_text_layer(config, POEMS)
    model = poetry.build_model(config, len(layer.get_vocabulary()))
    layer(tf.constant(POEMS))  # Built, as training leaves it.
    poet = poetry.Poet(model, layer, poems=True)
    return Tiny(model, poetry.serving_endpoints(poet), [layer])


BUILDERS = {
    "mnist_rnn": build_mnist_rnn,
    "sentiment": build_sentiment,
    "tagger": build_tagger,
    "translate": build_translate,
    "poetry": build_poetry,
}


def build(recipe):
    """The recipe's tiny model and endpoints, a `Tiny`.

    Raises:
        ValueError: `recipe` is not one of `RECIPES`.
    """
    if recipe not in BUILDERS:
        raise ValueError(f"Received an unknown recipe {recipe!r}, expected "
                         f"one of {', '.join(RECIPES)}")
    return BUILDERS[recipe]()


def export(tiny, root):
    """Exports a `Tiny` as the next version under `root`; returns its path."""
    return export_lib.export_saved_model(tiny.model, tiny.endpoints, root,
                                         track=tiny.track)


def _exporter(recipe):
    def export_recipe(root):
        return export(build(recipe), root)

    export_recipe.__name__ = f"export_{recipe}"
    export_recipe.__doc__ = (f"Exports a tiny {recipe} model under `root`; "
                             "returns the version folder.")
    return export_recipe


# Recipe -> `fn(root)` exporting its tiny model; returns the version folder.
EXPORTERS = {recipe: _exporter(recipe) for recipe in RECIPES}


def export_all(root, recipes=RECIPES):
    """Exports every recipe's tiny model to `<root>/<recipe>/<version>/`.

    Args:
        root: Export root (TensorFlow Serving layout, one folder per
            recipe).
        recipes: The recipes to export. Default: all of them.

    Returns:
        Dict recipe -> the version folder written.
    """
    return {recipe: EXPORTERS[recipe](os.path.join(str(root), recipe))
            for recipe in recipes}
