r"""Character-level language identification: a recipe written on zoo.

    python examples/langid.py --data=pairs.tsv

Each pair of a `first<TAB>second` file (English and Spanish verses, say)
gives two lines: the first column's is labelled `en`, the second's `es`. A
bidirectional GRU reads a line's characters. The export takes raw strings
and returns `probabilities [N, 2]` and `labels [N]`; it loads without zoo.
"""

import dataclasses

import keras
import tensorflow as tf

from zoo import layers
from zoo import training
from zoo.data import pairs
from zoo.training import flags as zoo_flags

LANGUAGES = ("en", "es")


@dataclasses.dataclass
class Config(training.TrainConfig):
    WORKDIR = "workdirs/langid"

    export_dir: str = "saved_models/langid"
    epochs: int = 3
    cell: str = "gru"
    units: int = 32
    bidirectional: bool = True
    test_size: int = training.setting(
        500, "Pairs held out as the test split (two lines each).", lower=1)
    max_chars: int = training.setting(
        100, "Characters read per line.", lower=1)
    max_tokens: int = training.setting(
        200, "Characters in the vocabulary (with padding and unknown).",
        lower=3)


def lines(pair_stream):
    """`(first, second)` pairs -> `(line, language id)`, two per pair."""
    return pair_stream.flat_map(lambda first, second: (
        tf.data.Dataset.from_tensor_slices(
            (tf.stack([first, second]), tf.constant([0, 1], tf.int64)))))


class LanguageId(training.Task):
    Config = Config
    selection = training.Selection("val_accuracy", "max")

    def data(self, config, workdir):
        if not config.data:
            raise ValueError("--data: give a file of `first<TAB>second` "
                             "lines (English<TAB>Spanish, say)")
        found = pairs.stream(config.data, training.records_folder(workdir),
                             test_size=config.test_size, seed=config.seed)
        return training.Data(
            lines(found.train), lines(found.test), 2 * found.train_size,
            2 * found.test_size, found.source,
            extra={"class_names": list(LANGUAGES)})

    def adapt(self, config, train):
        self.chars = layers.TextToIds(
            config.max_tokens, config.max_chars, lowercase=False,
            split="character", name="characters")
        self.chars.fit_vocabulary(train.map(lambda line, language: line))

    def batches(self, config, examples, batch_size, training):
        if training:
            examples = examples.shuffle(10_000, seed=config.seed)
        return examples.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    def build(self, config):
        text = keras.Input(shape=(), dtype="string", name="text")
        x = keras.layers.Embedding(config.max_tokens, 16, mask_zero=True)(
            self.chars(text))
        x = layers.StackedRNN(config.cell, units=config.units,
                              bidirectional=config.bidirectional,
                              dropout=config.dropout, seed=config.seed)(x)
        probabilities = keras.layers.Dense(len(LANGUAGES), "softmax")(x)
        return keras.Model(text, probabilities)

    def endpoints(self, model, config):
        names = tf.constant(LANGUAGES)

        def serve(text):
            found = model(text, training=False)
            return {"probabilities": found,
                    "labels": tf.gather(names, tf.argmax(found, axis=-1))}

        return {"serving_default": (
            serve, [tf.TensorSpec([None], tf.string, name="text")])}


if __name__ == "__main__":
    zoo_flags.run(Config, lambda config, workdir: training.run(
        LanguageId(), config, workdir))
