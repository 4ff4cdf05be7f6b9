r"""Character language model: Tang poems (or any text), with generation.

    python -m zoo.recipes.poetry --data=PATH/TO/poems.jsonl.gz

The model is `zoo.models.CharLM`, a recurrent network that scores the
next character. A poem is one sequence between begin and end markers;
running text (a `.txt` file, tfds `tiny_shakespeare`) is cut into windows
of `--window` characters after a begin marker; texts stream from disk
(`zoo.data.poems.stream`). `zoo.models.Poet` generates (`generate`), scores
(`score`) and, for poems, writes regular poems and acrostics (`compose`:
the form is a constraint on the sampler).

`metrics.json` holds `test_bpc` (bits per character of the held-out texts,
the end marker counted), the unigram and bigram baselines (`unigram_bpc`,
`bigram_bpc`), `validation_bpc` and `form_rate` (the share of composed
poems of the requested form); `<workdir>/samples.txt` holds samples. The
export serves `generate` (also `serving_default`: `prompt` `[N]`,
`max_length`, `temperature`, `top_k`, `seed` -> `text` `[N]`), `score`
(`text` -> `bpc`) and, for poems, `compose` (`acrostic` `[N]`,
`characters`, `lines`, `temperature`, `top_k`, `seed` -> `text`).
"""

import dataclasses
import json
import unicodedata

import tensorflow as tf
from absl import logging

from zoo import decoding
from zoo import errors
from zoo import export
from zoo import layers
from zoo import metrics as zoo_metrics
from zoo import models
from zoo import training
from zoo.data import poems as poems_lib
from zoo.models.char_lm import BEGIN, BEGIN_ID, END, END_ID, MAX_GENERATE
from zoo.models.char_lm import MAX_TEXT, WIDTH, marked_ids
from zoo.models.poem_forms import poem_form
from zoo.training import flags as zoo_flags

# The held-out poems do not change with --seed.
TEST_SPLIT_SEED = 0


@dataclasses.dataclass
class Config(training.TextConfig):
    """One flag each; the defaults are `recipes/poetry/tang.flags`."""

    WORKDIR = "workdirs/poetry"

    data: str = "tiny_shakespeare"
    export_dir: str = "saved_models/poetry"
    # 2,500 steps (10 million characters) whatever the corpus's size.
    epochs: int = 5
    steps_per_epoch: int = 500
    batch_size: int = 64
    learning_rate: float = 0.002
    lr_decay: float = 0.5
    patience: int = 2
    clipnorm: float = 5.0
    units: int = 512
    validation_fraction: float = 0.02
    output_dropout: float = 0.1
    # bfloat16 where the CPU or GPU multiplies it natively: 1.4x faster
    # epochs, the same bits per character (docs/performance.md).
    precision: str = "auto"
    test_size: int = training.setting(
        2000, "Local files: poems (or windows of text) held out as the test "
        "split.", lower=1)
    window: int = training.setting(
        64, "Running text: characters per training sequence.",
        lower=1, upper=MAX_TEXT)
    max_chars: int = training.setting(
        100, "Poems: drop longer poems (0 = keep all).",
        lower=0, upper=MAX_TEXT)
    max_tokens: int = training.setting(
        6000, "Vocabulary size: the most frequent characters, with padding, "
        "unknown, begin and end ids.", lower=5)
    samples: int = training.setting(
        4, "Texts generated per kind into <workdir>/samples.txt (free; for "
        "poems also 5x4, 7x4 and acrostic).", lower=0)
    temperature: float = training.setting(
        0.8, "Sampling temperature of the samples (0 = greedy).", lower=0.0)
    top_k: int = training.setting(
        0, "Top-k filter of the samples (0 = none).", lower=0)
    top_p: float = training.setting(
        0.9, "Top-p (nucleus) filter of the samples (1 = none).",
        lower=1e-06, upper=1.0)
    acrostic: str = training.setting(
        "春夏秋冬", "Characters that begin the lines of the acrostic samples "
        "(poems).")


def make_text_layer(config, texts):
    """Characters -> ids, fit on `texts` (strings or a dataset)."""
    layer = layers.TextToIds(config.max_tokens, MAX_TEXT, lowercase=False,
                             split="character", normalize="NFC",
                             name="characters")
    layer.fit_vocabulary(texts, reserved=[BEGIN, END])
    return layer


def build_model(config, vocabulary_size):
    """The `zoo.models.CharLM` of `config`."""
    if config.bidirectional:
        raise errors.ConfigError("--bidirectional: a language model reads "
                                 "left to right, not seeing what it predicts")
    return models.CharLM(
        vocabulary_size, embedding_dim=config.embedding_dim, cell=config.cell,
        units=config.units, num_layers=config.layers,
        residual=config.residual, dropout=config.dropout,
        recurrent_dropout=config.recurrent_dropout,
        embedding_dropout=config.embedding_dropout,
        output_dropout=config.output_dropout, seed=config.seed, name="char_lm")


def serving_endpoints(poet):
    """`generate` (also `serving_default`), `score` and, for poems,
    `compose` (`zoo.models.Poet`'s). Bytes not UTF-8 are read as U+FFFD."""
    def spec(dtype, name, shape=()):
        return tf.TensorSpec(shape, dtype, name=name)

    sampling = [spec(tf.float32, "temperature"), spec(tf.int32, "top_k"),
                spec(tf.int64, "seed")]
    endpoints = {
        "generate": (
            lambda prompt, max_length, temperature, top_k, seed: {
                "text": poet.generate(prompt, max_length, temperature, top_k,
                                      seed)},
            [spec(tf.string, "prompt", [None]), spec(tf.int32, "max_length"),
             *sampling]),
        "score": (lambda text: {"bpc": poet.score(text)},
                  [spec(tf.string, "text", [None])]),
    }
    endpoints["serving_default"] = endpoints["generate"]
    if poet.can_compose:
        endpoints["compose"] = (
            lambda acrostic, characters, lines, temperature, top_k, seed: {
                "text": poet.compose(acrostic, characters, lines, temperature,
                                     top_k, seed)},
            [spec(tf.string, "acrostic", [None]),
             spec(tf.int32, "characters"), spec(tf.int32, "lines"),
             *sampling])
    return endpoints


def portable_core(poet):
    """The portable models' functions (`zoo.export.Portable`), ids in and
    ids or logits out:

    * `states`: `ids` int64 `[N, T]` (0-padded) -> the recurrent states
      after reading them, `state_0`, `state_1`...
    * `next`: one step: `tokens` `[N]` and the states -> `logits` `[N, V]`
      (float32) and `next_state_0`...
    * `greedy`: `ids`, `start` `[N]` and `max_length` (int32) ->
      `output_ids` `[N, WIDTH]`, `generate`'s continuation at temperature
      0.

    Sampling (`generate`'s temperature, top-k, top-p) runs in the client
    over `states` and `next`: `zoo.portable.decoding.generate_ids`, which
    `portable.json["decoding"]` describes. The prompt's ids: the last
    `MAX_TEXT` characters of
    `zoo.portable.text.TextIds.from_config(tokenizers.json["characters"])`'s
    tokens, after `BEGIN_ID`; the last id starts, the ids before it go to
    `states`.
    """
    model = poet.model
    units = [int(s.shape[-1])
             for s in model.states(tf.zeros([1, 1], tf.int32))]

    def states(ids):
        return {f"state_{i}": tf.cast(s, tf.float32) for i, s in
                enumerate(model.states(tf.cast(ids, tf.int32)))}

    def next_(tokens, *states):
        logits, state = model.next(tf.cast(tokens, tf.int32),
                                   {"states": list(states)}, 0)
        return {"logits": tf.cast(logits, tf.float32),
                **{f"next_state_{i}": tf.cast(s, tf.float32)
                   for i, s in enumerate(state["states"])}}

    def greedy(ids, start, max_length):
        # `generate`'s sampler at temperature 0, without its random draw
        # (which tf2onnx does not convert). The masks are made here, not
        # captured (`poet.free`): tf2onnx leaves a tensor captured in a
        # loop as an input no one feeds.
        vocabulary = tf.range(model.logits.units)[None]
        free = vocabulary > poet.last_reserved
        end = tf.equal(vocabulary, END_ID)
        limit = tf.clip_by_value(max_length, 0, MAX_GENERATE)

        def step(tokens, state, index):
            logits, state = model.next(tokens, state, index)
            allowed = tf.where(index < limit, free, end)
            return tf.where(allowed, logits, float("-inf")), state

        ids, _, _ = decoding.greedy_search(
            step, tf.cast(start, tf.int32),
            {"states": model.states(tf.cast(ids, tf.int32))}, WIDTH, END_ID)
        return {"output_ids": ids}

    ids = tf.TensorSpec([None, None], tf.int64, name="ids")
    layer = poet.text_layer
    return export.Portable(
        functions={
            "states": (states, [ids]),
            "next": (next_, [
                tf.TensorSpec([None], tf.int64, name="tokens"),
                *(tf.TensorSpec([None, n], tf.float32, name=f"state_{i}")
                  for i, n in enumerate(units))]),
            "greedy": (greedy, [
                ids, tf.TensorSpec([None], tf.int64, name="start"),
                tf.TensorSpec([], tf.int32, name="max_length")]),
        },
        description={
            "recipe": "poetry",
            "preprocessing": {
                "characters": "zoo.portable.text.TextIds.from_config("
                              "tokenizers.json['characters']) of the prompt "
                              "(its tokens: the normalized characters)"},
            "decoding": {
                "begin_id": BEGIN_ID, "end_id": END_ID,
                "max_text": MAX_TEXT, "max_generate": MAX_GENERATE,
                "width": WIDTH, "states": len(units),
                "free_from": poet.last_reserved + 1,
                "how": "ids = [begin_id] + the ids of the prompt's last "
                       "max_text characters; states of ids[:-1] (one 0 if "
                       "none), then next from tokens = ids[-1]: ids from "
                       "free_from up while fewer than max_length were "
                       "emitted, then end_id only, until end_id "
                       "(zoo.portable.decoding.generate_ids).",
            },
            "outputs": {
                "output_ids": "vocabulary entries (tokenizers.json): the "
                              "continuation, end_id and 0 after it"},
        },
        files={"tokenizers.json": json.dumps(
            {"characters": layer.get_config()}, ensure_ascii=False,
            indent=1)},
    )


def write_samples(poet, config, path):
    """Free texts, and for poems 5x4, 7x4 and acrostic 5x4 poems, written
    to `path` (unless None); returns them and `form_rate`."""
    if not config.samples:
        return {}
    settings = dict(temperature=config.temperature, top_k=config.top_k,
                    top_p=config.top_p, seed=config.seed)
    length = (config.max_chars or MAX_GENERATE) if poet.poems else config.window
    kinds = {"free": poet.generate(tf.fill([config.samples], ""), length,
                                   **settings)}
    forms = {}
    if poet.can_compose:
        acrostic = unicodedata.normalize("NFC", config.acrostic)  # As read.
        for name, characters, given in (("5x4", 5, ""), ("7x4", 7, ""),
                                        ("acrostic", 5, acrostic)):
            kinds[name] = poet.compose(tf.fill([config.samples], given),
                                       characters, 4, **settings)
            forms[name] = (characters, 4, given)
    samples = {k: [t.decode("utf-8") for t in v.numpy()]
               for k, v in kinds.items()}
    if path is not None:
        with open(path, "w", encoding="utf-8") as f:
            for kind, texts in samples.items():
                f.write(f"# {kind}\n" + "".join(f"{t}\n" for t in texts))
    checked = [poem_form(t, *forms[k]) for k in forms for t in samples[k]]
    return {"samples": samples,
            **({"form_rate": sum(checked) / len(checked)} if checked else {})}


class Poetry(training.Task):
    """A character language model as a `zoo.training.Task`."""

    Config = Config
    selection = training.Selection("val_bpc", "min")

    def data(self, config, workdir):
        self.workdir = workdir
        streams = poems_lib.stream(
            config.data, training.records_folder(workdir),
            test_size=config.test_size, window=config.window,
            max_chars=config.max_chars, seed=TEST_SPLIT_SEED,
            tfds_data_dir=config.tfds_data_dir or None)
        self.poems = streams.poems
        return training.Data(streams.train, streams.test, streams.train_size,
                             streams.test_size, streams.source)

    def adapt(self, config, train):
        self.train = train  # For the unigram and bigram baselines.
        self.text_layer = make_text_layer(config, train)
        self.vocabulary_size = len(self.text_layer.get_vocabulary())
        logging.info("Vocabulary: %d characters", self.vocabulary_size)
        self.mean_length = poems_lib.mean_targets(
            poems_lib.id_chunks(train, self.to_ids))

    def to_ids(self, texts):
        return marked_ids(self.text_layer, texts, end=self.poems)

    def batches(self, config, examples, batch_size, training):
        return poems_lib.shifted_batches(  # Inputs: BEGIN and MAX_TEXT.
            examples, self.to_ids, batch_size, MAX_TEXT + 1,
            bucket=config.bucket, shuffle=training, seed=config.seed)

    def test_batches(self, config, test, batch_size):
        return test  # Texts, which `evaluate` scores.

    def build(self, config):
        model = build_model(config, self.vocabulary_size)
        self.poet = models.Poet(model, self.text_layer, self.poems)
        return model

    def compile(self, model, config):
        # Every character weighs the same in training, as in `test_bpc`,
        # however many characters its length-bucketed batch holds.
        training.compile_classifier(
            model, config, metrics=(), loss=zoo_metrics.SequenceCrossentropy(
                tokens_per_batch=float(config.batch_size * self.mean_length)))

    def validate(self, model, config, validation, validation_batches):
        return lambda model: {"val_bpc": self.poet.bits_per_character(
            validation)[0]}

    def evaluate(self, model, config, test_batches):
        test_bpc, count = self.poet.bits_per_character(test_batches)
        unigram, bigram = zoo_metrics.ngram_bits_per_symbol(
            *(poems_lib.rows(poems_lib.id_chunks(texts, self.to_ids))
              for texts in (self.train, test_batches)), self.vocabulary_size)
        logging.info("Test: %.3f bits per character (unigram %.3f, bigram "
                     "%.3f)", test_bpc, unigram, bigram)
        path = f"{self.workdir}/samples.txt" if training.is_chief() else None
        return {"test_bpc": test_bpc, "unigram_bpc": unigram,
                "bigram_bpc": bigram, "test_characters": count,
                "vocabulary_size": self.vocabulary_size,
                **write_samples(self.poet, config, path)}

    def endpoints(self, model, config):
        return serving_endpoints(self.poet)

    def track(self, model):
        return [self.text_layer]

    def portable(self, model, config):
        return portable_core(models.Poet(model, self.text_layer, self.poems))


def train_and_evaluate(config, workdir, callbacks=()):
    """`zoo.training.run(Poetry(), ...)`; returns the metrics written."""
    return training.run(Poetry(), config, workdir, callbacks)


if __name__ == "__main__":
    zoo_flags.run(Config, train_and_evaluate)
