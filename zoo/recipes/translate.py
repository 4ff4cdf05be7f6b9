r"""Encoder-decoder translator with attention: text in, translation out.

    python -m zoo.recipes.translate --data=../shared/data/bible_en_es/pairs.tsv

A (bi)directional recurrent encoder reads the source words; a recurrent
decoder, started from the encoder's final states (`--bridge`), reads the
previous target word (teacher forcing in training) and scores the next one
from its output and, with `--attention`, the context vector of an
attention over the encoder outputs (Luong et al.'s "global attention" with an additive,
dot or general score; `zoo.layers.SequenceAttention`). The loss is the
cross-entropy per real target token, with label smoothing.

Text processing lives in the model: NFKC normalization, lower-cased source,
punctuation split off (`zoo.layers.TextToIds`); the output's punctuation is
attached again (`zoo.layers.detokenize`). Data: a file of
`source<TAB>target` lines (`--reverse` swaps the columns; `--max_words`
filters long pairs; a fixed `--test_size` pairs are held out) or
tensorflow-datasets `ted_hrlr_translate/pt_to_en`. The corpus is not held
in memory: a local file is read once into `<workdir>/data/pairs.tfrecord`
(`zoo.data.pairs.stream`), and vocabularies, ids and batches are made as
the pairs stream from there (or from tensorflow-datasets' files).

`metrics.json` holds corpus BLEU (sacrebleu) of greedy and beam-search
translations of the test split (`bleu_greedy`, `bleu_beam`), chrF
(`chrf_greedy`, `chrf_beam`) and `wall_seconds`; `<workdir>/attention/`
gets heat maps of a few test sentences. The export
`saved_models/translate/<version>/` has `serving_default`: `text` string
`[N]` -> `translation` string `[N]` (beam search of `--beam_width`), and
`translate_greedy`: `text` -> `translation`, `source_tokens` `[N, S]`,
`output_tokens` `[N, T]` ("" = padding) and, with attention,
`attention` `[N, T, S]`.
"""

import dataclasses

import keras
import tensorflow as tf
from absl import logging

from zoo import decoding
from zoo import layers
from zoo import metrics as zoo_metrics
from zoo import plots
from zoo import training
from zoo.data import pairs
from zoo.data import pipeline
from zoo.layers import attention as attention_lib
from zoo.training import flags as zoo_flags

ATTENTION = ("none",) + attention_lib.SCORES
# Reserved target tokens: ids 2 and 3 (after padding 0 and unknown 1).
START, END = "<s>", "</s>"
START_ID, END_ID = 2, 3
# The held-out pairs of a local file do not change with --seed, so runs
# with other seeds are scored on the same test split.
TEST_SPLIT_SEED = 0


@dataclasses.dataclass
class Config(training.TrainConfig):
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
    cell: str = "lstm"
    units: int = 128
    layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.0
    validation_fraction: float = 0.05
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
        16000, "Source vocabulary size (with padding and unknown ids).",
        lower=3)
    target_tokens: int = training.setting(
        16000, "Target vocabulary size (with padding, unknown, start and end "
        "ids).", lower=5)
    min_count: int = training.setting(
        2, "Words seen fewer times in training are unknown.", lower=1)
    max_length: int = training.setting(
        60, "Tokens kept per sentence (longer sources are truncated); also "
        "the longest translation.", lower=1)
    embedding_dim: int = training.setting(
        256, "Word embedding width (source and target).", lower=1)
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
    embedding_dropout: float = training.setting(
        0.3, "Dropout of the source and target embeddings.", lower=0.0,
        upper=0.99)
    output_dropout: float = training.setting(
        0.3, "Dropout of the decoder's (attentional) outputs, before the "
        "output layer.", lower=0.0, upper=0.99)
    bucket: bool = training.setting(
        True, "Batch pairs of similar length together.")


# The epoch whose weights are tested and exported: the best BLEU of greedy
# translations of the validation pairs (ties: the lower validation loss).
# The validation loss is cheaper but is not what the recipe reports: with
# label smoothing it rewards hedged distributions, and it can rise while
# translations still improve (the model grows surer of its wrong words).
SELECTION = training.Selection("val_bleu_greedy", "max")


def make_vocabularies(config, train_sources, train_targets):
    """The in-model text layers, with vocabularies from the training pairs.

    Args:
        config: A `Config`.
        train_sources, train_targets: The training sentences, each side
            a `tf.data.Dataset` or an iterable of strings, read once.

    Returns:
        `(source, target)` `zoo.layers.TextToIds`: NFKC-normalized, punctuation
        split off, the source lower-cased; the target vocabulary starts with
        `START` and `END` (ids `START_ID`, `END_ID`).
    """
    source = layers.TextToIds(
        config.source_tokens, config.max_length, lowercase=True,
        normalize="NFKC", name="source_ids",
    )
    source.fit_vocabulary(train_sources, min_count=config.min_count)
    target = layers.TextToIds(
        config.target_tokens, config.max_length, lowercase=False,
        normalize="NFKC", name="target_ids",
    )
    target.fit_vocabulary(
        train_targets, min_count=config.min_count, reserved=[START, END]
    )
    return source, target


def build_model(config, source_vocabulary_size, target_vocabulary_size):
    """`[source ids, target input ids]` -> next-token logits.

    Inputs are int32 `[batch, S]` and `[batch, T]` padded with 0; the
    target input starts with `START_ID`. The decoder has one layer per
    encoder layer, of the encoder's output width, and starts from the
    encoder's final states (the directions' states concatenated, see
    `bridge`), or from zeros when `config.bridge` is false. Layer names are
    what `Seq2Seq` looks up to decode step by step.
    """
    source = keras.Input(shape=(None,), dtype="int32", name="source")
    target_in = keras.Input(shape=(None,), dtype="int32", name="target_in")
    x = keras.layers.Embedding(
        source_vocabulary_size, config.embedding_dim, mask_zero=True,
        name="source_embedding",
    )(source)
    x = keras.layers.Dropout(config.embedding_dropout,
                             name="source_dropout")(x)
    encoder = layers.StackedRNN(
        config.cell, units=config.units, num_layers=config.layers,
        bidirectional=config.bidirectional, residual=config.residual,
        dropout=config.dropout, recurrent_dropout=config.recurrent_dropout,
        return_sequences=True, return_state=True, seed=config.seed,
        name="encoder",
    )
    encoded, *states = encoder(x)
    y = keras.layers.Embedding(
        target_vocabulary_size, config.embedding_dim, mask_zero=True,
        name="target_embedding",
    )(target_in)
    y = keras.layers.Dropout(config.embedding_dropout,
                             name="target_dropout")(y)
    decoder = layers.StackedRNN(
        config.cell, units=encoder.output_width, num_layers=config.layers,
        residual=config.residual, dropout=config.dropout,
        recurrent_dropout=config.recurrent_dropout,
        return_sequences=True, return_state=True,
        seed=None if config.seed is None else config.seed + 1000,
        name="decoder",
    )
    decoded, *_ = decoder(y, initial_state=_initial_state(config, states,
                                                        encoder))
    logits = _output(
        config, decoded, encoded, keras.ops.not_equal(source, 0),
        target_vocabulary_size,
    )
    return keras.Model([source, target_in], logits, name="translator")


def _initial_state(config, states, encoder):
    """The decoder's initial states: bridged, or None (zeros)."""
    return bridge(states, encoder) if config.bridge else None


def bridge(states, encoder):
    """Encoder final states -> decoder initial states.

    Per layer and per state (h, or h and c), the forward and backward
    directions' states are concatenated (`[batch, 2 * units]`), which is
    the decoder's width.
    """
    if not encoder.bidirectional:
        return list(states)
    per_layer = encoder.num_states // encoder.num_layers
    per_direction = per_layer // 2
    joined = []
    for layer in range(encoder.num_layers):
        first = layer * per_layer
        for k in range(per_direction):
            forward = states[first + k]
            backward = states[first + per_direction + k]
            joined.append(keras.ops.concatenate([forward, backward], axis=-1))
    return joined


def _output(config, decoded, encoded, source_mask, vocabulary_size,
            layer_of=None):
    """Decoder outputs (and attention) -> logits; also used one step at a time.

    With `layer_of` (a model's `get_layer`) the trained layers are reused;
    otherwise new ones are made. Returns logits, or `(logits, weights)`
    when `layer_of` is given (weights None without attention).
    """
    def get(name, make):
        return layer_of(name) if layer_of else make()

    weights = None
    h = decoded
    if config.attention != "none":
        units = config.attention_units if config.attention == "bahdanau" else None
        attention = get("attention", lambda: layers.SequenceAttention(
            config.attention, units=units, name="attention"
        ))
        context, weights = attention(decoded, encoded, value_mask=source_mask)
        # Luong's attentional state: tanh(W [h; context]).
        h = get("attentional", lambda: keras.layers.Dense(
            decoded.shape[-1], activation="tanh", name="attentional"
        ))(keras.ops.concatenate([decoded, context], axis=-1))
    if not layer_of:
        h = keras.layers.Dropout(config.output_dropout,
                                 name="output_dropout")(h)
    logits = get("logits", lambda: keras.layers.Dense(
        vocabulary_size, name="logits"
    ))(h)
    return (logits, weights) if layer_of else logits


class Seq2Seq:
    """Inference with a trained `build_model` model: encode, then decode.

    Args:
        model: The model from `build_model`.
        config: Its `Config`.
        source_layer: The source `TextToIds`.
        target_vocabulary: The target vocabulary (all entries, by id).
    """

    def __init__(self, model, config, source_layer, target_vocabulary):
        self.model = model
        self.config = config
        self.source_layer = source_layer
        self.vocabulary = tf.constant([str(t) for t in target_vocabulary])
        self.weights_model = None
        if config.attention != "none":
            # The same layers, returning the attention weights.
            self.weights_model = keras.Model(
                model.inputs, model.get_layer("attention").output[1]
            )

    def encode(self, source_ids):
        """Source ids `[N, S]` -> the decoders' initial state (a dict)."""
        get = self.model.get_layer
        x = get("source_embedding")(source_ids)
        encoded, *states = get("encoder")(x, training=False)
        initial = bridge(states, get("encoder"))
        if not self.config.bridge:  # Zeros, the decoder's own initial state.
            initial = [tf.zeros_like(s) for s in initial]
        return {
            "states": initial,
            "encoded": encoded,
            "source_mask": tf.not_equal(source_ids, 0),
        }

    def next(self, tokens, state, index):
        """One decoder step: `zoo.decoding`'s `next_fn`."""
        del index  # The recurrent state carries the position.
        get = self.model.get_layer
        y = get("target_embedding")(tokens[:, None])  # [N, 1, E].
        decoded, *states = get("decoder")(
            y, initial_state=state["states"], training=False
        )
        logits, _ = _output(
            self.config, decoded[:, 0], state["encoded"], state["source_mask"],
            None, layer_of=get,
        )
        # Padding, unknown and start are never emitted.
        never = tf.range(tf.shape(logits)[-1]) < END_ID
        logits = tf.where(never, tf.constant(-1e9, logits.dtype), logits)
        return logits, {**state, "states": states}

    def source_ids(self, text):
        return tf.cast(self.source_layer(text), tf.int32)

    def decode(self, source_ids, beam_width=1):
        """Output ids `[N, max_length + 1]` (0 after the end) of a decoder.

        A source with no token (an empty string) has an empty output.
        """
        initial = self.encode(source_ids)
        start = tf.fill([tf.shape(source_ids)[0]], START_ID)
        max_length = self.config.max_length + 1  # Room for the end token.
        if beam_width == 1:
            ids, _, _ = decoding.greedy_search(
                self.next, start, initial, max_length, END_ID
            )
        else:
            ids, _, _ = decoding.beam_search(
                self.next, start, initial, max_length, END_ID,
                beam_width=beam_width,
                length_penalty=self.config.length_penalty,
            )
            ids = ids[:, 0]  # The best beam.
        has_source = tf.reduce_any(tf.not_equal(source_ids, 0), axis=1)
        return tf.where(has_source[:, None], ids, 0)

    def tokens(self, ids):
        """Output ids -> ragged tokens, the end token and after dropped."""
        ids = tf.RaggedTensor.from_tensor(ids, padding=0)
        kept = tf.logical_and(
            tf.not_equal(ids.flat_values, START_ID),
            tf.not_equal(ids.flat_values, END_ID),
        )
        words = tf.gather(self.vocabulary, ids.flat_values)
        return tf.ragged.boolean_mask(ids.with_flat_values(words),
                                      ids.with_flat_values(kept))

    @staticmethod
    def sentences(tokens):
        """Ragged output tokens -> detokenized strings `[N]`."""
        return layers.detokenize(
            tf.strings.reduce_join(tokens, axis=1, separator=" ")
        )

    def translate(self, text, beam_width=1):
        """Strings `[N]` -> translations `[N]`."""
        return self.sentences(
            self.tokens(self.decode(self.source_ids(text), beam_width))
        )

    def explain(self, text):
        """Greedy translations with their tokens and attention weights."""
        source_ids = self.source_ids(text)
        ids = self.decode(source_ids)
        tokens = self.tokens(ids)
        outputs = {
            "translation": self.sentences(tokens),
            "output_tokens": tokens.to_tensor(default_value=""),
        }
        words = tf.strings.split(self.source_layer.standardize(text))
        words = words[:, :self.config.max_length].to_tensor(default_value="")
        width = tf.shape(source_ids)[1]
        outputs["source_tokens"] = tf.pad(
            words, [[0, 0], [0, width - tf.shape(words)[1]]]
        )
        if self.config.attention != "none":
            # Teacher-force the greedy output: the decoder is causal, so
            # this gives the weights each output token was chosen with.
            target_in = tf.concat(
                [tf.fill([tf.shape(ids)[0], 1], START_ID), ids[:, :-1]], axis=1
            )
            weights = self.weights_model([source_ids, target_in])
            # [N, T, S]: rows of output tokens only (the end token and
            # padding dropped).
            lengths = tokens.row_lengths()
            real = tf.sequence_mask(lengths, tf.shape(weights)[1])
            weights = tf.where(real[:, :, None], weights, 0.0)
            outputs["attention"] = weights[:, :tf.shape(outputs["output_tokens"])[1]]
        return outputs


def serving_endpoints(seq2seq, beam_width):
    """`serving_default` (beam search) and `translate_greedy` (with weights).

    Bytes that are not UTF-8 are read as U+FFFD.
    """
    text = [tf.TensorSpec([None], tf.string, name="text")]
    return {
        "serving_default": (
            lambda t: {"translation": seq2seq.translate(t, beam_width)}, text
        ),
        "translate_greedy": (seq2seq.explain, text),
    }


def teacher_forcing_batches(config, source_ids, target_ids, shuffle=False):
    """`((source, target_in), target_out)` batches, padded with 0.

    Args:
        source_ids, target_ids: Equally long lists of id lists, without
            padding (held in memory; `pair_batches` streams pairs).
    """
    target_in = [[START_ID] + t for t in target_ids]
    target_out = [t + [END_ID] for t in target_ids]
    batches = pipeline.id_sequence_batches(
        (source_ids, target_in, target_out),
        training.global_batch_size(config),
        bucket=config.bucket, shuffle=shuffle, seed=config.seed,
    )
    return batches.map(_model_inputs)


def _model_inputs(source, target_in, target_out):
    """Aligned id batches as Keras' `(inputs, targets)`."""
    return (source, target_in), target_out


def pair_batches(config, pairs_dataset, source_layer, target_layer,
                 shuffle=False):
    """`teacher_forcing_batches` of a dataset of `(source, target)` strings.

    The pairs are turned into ids as they stream, in tf.data, by the
    model's text layers (`pipeline.CHUNK` sentences at a time), then
    batched by `pipeline.id_sequence_stream`.

    Args:
        config: A `Config` (batch size, `max_length`, bucketing, seed).
        pairs_dataset: A dataset of `(source, target)` string scalars.
        source_layer, target_layer: The `TextToIds` of `make_vocabularies`.
        shuffle: Reshuffle the pairs (and batches) every epoch.
    """
    def ids(layer, texts):
        # [CHUNK, time] padded with 0 (never a token's id) -> rows of ids.
        return tf.RaggedTensor.from_tensor(
            tf.cast(layer(texts), tf.int32), padding=0)

    def shifted(sources, targets):
        targets = ids(target_layer, targets)
        rows = targets.nrows()
        return (
            ids(source_layer, sources),
            tf.concat([tf.fill([rows, 1], START_ID), targets], axis=1),
            tf.concat([targets, tf.fill([rows, 1], END_ID)], axis=1),
        )

    examples = pipeline.unbatch_rows(pairs_dataset.batch(pipeline.CHUNK).map(
        shifted, num_parallel_calls=tf.data.AUTOTUNE,
    ), like=pairs_dataset)
    # A target of max_length tokens and its start or end token.
    batches = pipeline.id_sequence_stream(
        examples, training.global_batch_size(config), config.max_length + 1,
        bucket=config.bucket, shuffle=shuffle, seed=config.seed,
    )
    return batches.map(_model_inputs)


def _translate_all(run, sources, batch_size, progress=True):
    """`run` (strings `[N]` -> translations `[N]`) over the list `sources`,
    `batch_size` at a time; a list of strings."""
    found = []
    bar = (keras.utils.Progbar(len(sources), unit_name="sentence")
           if progress else None)
    for start in range(0, len(sources), batch_size):
        batch = sources[start:start + batch_size]
        found.extend(t.decode("utf-8") for t in run(tf.constant(batch)).numpy())
        if bar is not None:
            bar.add(len(batch))
    return found


def evaluate(seq2seq, sources, targets, beam_width, batch_size=64):
    """BLEU and chrF of greedy and beam-search translations of `sources`.

    Returns:
        The metrics (`bleu_greedy`, `chrf_greedy`, `bleu_beam`, `chrf_beam`)
        and the translations (`{"greedy": [...], "beam": [...]}`).
    """
    results, translations = {}, {}
    for name, width in (("greedy", 1), ("beam", beam_width)):
        run = tf.function(
            lambda text, width=width: seq2seq.translate(text, width),
            reduce_retracing=True,
        )
        found = _translate_all(run, sources, batch_size)
        translations[name] = found
        results[f"bleu_{name}"] = zoo_metrics.corpus_bleu(found, targets)
        results[f"chrf_{name}"] = zoo_metrics.corpus_chrf(found, targets)
        logging.info("%s: BLEU %.2f, chrF %.2f", name,
                     results[f"bleu_{name}"], results[f"chrf_{name}"])
    return results, translations


def validation_bleu(seq2seq, sources, targets, batch_size=64):
    """`validate(model) -> {"val_bleu_greedy": BLEU}`: corpus BLEU of the
    greedy translations of the validation pairs (lists of strings), the
    recipe's selection metric (see `SELECTION`)."""
    run = tf.function(lambda text: seq2seq.translate(text, 1),
                      reduce_retracing=True)

    def validate(model):
        found = _translate_all(run, sources, batch_size, progress=False)
        return {"val_bleu_greedy": zoo_metrics.corpus_bleu(found, targets)}

    return validate


def draw_attention(seq2seq, sources, folder):
    """Heat maps of the greedy translation of each source; returns paths."""
    if not sources:
        return []
    found = seq2seq.explain(tf.constant(sources))
    paths = []
    for i, text in enumerate(sources):
        source = [t.decode() for t in found["source_tokens"][i].numpy() if t]
        output = [t.decode() for t in found["output_tokens"][i].numpy() if t]
        weights = found["attention"][i].numpy()[:len(output), :len(source)]
        paths.append(plots.attention_heatmap(
            weights, source, output, f"{folder}/{i}.png",
            title=found["translation"][i].numpy().decode(),
        ))
    return paths


class Translate(training.Task):
    """Translation as a `zoo.training.Task`."""

    Config = Config
    selection = SELECTION

    def data(self, config, workdir):
        if config.attention == "none" and not config.bridge:
            raise ValueError(
                "--attention=none needs --bridge: without attention and "
                "without the encoder's final states nothing of the source "
                "reaches the decoder"
            )
        self.workdir = workdir
        streams = pairs.stream(
            config.data, training.records_folder(workdir),
            reverse=config.reverse, max_words=config.max_words or None,
            test_size=config.test_size, seed=TEST_SPLIT_SEED,
            tfds_data_dir=config.tfds_data_dir or None,
        )
        self.test = streams.test
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
        return pair_batches(config, examples, self.source, self.target,
                            shuffle=training)

    def test_batches(self, config, test, batch_size):
        # The test split is small (--test_size pairs, or tfds' test split):
        # its sentences and references are held for BLEU and heat maps.
        return pairs.as_lists(test)

    def build(self, config):
        model = build_model(config, *self.sizes.values())
        self.seq2seq = Seq2Seq(model, config, self.source,
                               self.target.get_vocabulary())
        return model

    def compile(self, model, config):
        training.compile_classifier(
            model, config,
            loss=zoo_metrics.SequenceCrossentropy(config.label_smoothing),
            metrics=(),
        )

    def validate(self, model, config, validation, validation_batches):
        return validation_bleu(self.seq2seq, *pairs.as_lists(validation))

    def after_fit(self, model, config, train, validation, history):
        heatmaps = []
        if config.attention != "none" and training.is_chief():
            heatmaps = draw_attention(
                self.seq2seq,
                pairs.as_lists(self.test.take(config.heatmaps))[0],
                f"{self.workdir}/attention",
            )
        return model, {**self.sizes, "heatmaps": heatmaps}

    def evaluate(self, model, config, test_batches):
        return _evaluate_and_keep(self.seq2seq, test_batches,
                                  config.beam_width, self.workdir)

    def endpoints(self, model, config):
        return serving_endpoints(self.seq2seq, config.beam_width)

    def track(self, model):
        return [self.source]


def _evaluate_and_keep(seq2seq, test, beam_width, workdir):
    """`evaluate`, writing the translations to `<workdir>/translations.tsv`."""
    sources, targets = test
    results, translations = evaluate(seq2seq, sources, targets, beam_width)
    if not training.is_chief():  # Another worker writes them.
        return results
    with open(f"{workdir}/translations.tsv", "w", encoding="utf-8") as f:
        f.write("source\treference\tgreedy\tbeam\n")
        for row in zip(sources, targets, translations["greedy"],
                       translations["beam"]):
            f.write("\t".join(" ".join(x.split()) for x in row) + "\n")
    return results


def train_and_evaluate(config, workdir, callbacks=()):
    """`zoo.training.run(Translate(), ...)`: trains, evaluates and exports;
    returns the metrics written to `<workdir>/metrics.json`."""
    return training.run(Translate(), config, workdir, callbacks)


if __name__ == "__main__":
    zoo_flags.run(Config, train_and_evaluate)
