r"""Many-to-one sentiment classifier: raw text in, class probabilities out.

    python -m zoo.recipes.sentiment --data=../shared/data/sentence_polarity

Tokenization lives inside the model (`zoo.layers.TextToIds`), so the
export takes raw strings: `saved_models/sentiment/<version>/` has a
`serving_default` signature `text` string `[N]` -> `probabilities [N, C]`
and `labels` string `[N]`. With `--ngrams` (the default) the export
predicts with the product of the network and an NBSVM over the same token
and pair ids (`zoo.ngrams`), its weight chosen on the validation split
(`add_ngrams`). `metrics.json` holds `test_accuracy` and,
beside it, `baseline`: TF-IDF (word 1-2 grams) + logistic regression fit
on the same training split (`--baseline`). A local corpus is read once
into TFRecord files in `<workdir>/data` and streams from there. Training
batches are bucketed by length (`--bucket`), and the share of padded
positions is logged every epoch.
"""


import dataclasses

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from zoo import baselines
from zoo import layers
from zoo import ngrams
from zoo import training
from zoo.data import labelled_text
from zoo.data import pipeline
from zoo.training import callbacks as zoo_callbacks
from zoo.training import flags as zoo_flags

POOLING = ("last", "mean", "max", "attention")


@dataclasses.dataclass
class Config(training.TrainConfig):
    """Settings of this recipe, one flag each; the defaults are its default
    preset (`recipes/sentiment/bilstm.flags` holds the same values)."""

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
    cell: str = "lstm"
    units: int = 64
    layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.0
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
    embedding_dim: int = training.setting(
        128, "Token embedding width.", lower=1)
    pooling: str = training.setting(
        "max", "How the encoder's outputs become one vector.", choices=POOLING)
    bucket: bool = training.setting(
        True, "Batch texts of similar length together.")
    skip_bad_rows: bool = training.setting(
        False, "Skip (and count) malformed rows of local files instead of "
        "stopping with an error.")
    ngrams: bool = training.setting(
        True, "After training, fit a naive-Bayes-weighted logistic regression "
        "over the texts' token and token-pair ids (NBSVM) and predict with "
        "the product of it and the network, its weight and regularisation "
        "chosen on the validation split (none without one).")
    embedding_dropout: float = training.setting(
        0.3, "Dropout of the token (and pair) embeddings, before the "
        "encoder.", lower=0.0, upper=0.99)
    output_dropout: float = training.setting(
        0.3, "Dropout of the pooled encoder output, before the softmax.",
        lower=0.0, upper=0.99)
    baseline: bool = training.setting(
        True, "Also fit TF-IDF (word 1-2 grams) + logistic regression on the "
        "training split and score it on the test split, beside the network.")


# The epoch whose weights are tested and exported: the best validation
# accuracy (ties: the lower validation loss).
SELECTION = training.Selection("val_accuracy", "max")


def make_tokenizers(config, train_texts):
    """The in-model tokenizers, with vocabularies from `train_texts`: a
    `tf.data.Dataset` or a list of strings (read once per tokenizer).

    Returns:
        A dict of `zoo.layers.TextToIds`: `ids` (tokens) and, when
        `config.bigram_tokens` is set, `bigram_ids` (pairs of tokens).
    """
    common = dict(
        max_length=config.max_length,
        lowercase=config.lowercase,
        split_punctuation=config.split_punctuation,
    )
    found = {"ids": layers.TextToIds(config.max_tokens, name="text_to_ids",
                                     **common)}
    if config.bigram_tokens:
        found["bigram_ids"] = layers.TextToIds(
            config.bigram_tokens, bigrams=True, name="text_to_bigram_ids",
            **common
        )
    for layer in found.values():
        layer.adapt(train_texts)
    return found


def build_classifier(config, num_classes):
    """Token ids `[batch, time]` (0 = padding) -> probabilities `[batch, C]`.

    The inputs are a dict: `ids`, and `bigram_ids` (aligned with `ids`)
    when `config.bigram_tokens` is set; a token pair's embedding is added
    to its second token's. Padding may sit on either side (or anywhere):
    the embeddings' mask follows every token downstream, so padded
    positions never count.
    """
    inputs = {"ids": keras.Input(shape=(None,), dtype="int64", name="ids")}
    x = keras.layers.Embedding(
        config.max_tokens, config.embedding_dim, mask_zero=True,
        name="embedding",
    )(inputs["ids"])
    if config.bigram_tokens:
        inputs["bigram_ids"] = keras.Input(
            shape=(None,), dtype="int64", name="bigram_ids"
        )
        # Pair ids are 0 exactly where token ids are: the masks agree.
        pairs = keras.layers.Embedding(
            config.bigram_tokens, config.embedding_dim, mask_zero=True,
            name="bigram_embedding",
        )(inputs["bigram_ids"])
        x = keras.layers.Add(name="add_bigrams")([x, pairs])
    x = layers.PaddingMonitor(name="padding_monitor")(x)
    x = keras.layers.Dropout(config.embedding_dropout,
                             name="embedding_dropout")(x)
    x = layers.StackedRNN(
        config.cell,
        units=config.units,
        num_layers=config.layers,
        bidirectional=config.bidirectional,
        residual=config.residual,
        dropout=config.dropout,
        recurrent_dropout=config.recurrent_dropout,
        return_sequences=config.pooling != "last",
        seed=config.seed,
        name="encoder",
    )(x)
    if config.pooling != "last":
        x = layers.SequencePooling(config.pooling, name="pooling")(x)
    x = keras.layers.Dropout(config.output_dropout, name="dropout")(x)
    probabilities = keras.layers.Dense(
        num_classes, activation="softmax", name="probabilities"
    )(x)
    return keras.Model(inputs, probabilities, name="classifier")


def build_model(config, tokenizers, num_classes):
    """Strings `[batch]` -> class probabilities `[batch, num_classes]`.

    Args:
        config: A `Config`.
        tokenizers: What `make_tokenizers()` returns.
        num_classes: Number of classes.
    """
    text = keras.Input(shape=(), dtype="string", name="text")
    ids = {name: layer(text) for name, layer in tokenizers.items()}
    probabilities = build_classifier(config, num_classes)(ids)
    return keras.Model(text, probabilities, name="sentiment")


def ngram_features(config, tokenizers, texts, chunk=1024):
    """The texts' token and token-pair ids as one binary sparse matrix
    (`zoo.ngrams.multi_hot`): the features of the n-gram model, with the
    columns of `build_ngram_model`'s `MultiHotDense`."""
    import scipy.sparse

    blocks = []
    for name, size in _id_inputs(config):
        parts = []
        for start in range(0, len(texts), chunk):
            ids = tokenizers[name](tf.constant(texts[start:start + chunk]))
            parts.append(ngrams.multi_hot(ids.numpy(), size))
        blocks.append(scipy.sparse.vstack(parts))
    return scipy.sparse.hstack(blocks).tocsr()


def _id_inputs(config):
    """(tokenizer name, vocabulary size) of each id input, in order."""
    found = [("ids", config.max_tokens)]
    if config.bigram_tokens:
        found.append(("bigram_ids", config.bigram_tokens))
    return found


def build_ngram_model(config, tokenizers, classifier, linear, weight,
                      scale=1.0):
    """Strings -> the product of the network's and the n-gram model's
    class probabilities, `weight` the n-gram model's share.

    Args:
        config: A `Config`.
        tokenizers: What `make_tokenizers()` returns.
        classifier: The trained network (`build_classifier`).
        linear: A `zoo.ngrams.Linear` fit on `ngram_features`.
        weight: Float in [0, 1].
        scale: Positive float: the product's log probabilities are
            multiplied by it (its calibration; the argmax is unchanged).
    """
    text = keras.Input(shape=(), dtype="string", name="text")
    ids = {name: tokenizers[name](text) for name, _ in _id_inputs(config)}
    bag = layers.MultiHotDense(
        [size for _, size in _id_inputs(config)], linear.kernel.shape[1],
        activation="softmax", name="ngrams",
    )
    linear_probabilities = bag([ids[name] for name, _ in _id_inputs(config)])
    bag.set_weights([linear.kernel, linear.bias])
    probabilities = layers.ProductOfExperts(
        [scale * (1.0 - weight), scale * weight], name="product"
    )([classifier(ids), linear_probabilities])
    return keras.Model(text, probabilities, name="sentiment")


def add_ngrams(model, config, tokenizers, train, validation, num_classes):
    """Fits the n-gram model on `train`, chooses its `C` and its weight in
    the product with the network on `validation`, and returns the combined
    model (compiled like the network) and what was chosen.

    A split it cannot fit (one class only, say) gives a warning, the
    network alone and `{"error"}`.
    """
    import scipy.sparse

    train_texts, train_labels = _columns(train)
    validation_texts, validation_labels = _columns(validation)
    features = ngram_features(config, tokenizers, validation_texts)
    train_features = ngram_features(config, tokenizers, train_texts)
    try:
        linear = ngrams.fit(
            train_features, train_labels,
            features, validation_labels, num_classes, seed=config.seed,
        )
    except ValueError as error:
        logging.warning("No n-gram model: %s", error)
        return model, {"error": str(error)}
    network = model.predict(tf.constant(validation_texts), verbose=0,
                            batch_size=training.global_batch_size(config))
    bag = ngrams.probabilities(features, linear.kernel, linear.bias)
    weight, scale, loss = ngrams.choose_weight(network, bag,
                                               validation_labels)
    # The weight was chosen for a model that never saw the validation rows;
    # the exported one is refit on them too, at the chosen C.
    kernel, bias = ngrams.fit_at(
        scipy.sparse.vstack([train_features, features]),
        np.concatenate([train_labels, validation_labels]), num_classes,
        linear.c, seed=config.seed,
    )
    refit = linear._replace(kernel=kernel.astype(np.float32),
                            bias=bias.astype(np.float32))
    combined = build_ngram_model(
        config, tokenizers, model.get_layer("classifier"), refit, weight,
        scale,
    )
    training.compile_classifier(combined, config)
    # Scored before the refit: the refit model has seen these rows.
    product = ngrams.product(network, bag, weight, scale)
    found = {
        "c": linear.c,
        "weight": weight,
        "scale": scale,
        "validation_log_loss": loss,
        "validation_accuracy": {
            "network": _accuracy(network, validation_labels),
            "ngrams": linear.validation_accuracy,
            "product": _accuracy(product, validation_labels),
        },
    }
    logging.info(
        "N-gram model (C %g) beside the network, weight %.1f (scale %.3g): "
        "validation accuracy network %.4f, n-grams %.4f, product %.4f",
        linear.c, weight, scale,
        *found["validation_accuracy"].values(),
    )
    return combined, found


def _accuracy(probabilities, labels):
    return float(np.mean(np.argmax(probabilities, axis=-1) == labels))


def serving_endpoints(model, class_names):
    """`serving_default`: `text [N]` -> `probabilities`, `labels`.

    Bytes that are not UTF-8 are read as U+FFFD.
    """
    names = tf.constant(class_names)

    def serve(text):
        probabilities = model(text, training=False)
        return {
            "probabilities": probabilities,
            "labels": tf.gather(names, tf.argmax(probabilities, axis=-1)),
        }

    return {
        "serving_default": (
            serve, [tf.TensorSpec([None], tf.string, name="text")]
        )
    }


def _columns(examples):
    """A dataset of `(text, label)` as a list of str (bytes that are not
    UTF-8 read as U+FFFD) and a list of int."""
    texts, labels = [], []
    for text, label in examples.as_numpy_iterator():
        texts.append(text.decode("utf-8", "replace"))
        labels.append(int(label))
    return texts, labels


def fit_baseline(train, test, seed=0):
    """`zoo.baselines.text_classifier` fit on the `train` rows and scored on
    the `test` rows (datasets of `(text, label)`): the same splits as the
    network's. A corpus it cannot fit (a test class never seen in
    training, say) gives a warning and `{"name", "error"}`, not a failed
    run."""
    try:
        return baselines.text_classifier(*_columns(train), *_columns(test),
                                         seed=seed)
    except ValueError as error:
        logging.warning("No baseline: %s", error)
        return {"name": baselines.TEXT_CLASSIFIER_NAME, "error": str(error)}


class Sentiment(training.Task):
    """Text classification as a `zoo.training.Task`."""

    Config = Config
    selection = SELECTION

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

    def callbacks(self, model, config):
        return [zoo_callbacks.PaddingLogger(
            model.get_layer("classifier").get_layer("padding_monitor"))]

    def after_fit(self, model, config, train, validation, history):
        extra = {"padded_fraction": history.get("padded_fraction", [])}
        if config.ngrams and validation is not None:
            model, extra["ngrams"] = add_ngrams(
                model, config, self.tokenizers, train, validation,
                len(self.class_names),
            )
        elif config.ngrams:
            logging.warning("No n-gram model: it is chosen on the validation "
                            "split, and --validation_fraction is 0")
        return model, extra

    def baseline(self, config, train, test):
        if not config.baseline:
            return None
        return fit_baseline(train, test, config.seed)

    def endpoints(self, model, config):
        return serving_endpoints(model, self.class_names)


def train_and_evaluate(config, workdir, callbacks=()):
    """`zoo.training.run(Sentiment(), ...)`: trains, evaluates and exports;
    returns the metrics written to `<workdir>/metrics.json`."""
    return training.run(Sentiment(), config, workdir, callbacks)


if __name__ == "__main__":
    zoo_flags.run(Config, train_and_evaluate)
