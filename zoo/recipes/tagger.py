r"""Bidirectional sequence tagger: tokens in, one tag per token out.

    python -m zoo.recipes.tagger --data=../shared/data/brown_pos

Part-of-speech tagging, chunking or named entities, from CoNLL column
files (`--data=DIR` with `train`, `dev` and `test` files; `--tag_column`
picks the column) or tensorflow-datasets `conll2003` (`--tfds_tags`),
read once into TFRecord files in `<workdir>/data` that training streams.
Each token is a lower-cased word embedding joined to character features
(`zoo.layers.CharCNN`, which is what recognizes unseen words); a
bidirectional recurrent encoder reads the sentence, and either a
linear-chain CRF (`--output=crf`, Viterbi decoding) or an independent
softmax per token (`--output=softmax`) picks the tags.

`metrics.json` holds `test_token_accuracy` (padding excluded) and, for
BIO/IOBES tag sets, entity-level `test_precision`, `test_recall` and
`test_f1` as the CoNLL script counts them, and `baseline`: the same
scores of each word's most frequent training tag. The export
`saved_models/tagger/<version>/` has `serving_default`: `tokens` string
`[N, T]` ("" = padding) -> `tags` string `[N, T]` ("" where padded) and
`scores` `[N, T]` (the probability of each chosen tag: the CRF's marginal,
or the softmax), and `tag_text`: `text` string `[N]` (whitespace-separated
tokens) -> `tokens`, `tags` and `scores`.
"""

import dataclasses

import keras
import tensorflow as tf
from absl import logging

from zoo import baselines
from zoo import layers
from zoo import metrics as zoo_metrics
from zoo import training
from zoo.data import conll
from zoo.data import pipeline
from zoo.data import records
from zoo.layers import crf as crf_lib
from zoo.layers import text as text_lib
from zoo.layers import tokens as token_layers
from zoo.training import callbacks as zoo_callbacks
from zoo.training import flags as zoo_flags

OUTPUTS = ("crf", "softmax")


@dataclasses.dataclass
class Config(training.TrainConfig):
    """Settings of this recipe, one flag each; the defaults are its default
    preset (`recipes/tagger/bilstm_crf.flags` holds the same values)."""

    WORKDIR = "workdirs/tagger"

    data: str = "conll2003"
    export_dir: str = "saved_models/tagger"
    epochs: int = 50
    batch_size: int = 32
    learning_rate: float = 0.002
    lr_decay: float = 0.5
    lr_patience: int = 2
    patience: int = 5
    clipnorm: float = 5.0
    cell: str = "lstm"
    units: int = 128
    layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.0
    output: str = training.setting(
        "crf", "Output layer: a linear-chain CRF or a softmax per token.",
        choices=OUTPUTS)
    tag_column: int = training.setting(
        -1, "Local files: the tag's column (Python index; -1 = last; column 0 "
        "is the token).")
    tfds_tags: str = training.setting(
        "ner", "tensorflow-datasets conll2003: which tags to learn.",
        choices=conll.TFDS_TAGS)
    max_tokens: int = training.setting(
        30000, "Word vocabulary size (with padding and unknown ids).", lower=3)
    min_count: int = training.setting(
        2, "Words seen fewer times in training are unknown.", lower=1)
    lowercase: bool = training.setting(
        True, "Look words up lower-cased (characters keep their case).")
    embedding_dim: int = training.setting(
        100, "Word embedding width.", lower=1)
    char_filters: int = training.setting(
        50, "Character features per token (0 = words only).", lower=0)
    char_embedding_dim: int = training.setting(
        30, "Character embedding width.", lower=1)
    char_kernel_size: int = training.setting(
        3, "Character convolution width.", lower=1)
    max_chars: int = training.setting(
        16, "Characters kept per token (prefix and suffix halves of longer "
        "ones).", lower=1)
    embedding_dropout: float = training.setting(
        0.5, "Dropout of each token's features (word embedding and "
        "character features), before the encoder.", lower=0.0, upper=0.99)
    output_dropout: float = training.setting(
        0.5, "Dropout of the encoder's outputs, before the tag scores.",
        lower=0.0, upper=0.99)
    bucket: bool = training.setting(
        True, "Batch sentences of similar length together.")



def make_vocabularies(config, train_tokens):
    """The in-model lookups, adapted to the training sentences (an
    iterable of token lists, read once per lookup).

    Returns:
        A dict: `words` (`zoo.layers.TokensToIds`) and, when
        `config.char_filters` is set, `chars` (`TokensToCharIds`).
    """
    found = {"words": token_layers.TokensToIds(
        config.max_tokens, lowercase=config.lowercase,
        min_count=config.min_count, name="word_ids",
    )}
    if config.char_filters:
        found["chars"] = token_layers.TokensToCharIds(
            max_chars=config.max_chars, name="char_ids"
        )
    for layer in found.values():
        layer.adapt(train_tokens)
    return found


def build_model(config, vocabularies, num_tags):
    """Tokens `[batch, time]` ("" = padding) -> potentials `[batch, time, K]`.

    With `config.output == "crf"` the last layer is a `zoo.layers.CRF`
    named "crf", whose transitions score tag pairs; otherwise the
    potentials are softmax logits. The mask (True where the token is not
    "") reaches every layer.
    """
    tokens = keras.Input(shape=(None,), dtype="string", name="tokens")
    words = vocabularies["words"]
    x = keras.layers.Embedding(
        words.lookup.vocabulary_size(), config.embedding_dim, mask_zero=True,
        name="embedding",
    )(words(tokens))
    if "chars" in vocabularies:
        chars = vocabularies["chars"]
        features = token_layers.CharCNN(
            chars.lookup.vocabulary_size(),
            embedding_dim=config.char_embedding_dim,
            filters=config.char_filters,
            kernel_size=config.char_kernel_size,
            name="char_cnn",
        )(chars(tokens))
        x = keras.layers.Concatenate(name="word_features")([x, features])
    x = layers.PaddingMonitor(name="padding_monitor")(x)
    x = keras.layers.Dropout(config.embedding_dropout,
                             name="input_dropout")(x)
    x = layers.StackedRNN(
        config.cell,
        units=config.units,
        num_layers=config.layers,
        bidirectional=config.bidirectional,
        residual=config.residual,
        dropout=config.dropout,
        recurrent_dropout=config.recurrent_dropout,
        return_sequences=True,
        seed=config.seed,
        name="encoder",
    )(x)
    x = keras.layers.Dropout(config.output_dropout, name="dropout")(x)
    x = keras.layers.Dense(num_tags, name="potentials")(x)
    if config.output == "crf":
        x = layers.CRF(num_tags, name="crf")(x)
    return keras.Model(tokens, x, name="tagger")


def compile_tagger(model, config):
    """Compiles `model` for tag ids `[batch, time]` padded with -1.

    The loss is the CRF's negative log-likelihood or the softmax
    cross-entropy, both per real token; the `accuracy` metric takes the
    best tag of each step on its own (for a CRF, without the transitions;
    the recipe's reported accuracy decodes with them).
    """
    if config.output == "crf":
        loss = crf_lib.CRFLoss(model.get_layer("crf"))
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, ignore_class=-1
        )
    training.compile_classifier(
        model, config, loss=loss,
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )


def predict(model, tokens, scores=True):
    """Tag ids, per-tag probabilities and mask of a token batch `[N, T]`.

    Args:
        model: A model from `build_model`.
        tokens: Strings `[N, T]`, "" = padding.
        scores: Whether to compute the scores (for a CRF, the marginals:
            a forward-backward pass that decoding alone does not need).

    Returns:
        `(ids int32 [N, T], scores float32 [N, T] or None, mask bool
        [N, T])`: ids are 0 and scores 0 where `tokens` is "" (padding).
    """
    # At least one step, so that a batch of empty sentences runs too.
    time = tf.shape(tokens)[1]
    padded = tf.pad(tokens, [[0, 0], [0, tf.maximum(1 - time, 0)]])
    potentials = model(padded, training=False)[:, :time]
    mask = tf.not_equal(tokens, "")
    if "crf" in [layer.name for layer in model.layers]:
        crf = model.get_layer("crf")
        ids, _ = crf.decode(potentials, mask)
        probabilities = crf.marginals(potentials, mask) if scores else None
    else:
        probabilities = tf.nn.softmax(potentials)
        ids = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
    ids = tf.where(mask, tf.cast(ids, tf.int32), 0)
    if not scores:
        return ids, None, mask
    chosen = tf.gather(probabilities, ids, batch_dims=2)
    return ids, tf.where(mask, chosen, 0.0), mask


def serving_endpoints(model, tag_names):
    """`serving_default` (tokens `[N, T]`) and `tag_text` (text `[N]`).

    Bytes that are not UTF-8 are read as U+FFFD, and `tag_text` returns
    its tokens so (string outputs are always UTF-8).
    """
    names = tf.constant(list(tag_names))

    def serve(tokens):
        ids, scores, mask = predict(model, tokens)
        return {
            "tags": tf.where(mask, tf.gather(names, ids), ""),
            "scores": scores,
        }

    def tag_text(text):
        text = text_lib.sanitize(text)
        tokens = tf.strings.split(text).to_tensor(default_value="")
        return {"tokens": tokens, **serve(tokens)}

    return {
        "serving_default": (
            serve, [tf.TensorSpec([None, None], tf.string, name="tokens")]
        ),
        "tag_text": (
            tag_text, [tf.TensorSpec([None], tf.string, name="text")]
        ),
    }


def decoder(model):
    """Token batches `[N, T]` -> decoded tag ids `[N, T]`, a `tf.function`
    made once (`evaluate` runs it every epoch)."""
    return tf.function(lambda tokens: predict(model, tokens, scores=False)[0],
                       reduce_retracing=True)


def evaluate(model, batches, tag_names, prefix="test", decode=None):
    """Decoded token accuracy (and entity scores for BIO-like tag sets).

    Args:
        model: A model from `build_model`.
        batches: `(tokens [N, T], tag ids [N, T])` batches, ids -1 at
            padding.
        tag_names: Tag names by id.
        prefix: Prefix of the metric names.
        decode: What `decoder(model)` returns (made anew if None).

    Returns:
        `{prefix}_token_accuracy` and, when `zoo.metrics.is_chunk_tagset`
        holds for `tag_names`, `{prefix}_precision`, `_recall` and `_f1`.
    """
    run = decode or decoder(model)
    true_tags, pred_tags = [], []
    for tokens, tags in batches:
        predicted = run(tokens).numpy()
        for truth, guess in zip(tags.numpy(), predicted):
            real = truth >= 0
            true_tags.append([tag_names[i] for i in truth[real]])
            pred_tags.append([tag_names[i] for i in guess[real]])
    results = {
        f"{prefix}_token_accuracy": zoo_metrics.token_accuracy(
            true_tags, pred_tags
        )
    }
    if zoo_metrics.is_chunk_tagset(tag_names):
        scores = zoo_metrics.entity_scores(true_tags, pred_tags)
        for name in ("precision", "recall", "f1"):
            results[f"{prefix}_{name}"] = scores[name]
    return results


def selection(tag_names):
    """The epoch whose weights are tested and exported: the best entity F1
    on validation for BIO-like tag sets (`zoo.metrics.is_chunk_tagset`),
    else the best token accuracy; ties go to the lower validation loss."""
    if zoo_metrics.is_chunk_tagset(tag_names):
        return training.Selection("val_f1", "max")
    return training.Selection("val_token_accuracy", "max")


class _TokenLists:
    """The tokens of a dataset of `(tokens, tags)` sentences, as lists of
    `str`, `pipeline.CHUNK` sentences' tokens a list (the lookups count
    tokens, so where sentences end does not matter to them): read from
    the dataset anew by each iteration."""

    def __init__(self, sentences):
        self.sentences = sentences

    def __iter__(self):
        chunks = self.sentences.map(lambda tokens, tags: tokens).ragged_batch(
            pipeline.CHUNK)
        for chunk in chunks:
            yield [t.decode("utf-8") for t in chunk.flat_values.numpy()]


def _sentences(examples):
    """A dataset of `(tokens, tags)` sentences as two lists of lists of
    str."""
    tokens, tags = [], []
    for words, labels in examples.as_numpy_iterator():
        tokens.append([w.decode("utf-8", "replace") for w in words])
        tags.append([t.decode("utf-8", "replace") for t in labels])
    return tokens, tags


def fit_baseline(train, test):
    """`zoo.baselines.tagger` (each word's most frequent tag) fit on the
    `train` sentences and scored on the `test` ones (datasets of
    `(tokens, tags)`): the same splits as the network's. Data it cannot
    fit gives a warning and `{"name", "error"}`, not a failed run."""
    try:
        return baselines.tagger(*_sentences(train), *_sentences(test))
    except ValueError as error:
        logging.warning("No baseline: %s", error)
        return {"name": "most frequent tag per word", "error": str(error)}


class Tagger(training.Task):
    """Sequence tagging as a `zoo.training.Task`."""

    Config = Config

    def data(self, config, workdir):
        streams = conll.stream(
            config.data, training.records_folder(workdir),
            tag_column=config.tag_column, tfds_tags=config.tfds_tags,
            tfds_data_dir=config.tfds_data_dir or None,
        )
        # The tag set is the task's label space: every tag of every split,
        # so a tag missing from training still counts (as an error) when
        # tested.
        self.tag_names = streams.tag_names
        self.longest = streams.longest
        self.selection = selection(self.tag_names)
        logging.info("%d tags; %d dev sentences%s", len(self.tag_names),
                     streams.dev_size, "" if streams.dev_size else
                     " (validation carved from the training sentences)")
        return training.Data(
            streams.train, streams.test, streams.train_size,
            streams.test_size, streams.source,
            # No dev sentences: run carves a split from the training ones.
            validation=streams.dev if streams.dev_size else None,
            extra={"tag_names": self.tag_names},
        )

    def adapt(self, config, train):
        self.vocabularies = make_vocabularies(config, _TokenLists(train))

    def batches(self, config, examples, batch_size, training):
        names = tf.constant(self.tag_names)
        return pipeline.sentence_batches(
            examples.map(lambda tokens, tags: (
                tokens, tf.cast(records.index_of(tags, names), tf.int32))),
            batch_size, self.longest, bucket=config.bucket, shuffle=training,
            seed=config.seed,
        )

    def build(self, config):
        return build_model(config, self.vocabularies, len(self.tag_names))

    def compile(self, model, config):
        compile_tagger(model, config)

    def callbacks(self, model, config):
        monitor = model.get_layer("padding_monitor")
        return [zoo_callbacks.PaddingLogger(monitor)]

    def validate(self, model, config, validation, validation_batches):
        decode = decoder(model)
        return lambda m: evaluate(m, validation_batches, self.tag_names,
                                  prefix="val", decode=decode)

    def after_fit(self, model, config, train, validation, history):
        return model, {"padded_fraction": history.get("padded_fraction", [])}

    def evaluate(self, model, config, test_batches):
        return evaluate(model, test_batches, self.tag_names)

    def baseline(self, config, train, test):
        return fit_baseline(train, test)

    def endpoints(self, model, config):
        return serving_endpoints(model, self.tag_names)


def train_and_evaluate(config, workdir, callbacks=()):
    """`zoo.training.run(Tagger(), ...)`: trains, evaluates and exports;
    returns the metrics written to `<workdir>/metrics.json`."""
    return training.run(Tagger(), config, workdir, callbacks)


if __name__ == "__main__":
    zoo_flags.run(Config, train_and_evaluate)
