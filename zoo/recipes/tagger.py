r"""Bidirectional sequence tagger: tokens in, one tag per token out.

    python -m zoo.recipes.tagger --data=PATH/TO/corpus

Part-of-speech tagging, chunking or named entities, from CoNLL column
files (`--data=DIR` with `train`, `dev` and `test` files; `--tag_column`)
or tensorflow-datasets `conll2003` (`--tfds_tags`), streamed from TFRecord
files in `<workdir>/data`. The model is `zoo.models.SequenceTagger` (word
embeddings and character features, a bidirectional encoder, a CRF or a
softmax). `metrics.json` holds `test_token_accuracy` and, for BIO/IOBES
tag sets, entity `test_precision`, `test_recall` and `test_f1` as the CoNLL
script counts them; `baseline`: the same scores of each word's most
frequent training tag. The export has `serving_default`: `tokens` string
`[N, T]` ("" = padding) -> `tags` `[N, T]` ("" where padded) and `scores`
(each chosen tag's probability: the CRF's marginal, or the softmax), and
`tag_text`: `text` `[N]` (whitespace-separated) -> `tokens`, `tags`,
`scores`.
"""

import dataclasses
import json

import keras
import tensorflow as tf
from absl import logging

from zoo import baselines
from zoo import export
from zoo import models
from zoo import progress
from zoo import metrics as zoo_metrics
from zoo import training
from zoo.data import conll
from zoo.data import pipeline
from zoo.data import records
from zoo.layers import crf as crf_lib
from zoo.layers import text as text_lib
from zoo.layers import tokens as token_layers
from zoo.training import flags as zoo_flags

OUTPUTS = ("crf", "softmax")


@dataclasses.dataclass
class Config(training.TextConfig):
    """One flag each; the defaults are `recipes/tagger/bilstm_crf.flags`."""

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
    bidirectional: bool = True
    embedding_dim: int = 100
    embedding_dropout: float = 0.5
    output_dropout: float = 0.5
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
    char_filters: int = training.setting(
        50, "Character features per token (0 = words only).", lower=0)
    char_embedding_dim: int = training.setting(
        30, "Character embedding width.", lower=1)
    char_kernel_size: int = training.setting(
        3, "Character convolution width.", lower=1)
    max_chars: int = training.setting(
        16, "Characters kept per token (prefix and suffix halves of longer "
        "ones).", lower=1)


def make_vocabularies(config, train_tokens):
    """`{"words": TokensToIds, "chars": TokensToCharIds}` (no `chars`
    without `config.char_filters`) adapted to the training tokens (an
    iterable of token lists, read once per lookup)."""
    found = {"words": token_layers.TokensToIds(
        config.max_tokens, lowercase=config.lowercase,
        min_count=config.min_count, name="word_ids")}
    if config.char_filters:
        found["chars"] = token_layers.TokensToCharIds(
            max_chars=config.max_chars, name="char_ids")
    for layer in found.values():
        layer.adapt(train_tokens)
    return found


def build_model(config, vocabularies, num_tags):
    """The `zoo.models.SequenceTagger` of `config`: tokens `[batch, time]`
    ("" = padding) -> tag potentials `[batch, time, num_tags]`."""
    return models.SequenceTagger(
        vocabularies["words"], num_tags, chars=vocabularies.get("chars"),
        embedding_dim=config.embedding_dim,
        char_embedding_dim=config.char_embedding_dim,
        char_filters=config.char_filters,
        char_kernel_size=config.char_kernel_size, cell=config.cell,
        units=config.units, num_layers=config.layers,
        bidirectional=config.bidirectional, residual=config.residual,
        dropout=config.dropout, recurrent_dropout=config.recurrent_dropout,
        embedding_dropout=config.embedding_dropout,
        output_dropout=config.output_dropout, use_crf=config.output == "crf",
        seed=config.seed, name="tagger")


def serving_endpoints(model, tag_names):
    """`serving_default` (tokens `[N, T]`) and `tag_text` (text `[N]`).

    Bytes that are not UTF-8 are read as U+FFFD, and `tag_text` returns
    its tokens so (string outputs are always UTF-8).
    """
    names = tf.constant(list(tag_names))

    def serve(tokens):
        ids, scores, mask = model.tag(tokens)
        return {"tags": tf.where(mask, tf.gather(names, ids), ""),
                "scores": scores}

    def tag_text(text):
        tokens = tf.strings.split(text_lib.sanitize(text)).to_tensor(
            default_value="")
        return {"tokens": tokens, **serve(tokens)}

    return {
        "serving_default": (serve, [tf.TensorSpec([None, None], tf.string,
                                                  name="tokens")]),
        "tag_text": (tag_text, [tf.TensorSpec([None], tf.string,
                                              name="text")]),
    }


def decoder(model):
    """Token batches `[N, T]` -> decoded tag ids `[N, T]`, a `tf.function`
    made once (`evaluate` runs it every epoch)."""
    return tf.function(lambda tokens: model.tag(tokens, scores=False)[0],
                       reduce_retracing=True)


def evaluate(model, batches, tag_names, prefix="test", decode=None):
    """`zoo.metrics.tagging_scores` of the decoded tags of `(tokens [N, T],
    tag ids [N, T])` batches (ids -1 at padding); `decode`: `decoder(model)`
    made once, for repeated calls."""
    run = decode or decoder(model)
    size = int(batches.cardinality())
    true_tags, pred_tags = [], []
    for tokens, tags in batches:
        for truth, guess in zip(tags.numpy(), run(tokens).numpy()):
            real = truth >= 0
            true_tags.append([tag_names[i] for i in truth[real]])
            pred_tags.append([tag_names[i] for i in guess[real]])
        progress.advance(total=size if size >= 0 else None, unit="batches")
    return zoo_metrics.tagging_scores(true_tags, pred_tags, tag_names, prefix)


def portable_core(model, tag_names):
    """The portable models' function (`zoo.export.Portable`): `word_ids`
    (int64 `[N, T]`) and, with a character CNN, `char_ids` (int64
    `[N, T, C]`) -> `tags` (int32 `[N, T]`, indices into `labels.txt`)
    and `scores` (float32 `[N, T]`), both 0 at padding, as
    `serving_default` gives them for the tokens (`SequenceTagger.tag_ids`).
    `tokenizers.json` holds the configs of `zoo.portable.text.TokenIds`
    (`words`) and `TokenCharIds` (`chars`), which make the same ids in
    plain Python."""
    layers = {"word_ids": model.words, "char_ids": model.chars}
    names = [name for name, layer in layers.items() if layer is not None]

    def core(*ids):
        tags, scores, _ = model.tag_ids(*ids)
        return {"tags": tags, "scores": scores}

    shapes = {"word_ids": [None, None], "char_ids": [None, None, None]}
    return export.Portable(
        functions={"model": (core, [tf.TensorSpec(shapes[name], tf.int64,
                                                  name=name)
                                    for name in names])},
        description={
            "recipe": "tagger",
            "preprocessing": {
                "word_ids": "zoo.portable.text.TokenIds.from_config("
                            "tokenizers.json['word_ids']) of the token rows "
                            "(\"\" pads a row)",
                "char_ids": "zoo.portable.text.TokenCharIds.from_config("
                            "tokenizers.json['char_ids']) of the same rows",
            },
            "outputs": {"tags": "the tag of each token, an index into "
                                "labels.txt (0 at padding)",
                        "scores": "its probability (0 at padding)"},
        },
        files={"tokenizers.json": json.dumps(
                   {name: layers[name].get_config() for name in names},
                   ensure_ascii=False, indent=1),
               "labels.txt": "".join(f"{name}\n" for name in tag_names)},
    )


class Tagger(training.Task):
    """Sequence tagging as a `zoo.training.Task`."""

    Config = Config
    baseline_name = "most frequent tag per word"

    def data(self, config, workdir):
        streams = conll.stream(
            config.data, training.records_folder(workdir),
            tag_column=config.tag_column, tfds_tags=config.tfds_tags,
            tfds_data_dir=config.tfds_data_dir or None,
        )
        # Every tag of every split: a tag missing from training still
        # counts (as an error) when tested.
        self.tag_names = streams.tag_names
        self.longest = streams.longest
        # The best validation entity F1 for BIO-like tag sets, else token
        # accuracy; ties go to the lower validation loss.
        self.selection = training.Selection(
            "val_f1" if zoo_metrics.is_chunk_tagset(self.tag_names)
            else "val_token_accuracy", "max")
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
        self.vocabularies = make_vocabularies(config, conll.TokenLists(train))

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
        # Per real token (tags are -1 at padding). The bar's accuracy takes
        # each token's best tag on its own (for a CRF, without the
        # transitions, which the reported token accuracy decodes with).
        training.compile_classifier(
            model, config, metrics=[zoo_metrics.RealTokenAccuracy(
                name="argmax_accuracy")],
            loss=crf_lib.CRFLoss(model.crf) if model.crf is not None else
            keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                       ignore_class=-1))

    def padding(self, config):
        return lambda tokens, tags: (
            tf.reduce_sum(tf.cast(tokens != "", tf.int32), axis=1),
            tf.shape(tokens)[1])

    def validate(self, model, config, validation, validation_batches):
        decode = decoder(model)
        return lambda m: evaluate(m, validation_batches, self.tag_names,
                                  prefix="val", decode=decode)

    def evaluate(self, model, config, test_batches):
        return evaluate(model, test_batches, self.tag_names)

    def baseline(self, config, train, test):
        return baselines.tagger(*conll.as_lists(train), *conll.as_lists(test))

    def endpoints(self, model, config):
        return serving_endpoints(model, self.tag_names)

    def portable(self, model, config):
        return portable_core(model, self.tag_names)


def train_and_evaluate(config, workdir, callbacks=()):
    """`zoo.training.run(Tagger(), ...)`; returns the metrics written."""
    return training.run(Tagger(), config, workdir, callbacks)


if __name__ == "__main__":
    zoo_flags.run(Config, train_and_evaluate)
