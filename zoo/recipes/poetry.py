r"""Character language model: Tang poems (or any text), with generation.

    python -m zoo.recipes.poetry --data=../shared/data/tang_poems/poems.jsonl.gz

A stacked recurrent network reads a text one character at a time and
scores the next one (inputs and targets are the same sequence shifted by
one step; padding is masked out of the loss). Each poem is one sequence
between a begin and an end marker; running text (a `.txt` file or
tensorflow-datasets `tiny_shakespeare`) is cut into windows of `--window`
characters after a begin marker. Characters are Unicode code points after
NFC normalization, the `--max_tokens` most frequent of the training split
(rarer ones share the unknown id).

The texts stream from disk: local files are read once, with their checks,
into `<workdir>/data/texts.tfrecord` (`zoo.data.poems.stream`), which
every later pass reads; ids and batches are made in tf.data, and training
texts are shuffled within `zoo.data.pipeline.SHUFFLE_BUFFER` of them.

Generation draws one character at a time (`zoo.decoding.sample`:
temperature, top-k, top-p, a seed; temperature 0 is greedy) after an
optional prompt. For poems, `Poet.compose` writes a regular poem: 5- or
7-character lines, 4 or 8 of them, "，" after odd and "。" after even
lines, and optionally an acrostic (藏头诗: given characters begin the
lines). The form is enforced while decoding: at every step the step
function allows only the characters the form permits there.

`metrics.json` holds `test_bpc` (bits per character of the held-out
texts, the end marker counted as one character), the unigram and bigram
baselines of the same split (`unigram_bpc`, `bigram_bpc`, see
`zoo.metrics.ngram_bits_per_symbol`), `validation_bpc`, `form_rate` (the
share of composed poems that have the requested form) and
`wall_seconds`; `<workdir>/samples.txt` holds generated texts. The export
`saved_models/poetry/<version>/` has `generate` (`prompt` string `[N]`,
`max_length`, `temperature`, `top_k`, `seed` -> `text` `[N]`: the prompt
and its continuation; also `serving_default`), `score` (`text` `[N]` ->
`bpc` `[N]`) and, for poems, `compose` (`acrostic` string `[N]`,
`characters`, `lines`, `temperature`, `top_k`, `seed` -> `text` `[N]`).
"""

import unicodedata

import dataclasses

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from zoo import decoding
from zoo import layers
from zoo import metrics as zoo_metrics
from zoo import training
from zoo import utils
from zoo.data import pipeline
from zoo.data import poems as poems_lib
from zoo.layers import text as text_lib
from zoo.training import flags as zoo_flags

# Reserved ids after padding (0) and unknown (1).
BEGIN, END = "<s>", "</s>"
BEGIN_ID, END_ID = 2, 3
# Punctuation of the regular forms: after odd lines, after even lines.
COMMA, PERIOD = "，", "。"
FORMS = {"characters": (5, 7), "lines": (4, 8)}
# Prompts and scored texts are read up to this many characters.
MAX_TEXT = 1024
# Longest continuation `generate` writes (longer requests are cut to it).
MAX_GENERATE = 512
# Width of the decoders' buffers: the longest text and its end marker.
WIDTH = MAX_GENERATE + 1
# The held-out poems do not change with --seed.
TEST_SPLIT_SEED = 0
# Template entries of constrained decoding (other entries are forced ids).
FREE, CONTENT = -1, -2


@dataclasses.dataclass
class Config(training.TrainConfig):
    """Settings of this recipe, one flag each; the defaults are its default
    preset (`recipes/poetry/tang.flags` holds the same values)."""

    WORKDIR = "workdirs/poetry"

    data: str = "tiny_shakespeare"
    export_dir: str = "saved_models/poetry"
    # A budget of 2,500 steps in epochs of 500, whatever the corpus's size,
    # stopped sooner when the validation bits stop falling. A step is 64
    # poems (about 60 characters each) or 64 windows of 64 characters:
    # about 10 million characters in all.
    epochs: int = 5
    steps_per_epoch: int = 500
    batch_size: int = 64
    learning_rate: float = 0.002
    lr_decay: float = 0.5
    lr_patience: int = 1
    patience: int = 2
    clipnorm: float = 5.0
    cell: str = "lstm"
    units: int = 512
    layers: int = 1
    dropout: float = 0.0
    validation_fraction: float = 0.02
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
    embedding_dim: int = training.setting(
        256, "Character embedding width.", lower=1)
    output_dropout: float = training.setting(
        0.1, "Dropout before the output layer.", lower=0.0, upper=0.99)
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
    bucket: bool = training.setting(
        True, "Batch texts of similar length together.")


# The epoch whose weights are tested and exported: the fewest bits per
# character of the validation texts.
SELECTION = training.Selection("val_bpc", "min")


def make_text_layer(config, texts):
    """Characters -> ids, the vocabulary fit on `texts` (begin, end first):
    strings, an iterable or a `tf.data.Dataset`."""
    layer = layers.TextToIds(
        config.max_tokens, MAX_TEXT, lowercase=False, split="character",
        normalize="NFC", name="characters",
    )
    layer.fit_vocabulary(texts, reserved=[BEGIN, END])
    return layer


def build_model(config, vocabulary_size):
    """Ids `[batch, time]` (0 = padding) -> next-character logits.

    Layer names are what `Poet` looks up to generate step by step.
    """
    if config.bidirectional:
        raise ValueError(
            "Received bidirectional=True; a language model reads left to "
            "right (it must not see the character it predicts)"
        )
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    x = keras.layers.Embedding(
        vocabulary_size, config.embedding_dim, mask_zero=True,
        name="embedding",
    )(ids)
    h, *_ = layers.StackedRNN(
        config.cell, units=config.units, num_layers=config.layers,
        residual=config.residual, dropout=config.dropout,
        recurrent_dropout=config.recurrent_dropout, return_sequences=True,
        return_state=True, seed=config.seed, name="rnn",
    )(x)
    h = keras.layers.Dropout(config.output_dropout, name="output_dropout")(h)
    logits = keras.layers.Dense(vocabulary_size, name="logits")(h)
    return keras.Model(ids, logits, name="char_lm")


def is_content(character):
    """True for a character a poem line may hold: not punctuation, space,
    symbol or control."""
    return unicodedata.category(character)[0] in "LN"


def poem_form(text, characters, lines, acrostic=""):
    """True if `text` is a regular poem of that form (see `Poet.compose`).

    Line `i` must begin with `acrostic[i]` (whatever character it is);
    every other character of a line is content (`is_content`).
    """
    expected = lines * (characters + 1)
    if len(text) != expected:
        return False
    for line in range(lines):
        row = text[line * (characters + 1):(line + 1) * (characters + 1)]
        given = line < len(acrostic)
        if given and row[0] != acrostic[line]:
            return False
        # An acrostic character may be anything; the rest are content.
        if not all(is_content(c) for c in row[int(given):-1]):
            return False
        if row[-1] != (COMMA if line % 2 == 0 else PERIOD):
            return False
    return True


class Poet:
    """Generation and scoring with a trained `build_model` model.

    Args:
        model: The model from `build_model`.
        text_layer: The `TextToIds` of `make_text_layer`.
        poems: Whether the model was trained on poems (sequences end with
            the end marker) rather than windows of running text.
    """

    def __init__(self, model, text_layer, poems):
        self.model = model
        self.text_layer = text_layer
        self.poems = bool(poems)
        # A poem may end anywhere; running text has no end in training.
        self.last_reserved = BEGIN_ID if self.poems else END_ID
        vocabulary = [str(t) for t in text_layer.get_vocabulary()]
        self.vocabulary = tf.constant(vocabulary)
        content = [
            i > END_ID and len(t) == 1 and is_content(t)
            for i, t in enumerate(vocabulary)
        ]
        self.content = tf.constant(content)
        ids = {t: i for i, t in enumerate(vocabulary)}
        self.punctuation = (ids.get(COMMA), ids.get(PERIOD))
        self.can_compose = (
            self.poems and None not in self.punctuation and any(content)
        )

    def char_ids(self, text):
        """Strings `[N]` -> ragged character ids, no markers (1 = unknown)."""
        return char_ids(self.text_layer, text)

    def marked_ids(self, text):
        """`[BEGIN] + character ids (+ [END] for poems)`, ragged `[N, (n)]`."""
        return marked_ids(self.text_layer, text, self.poems)

    def prime(self, text):
        """Reads `[BEGIN] + text` but its last id: the decoders' start.

        Returns:
            `(start_tokens [N], states)`: the last id of each row (BEGIN_ID
            for an empty text) and the recurrent states before it.
        """
        # The last MAX_TEXT characters: what comes next depends on them.
        characters = tf.strings.unicode_split(
            self.text_layer.standardize(text), "UTF-8")
        tail = tf.strings.reduce_join(characters[:, -MAX_TEXT:], axis=1)
        sequence = marked_ids(self.text_layer, tail, end=False)
        start = tf.gather(sequence.flat_values, sequence.row_limits() - 1)
        # At least one (padding) step: a row with nothing before its last
        # id keeps the initial (zero) states.
        before = text_lib.at_least_steps(
            sequence[:, :-1].to_tensor(default_value=0), 1)
        get = self.model.get_layer
        _, *states = get("rnn")(
            get("embedding")(before), mask=tf.not_equal(before, 0),
            training=False,
        )
        return start, states

    def next(self, tokens, state, index):
        """One step: `zoo.decoding`'s `next_fn`, with the template's limits.

        `state["template"]` `[N, max_length]` says what step `index` may
        emit: any character but padding, unknown and begin, and for
        running text the end marker (`FREE`), a content character
        (`CONTENT`), or one forced id.
        """
        get = self.model.get_layer
        y = get("embedding")(tokens[:, None])  # [N, 1, embedding].
        out, *states = get("rnn")(y, initial_state=state["states"],
                                  training=False)
        logits = get("logits")(out[:, 0])
        slot = tf.gather(state["template"], index, axis=1)[:, None]  # [N, 1].
        ids = tf.range(tf.shape(logits)[-1])[None, :]
        allowed = tf.where(
            slot == FREE, ids > self.last_reserved,
            tf.where(slot == CONTENT, self.content[None, :], ids == slot),
        )
        logits = tf.where(allowed, logits, tf.constant(-np.inf, logits.dtype))
        return logits, {**state, "states": states}

    def _decode(self, start, states, template, temperature, top_k, top_p,
                seed):
        """Sampled ids `[N, WIDTH]` under `template` `[N, WIDTH]`."""
        ids, _, _ = decoding.sample(
            self.next, start, {"states": states, "template": template},
            WIDTH, END_ID, temperature=temperature, top_k=top_k,
            top_p=top_p, seed=seed,
        )
        return ids

    def _strings(self, ids):
        """Ids `[N, T]` -> characters `[N, T]`, "" from the end marker on."""
        ended = tf.cumsum(tf.cast(tf.equal(ids, END_ID), tf.int32), axis=1) > 0
        return tf.gather(self.vocabulary, tf.where(ended, 0, ids))

    def generate(self, prompt, max_length=100, temperature=1.0, top_k=0,
                 seed=0, top_p=1.0):
        """Continues each prompt; returns prompt + continuation `[N]`.

        A prompt is NFC normalized (bytes that are not UTF-8 become
        U+FFFD) and returned whole; its last `MAX_TEXT` characters are
        read, characters outside the vocabulary as the unknown id (they
        stay as written). An empty prompt starts a text from the begin
        marker. The continuation stops at the end marker
        or after `max_length` characters (at most `MAX_GENERATE`; 0 or
        less: none); it never holds the unknown character. The sampling
        arguments are `zoo.decoding.sample`'s and may be tensors.

        Raises:
            tf.errors.InvalidArgumentError: A tensor `temperature` is not
                a finite number >= 0, or a tensor `top_k` is negative.
        """
        temperature, top_k = _check_sampling(temperature, top_k)
        start, states = self.prime(prompt)
        max_length = tf.clip_by_value(
            tf.cast(max_length, tf.int32), 0, MAX_GENERATE
        )
        # Free up to max_length, then the end marker.
        row = tf.where(tf.range(WIDTH) < max_length, FREE, END_ID)
        template = tf.tile(row[None, :], [tf.shape(start)[0], 1])
        ids = self._decode(start, states, template, temperature, top_k,
                           top_p, seed)
        text = tf.strings.reduce_join(self._strings(ids), axis=1)
        return tf.strings.join([self.text_layer.standardize(prompt), text])

    def compose(self, acrostic, characters=5, lines=4, temperature=1.0,
                top_k=0, seed=0, top_p=1.0):
        """Writes regular poems, one per acrostic string `[N]`.

        Each poem has `lines` lines of `characters` content characters
        (letters or digits: no punctuation, space or symbol), "，" after
        odd lines and "。" after even ones, then the end marker. Line `i`
        begins with the `i`-th character of its acrostic string, if any:
        an empty string means no acrostic, characters beyond `lines` are
        ignored, and a character the model does not know is written as
        given. Forms other than 5 or 7 characters and 4 or 8 lines work
        the same way, up to `MAX_GENERATE` characters.

        Raises:
            ValueError: The model cannot write poems (not trained on
                poems, or its vocabulary lacks "，" or "。"), or `characters`
                or `lines` is not a positive integer, or the poem would be
                longer than `MAX_GENERATE` characters.
            tf.errors.InvalidArgumentError: The same for tensor
                `characters` and `lines` (a serving signature's inputs),
                or a tensor `temperature` that is not a finite number >= 0
                or a negative tensor `top_k`.
        """
        if not self.can_compose:
            raise ValueError(
                "This model cannot compose poems: it was not trained on "
                "poems, or its vocabulary lacks '，' or '。'"
            )
        characters, lines = _check_form(characters, lines)
        temperature, top_k = _check_sampling(temperature, top_k)
        width = characters + 1  # A line and its punctuation mark.
        end = lines * width
        positions = tf.range(WIDTH)
        line, column = positions // width, positions % width
        comma, period = self.punctuation
        template = tf.where(
            column == characters, tf.where(line % 2 == 0, comma, period),
            CONTENT,
        )
        template = tf.where(positions >= end, END_ID, template)[None, :]
        # The acrostic, [N, WIDTH]: the id (and the character as written)
        # that begins line i, at column i; CONTENT (and "") where none.
        first = _columns(self.char_ids(acrostic), lines, CONTENT)
        given = _columns(tf.strings.unicode_split(
            self.text_layer.standardize(acrostic), "UTF-8"), lines, "")
        begins = tf.logical_and(column == 0, positions < end)[None, :]
        template = tf.where(begins, tf.gather(first, line, axis=1), template)
        start, states = self.prime(tf.fill(tf.shape(acrostic), ""))
        ids = self._decode(start, states, template, temperature, top_k,
                           top_p, seed)
        given = tf.gather(given, line, axis=1)
        strings = tf.where(tf.logical_and(begins, given != ""), given,
                           self._strings(ids))
        return tf.strings.reduce_join(strings, axis=1)

    def bits(self, text):
        """Bits of each text `[N]` and the characters they are over `[N]`.

        A text is read as `[BEGIN] + characters (+ [END] for poems)`; every
        id after the begin marker is predicted (the end marker counts as a
        character). Only a text's first `MAX_TEXT` characters are read.
        """
        # At least one (padding) step, for a batch of none or of texts
        # with nothing to predict.
        sequence = text_lib.at_least_steps(
            self.marked_ids(text).to_tensor(), 2)
        inputs, targets = sequence[:, :-1], sequence[:, 1:]
        logits = self.model(inputs, training=False)
        nats = tf.nn.sparse_softmax_cross_entropy_with_logits(
            targets, tf.cast(logits, tf.float32)
        )
        real = tf.not_equal(targets, 0)
        bits = tf.reduce_sum(tf.where(real, nats, 0.0), axis=1) / np.log(2.0)
        return bits, tf.reduce_sum(tf.cast(real, tf.float32), axis=1)

    def score(self, text):
        """Bits per character of each text `[N]` (NaN if none is scored)."""
        bits, count = self.bits(text)
        return tf.math.divide_no_nan(bits, count) + tf.where(
            count > 0, 0.0, np.nan
        )



def _check_form(characters, lines):
    """Validates a poem form; returns int32 tensors."""
    if not tf.is_tensor(characters):
        characters = utils.check_positive_int("characters", characters)
    if not tf.is_tensor(lines):
        lines = utils.check_positive_int("lines", lines)
    if not tf.is_tensor(characters) and not tf.is_tensor(lines):
        if lines * (characters + 1) > MAX_GENERATE:
            raise ValueError(
                f"Received a form of {lines} lines of {characters} "
                f"characters: {lines * (characters + 1)} characters with "
                f"punctuation, expected at most {MAX_GENERATE}"
            )
    characters = tf.cast(characters, tf.int32)
    lines = tf.cast(lines, tf.int32)
    # In int64: the product of two int32 values could wrap around.
    length = tf.cast(lines, tf.int64) * (tf.cast(characters, tf.int64) + 1)
    checks = [
        tf.debugging.assert_positive(characters, "characters must be >= 1"),
        tf.debugging.assert_positive(lines, "lines must be >= 1"),
        tf.debugging.assert_less_equal(
            length, tf.constant(MAX_GENERATE, tf.int64),
            f"a poem must have at most {MAX_GENERATE} characters with "
            "punctuation",
        ),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(characters), tf.identity(lines)


def _check_sampling(temperature, top_k):
    """Validates tensor sampling settings at run time; returns them.

    Python numbers pass as given (`zoo.decoding.sample` validates them);
    a tensor `temperature` must be finite and >= 0 and a tensor `top_k`
    >= 0, or the call fails with an error naming the argument.
    """
    if tf.is_tensor(temperature):
        temperature = tf.debugging.assert_all_finite(
            tf.cast(temperature, tf.float32),
            "temperature must be a finite number >= 0 (0 = greedy)",
        )
        check = tf.debugging.assert_greater_equal(
            temperature, 0.0, "temperature must be >= 0 (0 = greedy)")
        with tf.control_dependencies([check]):
            temperature = tf.identity(temperature)
    if tf.is_tensor(top_k):
        check = tf.debugging.assert_non_negative(
            top_k, "top_k must be >= 0 (0 = all characters)")
        with tf.control_dependencies([check]):
            top_k = tf.identity(top_k)
    return temperature, top_k


def _columns(ragged, lines, default):
    """The first `lines` entries of each row, padded to `[N, WIDTH]`."""
    dense = ragged[:, :lines].to_tensor(default_value=default)
    dense = dense[:, :WIDTH]
    return tf.pad(dense, [[0, 0], [0, WIDTH - tf.shape(dense)[1]]],
                  constant_values=default)


def serving_endpoints(poet):
    """`generate` (also `serving_default`), `score`, and `compose` for a
    model of poems.

    A `temperature` that is not a finite number >= 0, a negative `top_k`
    and a form `compose` cannot write (see `Poet.compose`) are refused
    with an error naming them. Bytes that are not UTF-8 are read as U+FFFD.
    """
    def scalar(dtype, name):
        return tf.TensorSpec([], dtype, name=name)

    endpoints = {
        "generate": (
            lambda prompt, max_length, temperature, top_k, seed: {
                "text": poet.generate(prompt, max_length, temperature,
                                      top_k, seed)
            },
            [tf.TensorSpec([None], tf.string, name="prompt"),
             scalar(tf.int32, "max_length"), scalar(tf.float32, "temperature"),
             scalar(tf.int32, "top_k"), scalar(tf.int64, "seed")],
        ),
        "score": (
            lambda text: {"bpc": poet.score(text)},
            [tf.TensorSpec([None], tf.string, name="text")],
        ),
    }
    endpoints["serving_default"] = endpoints["generate"]
    if poet.can_compose:
        endpoints["compose"] = (
            lambda acrostic, characters, lines, temperature, top_k, seed: {
                "text": poet.compose(acrostic, characters, lines,
                                     temperature, top_k, seed)
            },
            [tf.TensorSpec([None], tf.string, name="acrostic"),
             scalar(tf.int32, "characters"), scalar(tf.int32, "lines"),
             scalar(tf.float32, "temperature"), scalar(tf.int32, "top_k"),
             scalar(tf.int64, "seed")],
        )
    return endpoints


def char_ids(text_layer, text):
    """Strings `[N]` -> ragged character ids, no markers (1 = unknown).

    Only the first `MAX_TEXT` characters of a text are read.
    """
    ids = tf.cast(text_layer(text), tf.int32)
    return tf.RaggedTensor.from_tensor(ids, padding=0)


def marked_ids(text_layer, text, end):
    """`[BEGIN] + character ids (+ [END] if `end`)`, ragged `[N, (n)]`."""
    chars = char_ids(text_layer, text)
    n = tf.shape(chars.row_lengths())[0]
    parts = [tf.fill([n, 1], BEGIN_ID), chars]
    if end:
        parts.append(tf.fill([n, 1], END_ID))
    return tf.concat(parts, axis=1)


def id_chunks(layer, texts, poems, chunk=pipeline.CHUNK):
    """A dataset of strings -> their `marked_ids`, `chunk` texts at a time.

    Returns:
        A dataset of int32 ragged batches `[chunk, (n)]` (the last one
        may be smaller).
    """
    return texts.batch(chunk).map(
        lambda batch: marked_ids(layer, batch, poems),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True,
    )


def _rows(chunks):
    """The rows of `id_chunks`' batches, as numpy vectors."""
    for batch in chunks:
        values, splits = batch.flat_values.numpy(), batch.row_splits.numpy()
        for start, end in zip(splits[:-1], splits[1:]):
            yield values[start:end]


def sequences(layer, texts, poems, batch_size=1024):
    """Each text's ids with the markers, as lists (see `marked_ids`)."""
    texts = tf.data.Dataset.from_tensor_slices(tf.constant(texts, tf.string))
    return [row.tolist()
            for row in _rows(id_chunks(layer, texts, poems, batch_size))]


def shifted_batches(config, ids, shuffle=False):
    """`(inputs, targets)` batches: each sequence and itself one step on."""
    return pipeline.id_sequence_batches(
        ([s[:-1] for s in ids], [s[1:] for s in ids]),
        training.global_batch_size(config),
        bucket=config.bucket, shuffle=shuffle, seed=config.seed,
    )


def char_batches(config, layer, texts, poems, shuffle=False):
    """`shifted_batches` of a dataset of strings, made in tf.data.

    The texts become ids `pipeline.CHUNK` at a time (`marked_ids`), then
    batch as `pipeline.id_sequence_stream` batches them: with `shuffle`,
    drawn at random from the next `pipeline.SHUFFLE_BUFFER`, anew every
    epoch.
    """
    pairs = id_chunks(layer, texts, poems).unbatch().map(
        lambda ids: (ids[:-1], ids[1:]))
    # No input is longer than the begin marker and MAX_TEXT characters.
    return pipeline.id_sequence_stream(
        pairs, training.global_batch_size(config), MAX_TEXT + 1,
        bucket=config.bucket, shuffle=shuffle, seed=config.seed,
    )


def mean_targets(chunks):
    """Ids predicted per sequence (all but the first), on average, of
    `id_chunks`' batches."""
    total, count = chunks.reduce(
        (tf.constant(0, tf.int64), tf.constant(0, tf.int64)),
        lambda found, ids: (found[0] + tf.reduce_sum(ids.row_lengths() - 1),
                            found[1] + ids.nrows()),
    )
    return float(total) / max(int(count), 1)


def bits_per_character(poet, texts, batch_size=64, bits_of=None,
                       progress=True):
    """Bits per character of the dataset of strings `texts` as a whole,
    and their character count.

    The bits of every text summed, over the characters summed (see
    `Poet.bits`), so a long text weighs more than a short one. `bits_of`:
    `poet.bits` as a `tf.function` made once, for repeated calls.
    """
    bits_of = bits_of or tf.function(poet.bits, reduce_retracing=True)
    total_bits = total_count = 0.0
    size = int(texts.cardinality())
    bar = (keras.utils.Progbar(size if size >= 0 else None, unit_name="text")
           if progress else None)
    for batch in texts.batch(batch_size):
        bits, count = bits_of(batch)
        total_bits += float(tf.reduce_sum(bits))
        total_count += float(tf.reduce_sum(count))
        if bar is not None:
            bar.add(int(tf.size(batch)))
    return total_bits / max(total_count, 1.0), int(total_count)


def validation_bpc(poet, texts):
    """`validate(model) -> {"val_bpc": bits per character}` of the
    validation texts: the recipe's selection metric (`SELECTION`)."""
    bits_of = tf.function(poet.bits, reduce_retracing=True)
    return lambda model: {"val_bpc": bits_per_character(
        poet, texts, bits_of=bits_of, progress=False)[0]}


def evaluate(poet, train_texts, test_texts, vocabulary_size):
    """Test bits per character, next to the n-gram baselines fit on the
    training texts (`train_texts` and `test_texts` are datasets of
    strings)."""
    test_bpc, count = bits_per_character(poet, test_texts)
    unigram, bigram = zoo_metrics.ngram_bits_per_symbol(
        *(_rows(id_chunks(poet.text_layer, texts, poet.poems))
          for texts in (train_texts, test_texts)),
        vocabulary_size,
    )
    results = {
        "test_bpc": test_bpc,
        "unigram_bpc": unigram,
        "bigram_bpc": bigram,
        "test_characters": count,
    }
    logging.info("Test: %.3f bits per character (unigram %.3f, bigram %.3f)",
                 results["test_bpc"], unigram, bigram)
    return results


def write_samples(poet, config, path):
    """Generates the samples; writes them to `path`; returns their metrics.

    `path` None: only returns them (a worker that is not the chief).

    Free texts from an empty prompt; for poems also 5x4 and 7x4 poems and
    acrostic 5x4 poems (`config.acrostic`). `form_rate` is the share of
    composed poems with the requested form.
    """
    if not config.samples:
        return {}
    settings = dict(temperature=config.temperature, top_k=config.top_k,
                    top_p=config.top_p, seed=config.seed)
    empty = tf.constant([""] * config.samples, tf.string)
    if poet.poems:
        length = config.max_chars or MAX_GENERATE
    else:
        length = config.window
    kinds = {"free": poet.generate(empty, length, **settings)}
    forms = {}
    if poet.can_compose:
        for characters, lines in ((5, 4), (7, 4)):
            kinds[f"{characters}x{lines}"] = poet.compose(
                empty, characters, lines, **settings)
            forms[f"{characters}x{lines}"] = (characters, lines, "")
        acrostic = tf.constant([config.acrostic] * config.samples, tf.string)
        kinds["acrostic"] = poet.compose(acrostic, 5, 4, **settings)
        # As composed: NFC normalized.
        forms["acrostic"] = (5, 4, unicodedata.normalize("NFC",
                                                         config.acrostic))
    samples = {k: [t.decode("utf-8") for t in v.numpy()]
               for k, v in kinds.items()}
    if path is not None:
        with open(path, "w", encoding="utf-8") as f:
            for kind, texts in samples.items():
                f.write(f"# {kind}\n" + "".join(f"{t}\n" for t in texts))
    checked = [poem_form(t, *forms[k]) for k in forms for t in samples[k]]
    results = {"samples": samples}
    if checked:
        results["form_rate"] = sum(checked) / len(checked)
    return results


class Poetry(training.Task):
    """A character language model as a `zoo.training.Task`."""

    Config = Config
    selection = SELECTION

    def data(self, config, workdir):
        self.workdir = workdir
        streams = poems_lib.stream(
            config.data, training.records_folder(workdir),
            test_size=config.test_size, window=config.window,
            max_chars=config.max_chars, seed=TEST_SPLIT_SEED,
            tfds_data_dir=config.tfds_data_dir or None,
        )
        self.poems = streams.poems
        return training.Data(streams.train, streams.test, streams.train_size,
                             streams.test_size, streams.source)

    def adapt(self, config, train):
        self.train = train  # For the unigram and bigram baselines.
        self.text_layer = make_text_layer(config, train)
        self.vocabulary_size = len(self.text_layer.get_vocabulary())
        logging.info("Vocabulary: %d characters", self.vocabulary_size)
        self.mean_length = mean_targets(
            id_chunks(self.text_layer, train, self.poems))

    def batches(self, config, examples, batch_size, training):
        return char_batches(config, self.text_layer, examples, self.poems,
                            shuffle=training)

    def test_batches(self, config, test, batch_size):
        return test  # Texts: `evaluate` scores them character by character.

    def build(self, config):
        model = build_model(config, self.vocabulary_size)
        self.poet = Poet(model, self.text_layer, self.poems)
        return model

    def compile(self, model, config):
        # Every character weighs the same in training, as in `test_bpc`,
        # however many characters its length-bucketed batch holds.
        training.compile_classifier(
            model, config,
            loss=zoo_metrics.SequenceCrossentropy(
                tokens_per_batch=float(config.batch_size * self.mean_length)
            ),
            metrics=(),
        )

    def validate(self, model, config, validation, validation_batches):
        return validation_bpc(self.poet, validation)

    def after_fit(self, model, config, train, validation, history):
        return model, {"vocabulary_size": self.vocabulary_size}

    def evaluate(self, model, config, test_batches):
        results = evaluate(self.poet, self.train, test_batches,
                           self.vocabulary_size)
        path = f"{self.workdir}/samples.txt" if training.is_chief() else None
        return {**results, **write_samples(self.poet, config, path)}

    def endpoints(self, model, config):
        return serving_endpoints(self.poet)

    def track(self, model):
        return [self.text_layer]


def train_and_evaluate(config, workdir, callbacks=()):
    """`zoo.training.run(Poetry(), ...)`: trains, evaluates and exports;
    returns the metrics written to `<workdir>/metrics.json`."""
    return training.run(Poetry(), config, workdir, callbacks)


if __name__ == "__main__":
    zoo_flags.run(Config, train_and_evaluate)
