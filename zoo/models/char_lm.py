"""A character language model, and generation and scoring with it.

`CharLM` is the Keras model (ids -> next-character logits); its `states`
and `next` are the step functions `zoo.decoding` drives. `Generator`
wraps a trained model and its `zoo.layers.TextToIds`: strings in,
continuations and bits per character out. A text is read as
`[BEGIN] + characters (+ [END] for poems)`.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from zoo import decoding
from zoo import progress
from zoo import layers
from zoo.layers import text as text_lib
from zoo.models import base

# Reserved ids after padding (0) and unknown (1).
BEGIN, END = "<s>", "</s>"
BEGIN_ID, END_ID = 2, 3
# Prompts and scored texts are read up to this many characters.
MAX_TEXT = 1024
# Longest continuation `generate` writes (longer requests are cut to it).
MAX_GENERATE = 512
# Width of the decoders' buffers: the longest text and its end marker.
WIDTH = MAX_GENERATE + 1


@keras.saving.register_keras_serializable(package="zoo")
class CharLM(base.ConfiguredModel):
    """Ids `[batch, time]` (0 = padding) -> next-character logits.

    An embedding, a stack of recurrent layers read left to right and a
    dense output layer over the vocabulary (Graves, "Generating Sequences
    With Recurrent Neural Networks", 2013, without the mixture outputs).

    Args:
        vocabulary_size: Characters, with the reserved ids.
        embedding_dim: Character embedding width.
        cell: A `zoo.cells` name.
        units: Units per recurrent layer.
        num_layers: Stacked recurrent layers.
        residual: Residual connections between them.
        dropout, recurrent_dropout: Of every recurrent layer.
        embedding_dropout: Dropout of the embeddings.
        output_dropout: Dropout before the output layer.
        seed: Seed of the recurrent layers' initializers and dropout.

    Call arguments:
        inputs: int `[batch, time]`, padded with 0 (masked: a padded step
            changes no state and its logits mean nothing).
        training: Dropout on or off.

    Example:

    >>> model = CharLM(10, embedding_dim=4, units=3)
    >>> model(ops.ones((2, 5), "int32")).shape
    (2, 5, 10)
    """

    def __init__(self, vocabulary_size, embedding_dim=256, cell="lstm",
                 units=512, num_layers=1, residual=False, dropout=0.0,
                 recurrent_dropout=0.0, embedding_dropout=0.0,
                 output_dropout=0.0, seed=None, **kwargs):
        # === Layers ===
        self.embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, mask_zero=True, name="embedding")
        self.embedding_dropout_layer = keras.layers.Dropout(
            embedding_dropout, name="embedding_dropout")
        self.rnn = layers.StackedRNN(
            cell, units=units, num_layers=num_layers, residual=residual,
            dropout=dropout, recurrent_dropout=recurrent_dropout,
            return_sequences=True, return_state=True, seed=seed, name="rnn")
        self.output_dropout_layer = keras.layers.Dropout(
            output_dropout, name="output_dropout")
        self.logits = keras.layers.Dense(vocabulary_size, name="logits")
        # === Functional model ===
        ids = keras.Input(shape=(None,), dtype="int32", name="ids")
        h, *_ = self.rnn(self.embedding_dropout_layer(self.embedding(ids)))
        outputs = self.logits(self.output_dropout_layer(h))
        super().__init__(inputs=ids, outputs=outputs, **kwargs)
        self.set_config(
            vocabulary_size=vocabulary_size, embedding_dim=embedding_dim,
            cell=cell, units=units, num_layers=num_layers,
            residual=residual, dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            embedding_dropout=embedding_dropout,
            output_dropout=output_dropout, seed=seed)

    def states(self, ids):
        """The recurrent states after reading `ids` `[N, T]` (0 = padding,
        skipped; a row of padding only keeps the zero states)."""
        _, *states = self.rnn(self.embedding(ids), mask=ops.not_equal(ids, 0),
                              training=False)
        return states

    def next(self, tokens, state, index):
        """One step, `zoo.decoding`'s `next_fn`: the previous characters
        `[N]` -> logits `[N, vocabulary_size]`; `state["states"]` are the
        recurrent states."""
        del index  # The recurrent state carries the position.
        y = self.embedding(tokens[:, None])  # [N, 1, embedding].
        out, *states = self.rnn(y, initial_state=state["states"],
                                training=False)
        return self.logits(out[:, 0]), {**state, "states": states}


def char_ids(text_layer, text):
    """Strings `[N]` -> ragged character ids, no markers (1 = unknown).

    Only the first `MAX_TEXT` characters of a text are read (the layer's
    length).
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


def check_sampling(temperature, top_k):
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


class Generator:
    """Generation and scoring of strings with a trained `CharLM`.

    Args:
        model: The `CharLM`.
        text_layer: Its `zoo.layers.TextToIds` (characters -> ids, `BEGIN`
            and `END` at `BEGIN_ID` and `END_ID`, `MAX_TEXT` long).
        poems: Whether the model was trained on whole texts that end with
            the end marker (poems) rather than windows of running text.

    Example:

        generator = Generator(model, text_layer, poems=True)
        generator.generate(tf.constant(["床前"]), max_length=20, seed=1)
    """

    def __init__(self, model, text_layer, poems):
        self.model = model
        self.text_layer = text_layer
        self.poems = bool(poems)
        # A poem may end anywhere; running text has no end in training.
        self.last_reserved = BEGIN_ID if self.poems else END_ID
        self.vocabulary = tf.constant(
            [str(t) for t in text_layer.get_vocabulary()])
        # What a free step may emit: any character but padding, unknown and
        # begin (and, for running text, the end marker). `[1, vocabulary]`.
        self.free = (tf.range(tf.shape(self.vocabulary)[0])
                     > self.last_reserved)[None, :]
        # `bits` traced once for `bits_per_character`'s repeated calls.
        self._bits = tf.function(self.bits, reduce_retracing=True)

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
        return start, self.model.states(before)

    def sample(self, start, states, constraint, temperature, top_k, top_p,
               seed):
        """Sampled ids `[N, WIDTH]` from `prime`'s start, under
        `constraint(index) -> allowed` (see `zoo.decoding.sample`)."""
        ids, _, _ = decoding.sample(
            self.model.next, start, {"states": states}, WIDTH, END_ID,
            temperature=temperature, top_k=top_k, top_p=top_p, seed=seed,
            constraint=constraint)
        return ids

    def strings(self, ids):
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
        marker. The continuation stops at the end marker or after
        `max_length` characters (at most `MAX_GENERATE`; 0 or less: none);
        it never holds the unknown character. The sampling arguments are
        `zoo.decoding.sample`'s and may be tensors.

        Raises:
            tf.errors.InvalidArgumentError: A tensor `temperature` is not
                a finite number >= 0, or a tensor `top_k` is negative.
        """
        temperature, top_k = check_sampling(temperature, top_k)
        start, states = self.prime(prompt)
        max_length = tf.clip_by_value(tf.cast(max_length, tf.int32), 0,
                                      MAX_GENERATE)
        end = tf.equal(tf.range(tf.shape(self.vocabulary)[0]), END_ID)

        def constraint(index):
            # Free up to max_length, then the end marker.
            return tf.where(index < max_length, self.free, end[None, :])

        ids = self.sample(start, states, constraint, temperature, top_k,
                          top_p, seed)
        text = tf.strings.reduce_join(self.strings(ids), axis=1)
        return tf.strings.join([self.text_layer.standardize(prompt), text])

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
            targets, tf.cast(logits, tf.float32))
        real = tf.not_equal(targets, 0)
        bits = tf.reduce_sum(tf.where(real, nats, 0.0), axis=1) / np.log(2.0)
        return bits, tf.reduce_sum(tf.cast(real, tf.float32), axis=1)

    def score(self, text):
        """Bits per character of each text `[N]` (NaN if none is scored)."""
        bits, count = self.bits(text)
        return tf.math.divide_no_nan(bits, count) + tf.where(
            count > 0, 0.0, np.nan)

    def bits_per_character(self, texts, batch_size=64):
        """Bits per character of the dataset of strings `texts` as a whole,
        and their character count: the bits of every text summed over the
        characters summed, so a long text weighs more than a short one.
        Counts the texts into an open `zoo.progress` stretch."""
        total_bits = total_count = 0.0
        size = int(texts.cardinality())
        for batch in texts.batch(batch_size):
            bits, count = self._bits(batch)
            total_bits += float(tf.reduce_sum(bits))
            total_count += float(tf.reduce_sum(count))
            progress.advance(int(tf.size(batch)),
                             total=size if size >= 0 else None, unit="texts")
        return total_bits / max(total_count, 1.0), int(total_count)
