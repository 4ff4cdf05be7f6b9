r"""Encoder-decoder translator with attention: text in, translation out.

    python -m zoo.recipes.translate --data=PATH/TO/pairs.tsv

The model is `zoo.models.EncoderDecoder` (recurrent encoder, decoder
started from its final states, Luong's global attention; `Translator`
decodes it greedily or by beam search). The loss is the cross-entropy per
real target token, with label smoothing; the epoch kept has the best BLEU
of greedy translations of the validation pairs. Text processing lives in
the model (`zoo.layers.TextToIds`: NFKC, punctuation split off, the source
lower-cased). Data: a file of `source<TAB>target` lines, or
tensorflow-datasets `ted_hrlr_translate/pt_to_en`, streamed from disk
(`zoo.data.pairs.stream`).

`metrics.json` holds corpus BLEU (sacrebleu) and chrF of greedy and beam-search
translations of the test split (`bleu_greedy`, `bleu_beam`, `chrf_greedy`,
`chrf_beam`); `<workdir>/translations.tsv` holds them and
`<workdir>/attention/` heat maps of a few. The export has `serving_default`:
`text` string `[N]` -> `translation` `[N]` (beam search of `--beam_width`),
and `translate_greedy`: `text` -> `translation`, `source_tokens` `[N, S]`,
`output_tokens` `[N, T]` ("" = padding) and, with attention, `attention`
`[N, T, S]`.
"""

import dataclasses
import json

import tensorflow as tf
from absl import logging

from zoo import errors
from zoo import export
from zoo import layers
from zoo import metrics as zoo_metrics
from zoo import models
from zoo import plots
from zoo import progress
from zoo import training
from zoo.data import pairs
from zoo.models.seq2seq import END, END_ID, START, START_ID
from zoo.training import flags as zoo_flags

ATTENTION = models.seq2seq.ATTENTION
# A local file's test pairs do not change with --seed: one test split.
TEST_SPLIT_SEED = 0


@dataclasses.dataclass
class Config(training.TextConfig):
    """Settings of this recipe, one flag each; the defaults are its default
    preset (`recipes/translate/bahdanau.flags` holds the same values)."""

    WORKDIR = "workdirs/translate"

    data: str = "ted_hrlr_translate/pt_to_en"
    export_dir: str = "saved_models/translate"
    epochs: int = 40
    batch_size: int = 32
    learning_rate: float = 0.002
    lr_decay: float = 0.5
    lr_patience: int = 2
    patience: int = 4
    clipnorm: float = 5.0
    bidirectional: bool = True
    validation_fraction: float = 0.05
    embedding_dropout: float = 0.3
    output_dropout: float = 0.3
    attention: str = training.setting(
        "bahdanau", "Score of the attention over the encoder outputs (Luong's "
        "global attention with Bahdanau's additive score, or Luong's dot or "
        "general one), or none (a plain encoder-decoder).", choices=ATTENTION)
    attention_units: int = training.setting(
        256, "Width of the additive (bahdanau) score.", lower=1)
    bridge: bool = training.setting(
        True, "Start the decoder from the encoder's final states; otherwise "
        "from zeros, so that the source reaches it through attention only.")
    reverse: bool = training.setting(
        False, "Local files: translate the second column into the first.")
    max_words: int = training.setting(
        20, "Drop pairs with more words on either side (0 = keep all).",
        lower=0)
    test_size: int = training.setting(
        1000, "Local files: pairs held out as the test split (the same pairs "
        "whatever --seed).", lower=1)
    source_tokens: int = training.setting(
        16000, "Source vocabulary size (with 2 reserved ids).", lower=3)
    target_tokens: int = training.setting(
        16000, "Target vocabulary size (with 4 reserved ids).", lower=5)
    min_count: int = training.setting(
        2, "Words seen fewer times in training are unknown.", lower=1)
    max_length: int = training.setting(
        60, "Tokens kept per sentence (longer sources are truncated); also "
        "the longest translation.", lower=1)
    label_smoothing: float = training.setting(
        0.1, "Label smoothing of the loss.", lower=0.0, upper=0.99)
    beam_width: int = training.setting(
        5, "Beam width of the evaluation and of the export's serving_default.",
        lower=1)
    length_penalty: float = training.setting(
        1.0, "GNMT length penalty alpha of beam search (0 = none).", lower=0.0)
    heatmaps: int = training.setting(
        4, "Test sentences whose attention is drawn into <workdir>/attention.",
        lower=0)


def make_vocabularies(config, train_sources, train_targets):
    """`(source, target)` `zoo.layers.TextToIds` fit on the training
    sentences (datasets or iterables of strings, read once): NFKC, punctuation
    split off, the source lower-cased, the target starting with `START` and
    `END` (ids `START_ID`, `END_ID`)."""
    found = []
    for side, texts, reserved in (("source", train_sources, []),
                                  ("target", train_targets, [START, END])):
        layer = layers.TextToIds(
            getattr(config, f"{side}_tokens"), config.max_length,
            lowercase=side == "source", normalize="NFKC", name=f"{side}_ids")
        layer.fit_vocabulary(texts, min_count=config.min_count,
                             reserved=reserved)
        found.append(layer)
    return tuple(found)


def build_model(config, source_vocabulary_size, target_vocabulary_size):
    """The `zoo.models.EncoderDecoder` of `config`."""
    return models.EncoderDecoder(
        source_vocabulary_size, target_vocabulary_size,
        embedding_dim=config.embedding_dim, cell=config.cell,
        units=config.units, num_layers=config.layers,
        bidirectional=config.bidirectional, residual=config.residual,
        dropout=config.dropout, recurrent_dropout=config.recurrent_dropout,
        embedding_dropout=config.embedding_dropout,
        output_dropout=config.output_dropout, attention=config.attention,
        attention_units=config.attention_units, bridge_states=config.bridge,
        seed=config.seed, name="translator")


def serving_endpoints(translator, beam_width):
    """`serving_default` (beam search) and `translate_greedy` (with the
    tokens and attention). Bytes that are not UTF-8 are read as U+FFFD."""
    text = [tf.TensorSpec([None], tf.string, name="text")]
    return {
        "serving_default": (
            lambda t: {"translation": translator.translate(t, beam_width)},
            text),
        "translate_greedy": (translator.explain, text),
    }


def portable_core(translator, source_layer, beam_width):
    """The portable models' functions (`zoo.export.Portable`), ids in and
    ids or logits out:

    * `encode`: `source_ids` int64 `[N, S]` (0-padded) -> `encoded`
      `[N, S, H]` and the decoder's first states `state_0`, `state_1`...
    * `next`: one decoder step: `tokens` `[N]` (the previous tokens,
      `START_ID` first), `source_ids`, `encoded` and the states ->
      `logits` `[N, V]` (float32; padding, unknown and start at -1e9) and
      `next_state_0`...
    * `greedy`: `source_ids` -> `output_ids` `[N, max_length + 1]`, the
      greedy decoding inside the model (`translate_greedy`'s), 0 after
      the end.

    Beam search (`serving_default`'s) runs in the client over `encode` and
    `next`: `zoo.portable.decoding.beam_search`. The source ids are
    `zoo.portable.text.TextIds.from_config(tokenizers.json["source_ids"])`
    of the texts; output ids are words of `target_vocabulary.json`, joined
    with spaces and detokenized (`zoo.portable.text.detokenize`).
    """
    model = translator.model
    first = model.encode(tf.zeros([1, 1], tf.int32))
    units = [int(s.shape[-1]) for s in first["states"]]
    width = int(first["encoded"].shape[-1])

    def encode(source_ids):
        state = model.encode(tf.cast(source_ids, tf.int32))
        return {"encoded": tf.cast(state["encoded"], tf.float32),
                **{f"state_{i}": tf.cast(s, tf.float32)
                   for i, s in enumerate(state["states"])}}

    def next_(tokens, source_ids, encoded, *states):
        state = {"states": list(states), "encoded": encoded,
                 "source_mask": tf.not_equal(source_ids, 0)}
        logits, state = translator.next(tf.cast(tokens, tf.int32), state, 0)
        return {"logits": logits,
                **{f"next_state_{i}": tf.cast(s, tf.float32)
                   for i, s in enumerate(state["states"])}}

    def greedy(source_ids):
        return {"output_ids": translator.decode(tf.cast(source_ids, tf.int32))}

    ids = tf.TensorSpec([None, None], tf.int64, name="source_ids")
    return export.Portable(
        functions={
            "encode": (encode, [ids]),
            "next": (next_, [
                tf.TensorSpec([None], tf.int64, name="tokens"), ids,
                tf.TensorSpec([None, None, width], tf.float32,
                              name="encoded"),
                *(tf.TensorSpec([None, n], tf.float32, name=f"state_{i}")
                  for i, n in enumerate(units))]),
            "greedy": (greedy, [ids]),
        },
        description={
            "recipe": "translate",
            "preprocessing": {
                "source_ids": "zoo.portable.text.TextIds.from_config("
                              "tokenizers.json['source_ids']) of the texts"},
            "decoding": {
                "start_id": START_ID, "end_id": END_ID,
                "max_length": translator.max_length + 1,
                "beam_width": beam_width,
                "length_penalty": translator.length_penalty,
                "states": len(units),
                "how": "encode, then next from tokens = start_id until "
                       "end_id (zoo.portable.decoding.greedy_search or "
                       "beam_search), next_state_i feeding state_i; greedy "
                       "does the greedy loop in the model. A source without "
                       "a token has an empty translation.",
            },
            "outputs": {
                "output_ids": "target_vocabulary.json entries; words before "
                              "end_id, joined by spaces, detokenized "
                              "(zoo.portable.text.detokenize)"},
        },
        files={
            "tokenizers.json": json.dumps(
                {"source_ids": source_layer.get_config()},
                ensure_ascii=False, indent=1),
            "target_vocabulary.json": json.dumps(
                [t.decode("utf-8") for t in translator.vocabulary.numpy()],
                ensure_ascii=False, indent=0),
        },
    )


class Translate(training.Task):
    """Translation as a `zoo.training.Task`."""

    Config = Config
    # BLEU, not the loss: with label smoothing the loss rewards hedging,
    # and it can rise while the translations still improve.
    selection = training.Selection("val_bleu_greedy", "max")

    def data(self, config, workdir):
        if config.attention == "none" and not config.bridge:
            raise errors.ConfigError(
                "--attention=none needs --bridge: without attention and "
                "without the encoder's final states nothing of the source "
                "reaches the decoder")
        self.workdir = workdir
        streams = pairs.stream(
            config.data, training.records_folder(workdir),
            reverse=config.reverse, max_words=config.max_words or None,
            test_size=config.test_size, seed=TEST_SPLIT_SEED,
            tfds_data_dir=config.tfds_data_dir or None)
        return training.Data(streams.train, streams.test, streams.train_size,
                             streams.test_size, streams.source)

    def adapt(self, config, train):
        self.source, self.target = make_vocabularies(
            config, train.map(lambda source, target: source),
            train.map(lambda source, target: target))
        self.sizes = {
            "source_vocabulary_size": len(self.source.get_vocabulary()),
            "target_vocabulary_size": len(self.target.get_vocabulary()),
        }
        logging.info("Vocabularies: %d source, %d target tokens",
                     *self.sizes.values())

    def batches(self, config, examples, batch_size, training):
        return pairs.teacher_forcing_batches(
            examples, self.source, self.target, batch_size, config.max_length,
            START_ID, END_ID, bucket=config.bucket, shuffle=training,
            seed=config.seed)

    def test_batches(self, config, test, batch_size):
        # Small (--test_size pairs, or tfds' test split): held as lists of
        # sentences and references, for BLEU.
        self.test = test
        return pairs.as_lists(test)

    def build(self, config):
        model = build_model(config, *self.sizes.values())
        self.translator = models.Translator(
            model, self.source, self.target.get_vocabulary(),
            config.max_length, config.length_penalty)
        return model

    def compile(self, model, config):
        training.compile_classifier(
            model, config, metrics=(),
            loss=zoo_metrics.SequenceCrossentropy(config.label_smoothing))

    def validate(self, model, config, validation, validation_batches):
        sources, targets = pairs.as_lists(validation)
        return lambda model: {"val_bleu_greedy": zoo_metrics.corpus_bleu(
            self.translator.translate_all(sources), targets)}

    def evaluate(self, model, config, test_batches):
        sources, targets = test_batches
        results, found = {}, {}
        for name, width in (("greedy", 1), ("beam", config.beam_width)):
            with progress.stretch(f"Decoding the test split ({name})"):
                found[name] = self.translator.translate_all(sources, width)
            results[f"bleu_{name}"] = zoo_metrics.corpus_bleu(found[name],
                                                              targets)
            results[f"chrf_{name}"] = zoo_metrics.corpus_chrf(found[name],
                                                              targets)
            logging.info("%s: BLEU %.2f, chrF %.2f", name,
                         results[f"bleu_{name}"], results[f"chrf_{name}"])
        results.update(self.sizes)
        if not training.is_chief():  # Another worker writes the files.
            return results
        with open(f"{self.workdir}/translations.tsv", "w",
                  encoding="utf-8") as f:
            f.write("source\treference\tgreedy\tbeam\n")
            for row in zip(sources, targets, found["greedy"], found["beam"]):
                f.write("\t".join(" ".join(x.split()) for x in row) + "\n")
        shown = sources[:config.heatmaps]
        results["heatmaps"] = plots.explained_heatmaps(
            self.translator.explain(tf.constant(shown)),
            f"{self.workdir}/attention",
        ) if config.attention != "none" and shown else []
        return results

    def endpoints(self, model, config):
        return serving_endpoints(self.translator, config.beam_width)

    def track(self, model):
        return [self.source]

    def portable(self, model, config):
        translator = models.Translator(
            model, self.source, self.target.get_vocabulary(),
            config.max_length, config.length_penalty)
        return portable_core(translator, self.source, config.beam_width)


def train_and_evaluate(config, workdir, callbacks=()):
    """`zoo.training.run(Translate(), ...)`: trains, evaluates and exports;
    returns the metrics written to `<workdir>/metrics.json`."""
    return training.run(Translate(), config, workdir, callbacks)


if __name__ == "__main__":
    zoo_flags.run(Config, train_and_evaluate)
