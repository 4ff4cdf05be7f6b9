r"""Many-to-one sentiment classifier: raw text in, class probabilities out.

    python -m zoo.recipes.sentiment --data=PATH/TO/reviews.tsv

The model is `zoo.models.TextClassifier`: tokenization inside it
(`zoo.layers.TextToIds`), so the export takes raw strings; with `--ngrams`
(the default) it predicts with the product of the network and an NBSVM
over the same token and pair ids (`zoo.ngrams`), its weight chosen on the
validation split. `metrics.json` holds `test_accuracy` and `baseline`:
TF-IDF (word 1-2 grams) + logistic regression on the same split. The
export has `serving_default`: `text` string `[N]` -> `probabilities`
`[N, C]` and `labels` `[N]`. Texts stream from TFRecord files in
`<workdir>/data`, in batches bucketed by length.
"""

import dataclasses
import json

import numpy as np
import tensorflow as tf
from absl import logging

from zoo import baselines
from zoo import export
from zoo import layers
from zoo import models
from zoo import ngrams
from zoo import training
from zoo.data import labelled_text
from zoo.data import pipeline
from zoo.training import flags as zoo_flags

POOLING = models.classifier.POOLING


@dataclasses.dataclass
class Config(training.TextConfig):
    """One flag each; the defaults are `recipes/sentiment/bilstm.flags`."""

    WORKDIR = "workdirs/sentiment"

    data: str = "imdb_reviews"
    export_dir: str = "saved_models/sentiment"
    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 0.002
    lr_decay: float = 0.5
    lr_patience: int = 1
    patience: int = 3
    clipnorm: float = 1.0
    units: int = 64
    bidirectional: bool = True
    embedding_dim: int = 128
    embedding_dropout: float = 0.3
    output_dropout: float = 0.3
    max_tokens: int = training.setting(
        20000, "Vocabulary size (with padding and OOV ids).", lower=3)
    bigram_tokens: int = training.setting(
        20000, "Vocabulary size of token pairs (with padding and OOV ids), "
        "whose embeddings are added to the word embeddings; 0 = words only.",
        lower=0)
    max_length: int = training.setting(
        200, "Tokens kept per text; longer texts are truncated.", lower=1)
    lowercase: bool = training.setting(
        True, "Lower-case the text.")
    split_punctuation: bool = training.setting(
        True, "Make punctuation and contractions (n't, 's) tokens of their "
        "own.")
    pooling: str = training.setting(
        "max", "How the encoder's outputs become one vector.", choices=POOLING)
    skip_bad_rows: bool = training.setting(
        False, "Skip (and count) malformed rows of local files instead of "
        "stopping with an error.")
    ngrams: bool = training.setting(
        True, "After training, fit a naive-Bayes-weighted logistic regression "
        "over the texts' token and token-pair ids (NBSVM) and predict with "
        "the product of it and the network, its weight and regularisation "
        "chosen on the validation split (none without one).")
    baseline: bool = training.setting(
        True, "Also fit TF-IDF (word 1-2 grams) + logistic regression on the "
        "training split and score it on the test split, beside the network.")


def make_tokenizers(config, train_texts):
    """`{"ids": TextToIds}` (tokens), and `bigram_ids` (token pairs) with
    `config.bigram_tokens`, adapted to `train_texts` (a dataset or a list
    of strings, read once per tokenizer)."""
    common = dict(max_length=config.max_length, lowercase=config.lowercase,
                  split_punctuation=config.split_punctuation)
    found = {"ids": layers.TextToIds(config.max_tokens, name="text_to_ids",
                                     **common)}
    if config.bigram_tokens:
        found["bigram_ids"] = layers.TextToIds(
            config.bigram_tokens, bigrams=True, name="text_to_bigram_ids",
            **common)
    for layer in found.values():
        layer.adapt(train_texts)
    return found


def build_model(config, tokenizers, num_classes):
    """The `zoo.models.TextClassifier` of `config`: strings `[batch]` ->
    class probabilities `[batch, num_classes]`."""
    return models.TextClassifier(
        tokenizers, num_classes, embedding_dim=config.embedding_dim,
        cell=config.cell, units=config.units, num_layers=config.layers,
        bidirectional=config.bidirectional, residual=config.residual,
        dropout=config.dropout, recurrent_dropout=config.recurrent_dropout,
        pooling=config.pooling, embedding_dropout=config.embedding_dropout,
        output_dropout=config.output_dropout, seed=config.seed,
        name="sentiment")


def add_ngrams(model, config, train, validation, num_classes):
    """Fits an NBSVM (`zoo.ngrams`) on `train`, chooses its `C` and its
    weight in the product with the network on `validation`, and returns the
    combined model (`TextClassifier.with_ngrams`, compiled like the network,
    the NBSVM refit on both splits at the chosen `C`) and what was chosen.
    A split it cannot fit (one class only, say) gives a warning, the
    network alone and `{"error"}`."""
    import scipy.sparse

    train_texts, train_labels = labelled_text.as_lists(train)
    validation_texts, validation_labels = labelled_text.as_lists(validation)
    features = model.ngram_features(validation_texts)
    train_features = model.ngram_features(train_texts)
    try:
        linear = ngrams.fit(train_features, train_labels, features,
                            validation_labels, num_classes, seed=config.seed)
    except ValueError as error:
        logging.warning("No n-gram model: %s", error)
        return model, {"error": str(error)}
    network = model.predict(tf.constant(validation_texts), verbose=0,
                            batch_size=training.global_batch_size(config))
    bag = ngrams.probabilities(features, linear.kernel, linear.bias)
    weight, scale, loss = ngrams.choose_weight(network, bag,
                                               validation_labels)
    kernel, bias = ngrams.fit_at(
        scipy.sparse.vstack([train_features, features]),
        np.concatenate([train_labels, validation_labels]), num_classes,
        linear.c, seed=config.seed)
    combined = model.with_ngrams(kernel.astype(np.float32),
                                 bias.astype(np.float32), weight, scale)
    training.compile_classifier(combined, config)
    # Scored before the refit: the refit model has seen these rows.
    def accuracy(probabilities):
        return float(np.mean(np.argmax(probabilities, -1) == validation_labels))

    accuracy = {"network": accuracy(network),
                "ngrams": linear.validation_accuracy,
                "product": accuracy(ngrams.product(network, bag, weight, scale))}
    logging.info("N-gram model (C %g) beside the network, weight %.1f "
                 "(scale %.3g): validation accuracy network %.4f, n-grams "
                 "%.4f, product %.4f", linear.c, weight, scale,
                 *accuracy.values())
    return combined, {"c": linear.c, "weight": weight, "scale": scale,
                      "validation_log_loss": loss,
                      "validation_accuracy": accuracy}


def serving_endpoints(model, class_names):
    """`serving_default`: `text [N]` -> `probabilities`, `labels` (bytes
    that are not UTF-8 are read as U+FFFD)."""
    names = tf.constant(class_names)

    def serve(text):
        probabilities = model(text, training=False)
        return {"probabilities": probabilities,
                "labels": tf.gather(names, tf.argmax(probabilities, axis=-1))}

    return {"serving_default": (
        serve, [tf.TensorSpec([None], tf.string, name="text")])}


def portable_core(model, tokenizers, class_names):
    """The portable models' function (`zoo.export.Portable`): the id
    tensors of `tokenizers` (int64 `[N, T]`, 0-padded; `ids`, and
    `bigram_ids` with --bigram_tokens) -> `probabilities [N, C]` and
    `classes [N]` (indices into `labels.txt`), as `serving_default` gives
    them for the texts. `tokenizers.json` holds each tokenizer's config,
    which `zoo.portable.text.TextIds.from_config` turns into the same ids
    in plain Python."""
    names = sorted(tokenizers)

    def core(*ids):
        probabilities = model.classify(dict(zip(names, ids)), training=False)
        return {"probabilities": probabilities,
                "classes": tf.argmax(probabilities, axis=-1)}

    configs = {name: layer.get_config() for name, layer in tokenizers.items()}
    return export.Portable(
        functions={"model": (core, [tf.TensorSpec([None, None], tf.int64,
                                                  name=name)
                                    for name in names])},
        description={
            "recipe": "sentiment",
            "preprocessing": {
                name: "zoo.portable.text.TextIds.from_config("
                      f"tokenizers.json[{name!r}]) of the texts"
                for name in names},
            "outputs": {"probabilities": "of the classes in labels.txt, in "
                                         "order",
                        "classes": "the most probable class's index"},
        },
        files={"tokenizers.json": json.dumps(configs, ensure_ascii=False,
                                             indent=1),
               "labels.txt": "".join(f"{name}\n" for name in class_names)},
    )


class Sentiment(training.Task):
    """Text classification as a `zoo.training.Task`."""

    Config = Config
    # The best validation accuracy (ties: the lower validation loss).
    selection = training.Selection("val_accuracy", "max")
    baseline_name = baselines.TEXT_CLASSIFIER_NAME

    def data(self, config, workdir):
        streams = labelled_text.stream(
            config.data, training.records_folder(workdir),
            tfds_data_dir=config.tfds_data_dir or None,
            skip_bad_rows=config.skip_bad_rows, seed=config.seed,
        )
        self.class_names = list(streams.class_names)
        return training.Data(
            streams.train, streams.test, streams.train_size,
            streams.test_size, streams.source,
            extra={"class_names": self.class_names,
                   "skipped_rows": streams.skipped_rows},
        )

    def adapt(self, config, train):
        self.tokenizers = make_tokenizers(
            config, train.map(lambda text, label: text))

    def batches(self, config, examples, batch_size, training):
        return pipeline.text_batches(
            examples, batch_size, config.max_length, bucket=config.bucket,
            shuffle=training, seed=config.seed,
            length_fn=self.tokenizers["ids"].count_tokens,
        )

    def build(self, config):
        return build_model(config, self.tokenizers, len(self.class_names))

    def padding(self, config):
        # Ids are padded to each batch's longest text (at least one step).
        def lengths(texts, labels):
            counts = tf.minimum(self.tokenizers["ids"].count_tokens(texts),
                                config.max_length)
            return counts, tf.maximum(tf.reduce_max(counts), 1)

        return lengths

    def after_fit(self, model, config, train, validation, history):
        extra = {}
        if config.ngrams and validation is not None:
            model, extra["ngrams"] = add_ngrams(
                model, config, train, validation, len(self.class_names))
        elif config.ngrams:
            logging.warning("No n-gram model: it is chosen on the validation "
                            "split, and --validation_fraction is 0")
        return model, extra

    def baseline(self, config, train, test):
        if config.baseline:
            return baselines.text_classifier(
                *labelled_text.as_lists(train), *labelled_text.as_lists(test),
                seed=config.seed)
        return None

    def endpoints(self, model, config):
        return serving_endpoints(model, self.class_names)

    def portable(self, model, config):
        return portable_core(model, self.tokenizers, self.class_names)


def train_and_evaluate(config, workdir, callbacks=()):
    """`zoo.training.run(Sentiment(), ...)`; returns the metrics written."""
    return training.run(Sentiment(), config, workdir, callbacks)


if __name__ == "__main__":
    zoo_flags.run(Config, train_and_evaluate)
