"""An encoder-decoder with attention, and text-to-text translation with it.

`EncoderDecoder` is the Keras model trained with teacher forcing; its
`encode` and `next` are the step functions `zoo.decoding` drives (the
pattern of keras-hub's `call_with_cache`). `Translator` wraps a trained
model and its text layers: strings in, translations out, greedy or beam
search.
"""

import functools

import keras
import tensorflow as tf
from keras import ops

from zoo import decoding
from zoo import layers
from zoo import progress
from zoo import utils
from zoo.layers import attention as attention_lib
from zoo.models import base

# Attention scores `EncoderDecoder` accepts ("none": no attention).
ATTENTION = ("none",) + attention_lib.SCORES
# Reserved target tokens: ids 2 and 3 (after padding 0 and unknown 1).
START, END = "<s>", "</s>"
START_ID, END_ID = 2, 3


def bridge(states, encoder):
    """Encoder final states -> decoder initial states.

    Per layer and per state (h, or h and c), the forward and backward
    directions' states are concatenated (`[batch, 2 * units]`), which is
    the decoder's width.

    Args:
        states: The final states of `encoder` (a `zoo.layers.StackedRNN`),
            in its `return_state` order.
        encoder: The encoder.
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
            joined.append(ops.concatenate([forward, backward], axis=-1))
    return joined


@keras.saving.register_keras_serializable(package="zoo")
class EncoderDecoder(base.ConfiguredModel):
    """`[source ids, target input ids]` -> next-token logits.

    A (bi)directional recurrent encoder reads the source; a recurrent
    decoder of the encoder's output width, one layer per encoder layer,
    starts from the encoder's final states (`bridge`; zeros when
    `bridge_states` is false), reads the previous target token and scores
    the next one from its output and, with `attention`, the context vector
    of an attention over the encoder outputs (Luong et al.'s global
    attention, "Effective Approaches to Attention-based Neural Machine
    Translation", 2015, with an additive, dot or general score):
    `logits = W tanh(W_c [h; context])`.

    Args:
        source_vocabulary_size, target_vocabulary_size: Vocabulary sizes
            (id 0 is padding).
        embedding_dim: Width of both embeddings.
        cell: A `zoo.cells` name ("lstm", "gru", ...).
        units: Encoder units per direction.
        num_layers: Layers of the encoder, and of the decoder.
        bidirectional: A bidirectional encoder.
        residual: Residual connections between stacked layers.
        dropout, recurrent_dropout: Of every recurrent layer's input and
            recurrent state.
        embedding_dropout: Dropout of both embeddings.
        output_dropout: Dropout before the output layer.
        attention: One of `ATTENTION`.
        attention_units: Width of the additive ("bahdanau") score.
        bridge_states: Start the decoder from the encoder's final states.
        seed: Seed of the recurrent layers' initializers and dropout.

    Call arguments:
        inputs: `[source, target_in]`, int `[batch, S]` and `[batch, T]`
            padded with 0 (padding is masked out of the encoder, the
            attention and the decoder); the target input starts with the
            start token.
        training: Dropout on or off.

    Example:

    >>> model = EncoderDecoder(20, 30, embedding_dim=4, units=3)
    >>> model([ops.ones((2, 5), "int32"), ops.ones((2, 4), "int32")]).shape
    (2, 4, 30)
    """

    def __init__(self, source_vocabulary_size, target_vocabulary_size,
                 embedding_dim=256, cell="lstm", units=128, num_layers=1,
                 bidirectional=True, residual=False, dropout=0.0,
                 recurrent_dropout=0.0, embedding_dropout=0.0,
                 output_dropout=0.0, attention="bahdanau",
                 attention_units=256, bridge_states=True, seed=None,
                 **kwargs):
        utils.check_choice("attention", attention, ATTENTION)
        if attention == "none" and not bridge_states:
            raise ValueError(
                "Received attention='none' and bridge_states=False: without "
                "attention and without the encoder's final states nothing of "
                "the source reaches the decoder"
            )
        # === Layers ===
        self.source_embedding = keras.layers.Embedding(
            source_vocabulary_size, embedding_dim, mask_zero=True,
            name="source_embedding")
        self.target_embedding = keras.layers.Embedding(
            target_vocabulary_size, embedding_dim, mask_zero=True,
            name="target_embedding")
        self.source_dropout = keras.layers.Dropout(embedding_dropout,
                                                   name="source_dropout")
        self.target_dropout = keras.layers.Dropout(embedding_dropout,
                                                   name="target_dropout")
        self.encoder = layers.StackedRNN(
            cell, units=units, num_layers=num_layers,
            bidirectional=bidirectional, residual=residual, dropout=dropout,
            recurrent_dropout=recurrent_dropout, return_sequences=True,
            return_state=True, seed=seed, name="encoder")
        width = self.encoder.output_width
        self.decoder = layers.StackedRNN(
            cell, units=width, num_layers=num_layers, residual=residual,
            dropout=dropout, recurrent_dropout=recurrent_dropout,
            return_sequences=True, return_state=True,
            seed=None if seed is None else seed + 1000, name="decoder")
        self.attention_layer = self.attentional = None
        if attention != "none":
            self.attention_layer = layers.SequenceAttention(
                attention,
                units=attention_units if attention == "bahdanau" else None,
                name="attention")
            self.attentional = keras.layers.Dense(width, activation="tanh",
                                                  name="attentional")
        self.output_dropout_layer = keras.layers.Dropout(
            output_dropout, name="output_dropout")
        self.logits = keras.layers.Dense(target_vocabulary_size,
                                         name="logits")
        self.bridge_states = bridge_states
        # === Functional model ===
        source = keras.Input(shape=(None,), dtype="int32", name="source")
        target_in = keras.Input(shape=(None,), dtype="int32",
                                name="target_in")
        logits, _ = self._forward(source, target_in)
        super().__init__(inputs=[source, target_in], outputs=logits,
                         **kwargs)
        self.set_config(
            source_vocabulary_size=source_vocabulary_size,
            target_vocabulary_size=target_vocabulary_size,
            embedding_dim=embedding_dim, cell=cell, units=units,
            num_layers=num_layers, bidirectional=bidirectional,
            residual=residual, dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            embedding_dropout=embedding_dropout,
            output_dropout=output_dropout, attention=attention,
            attention_units=attention_units, bridge_states=bridge_states,
            seed=seed)

    def _encode(self, source, training=None):
        x = self.source_dropout(self.source_embedding(source),
                                training=training)
        encoded, *states = self.encoder(x, training=training)
        initial = bridge(states, self.encoder)
        if not self.bridge_states:  # Zeros: the decoder's own start.
            initial = [ops.zeros_like(s) for s in initial]
        return encoded, initial

    def _head(self, decoded, encoded, source_mask, training=None):
        """Decoder outputs -> `(logits, attention weights or None)`."""
        weights = None
        h = decoded
        if self.attention_layer is not None:
            context, weights = self.attention_layer(decoded, encoded,
                                                    value_mask=source_mask)
            h = self.attentional(ops.concatenate([decoded, context], axis=-1))
        h = self.output_dropout_layer(h, training=training)
        return self.logits(h), weights

    def _forward(self, source, target_in, training=None):
        """Teacher forcing: `(logits [N, T, V], weights [N, T, S] or None)`."""
        encoded, initial = self._encode(source, training)
        y = self.target_dropout(self.target_embedding(target_in),
                                training=training)
        decoded, *_ = self.decoder(y, initial_state=initial,
                                   training=training)
        return self._head(decoded, encoded, ops.not_equal(source, 0),
                          training)

    def attention_weights(self, source, target_in):
        """The attention weights `[N, T, S]` of a teacher-forced pass (no
        dropout); None without attention."""
        return self._forward(source, target_in, training=False)[1]

    def encode(self, source_ids):
        """Source ids `[N, S]` -> the decoding state `next` starts from."""
        encoded, initial = self._encode(source_ids, training=False)
        return {"states": initial, "encoded": encoded,
                "source_mask": ops.not_equal(source_ids, 0)}

    def next(self, tokens, state, index):
        """One decoder step, `zoo.decoding`'s `next_fn`: the previous
        tokens `[N]` -> logits `[N, target_vocabulary_size]`."""
        del index  # The recurrent state carries the position.
        y = self.target_embedding(tokens[:, None])  # [N, 1, embedding].
        decoded, *states = self.decoder(y, initial_state=state["states"],
                                        training=False)
        logits, _ = self._head(decoded[:, 0], state["encoded"],
                               state["source_mask"], training=False)
        return logits, {**state, "states": states}


class Translator:
    """Translation of strings with a trained `EncoderDecoder`.

    Args:
        model: The `EncoderDecoder`.
        source_layer: The source `zoo.layers.TextToIds` (strings -> ids).
        target_vocabulary: The target vocabulary (all entries, by id;
            `START` and `END` at `START_ID` and `END_ID`).
        max_length: The longest translation, in tokens.
        length_penalty: GNMT length penalty alpha of beam search.

    Example:

        translator = Translator(model, source_layer, vocabulary, 60)
        translator.translate(tf.constant(["Where is it?"]), beam_width=5)
    """

    def __init__(self, model, source_layer, target_vocabulary, max_length,
                 length_penalty=1.0):
        self.model = model
        self.source_layer = source_layer
        self.vocabulary = tf.constant([str(t) for t in target_vocabulary])
        self.max_length = utils.check_positive_int("max_length", max_length)
        self.length_penalty = length_penalty
        # translate_all's traced decoders, by beam width: traced once, not
        # at each call (each epoch's validation).
        self._traced = {}

    def next(self, tokens, state, index):
        """`model.next`, never emitting padding, unknown or start."""
        logits, state = self.model.next(tokens, state, index)
        logits = tf.cast(logits, tf.float32)  # Whatever the dtype policy.
        never = tf.range(tf.shape(logits)[-1]) < END_ID
        return tf.where(never, -1e9, logits), state

    def source_ids(self, text):
        return tf.cast(self.source_layer(text), tf.int32)

    def decode(self, source_ids, beam_width=1):
        """Output ids `[N, max_length + 1]` (0 after the end) of a decoder.

        A source with no token (an empty string) has an empty output.
        """
        initial = self.model.encode(source_ids)
        start = tf.fill([tf.shape(source_ids)[0]], START_ID)
        length = self.max_length + 1  # Room for the end token.
        if beam_width == 1:
            ids, _, _ = decoding.greedy_search(self.next, start, initial,
                                               length, END_ID)
        else:
            ids, _, _ = decoding.beam_search(
                self.next, start, initial, length, END_ID,
                beam_width=beam_width, length_penalty=self.length_penalty)
            ids = ids[:, 0]  # The best beam.
        has_source = tf.reduce_any(tf.not_equal(source_ids, 0), axis=1)
        return tf.where(has_source[:, None], ids, 0)

    def tokens(self, ids):
        """Output ids -> ragged tokens, the end token and after dropped."""
        ids = tf.RaggedTensor.from_tensor(ids, padding=0)
        kept = tf.logical_and(tf.not_equal(ids.flat_values, START_ID),
                              tf.not_equal(ids.flat_values, END_ID))
        words = tf.gather(self.vocabulary, ids.flat_values)
        return tf.ragged.boolean_mask(ids.with_flat_values(words),
                                      ids.with_flat_values(kept))

    @staticmethod
    def sentences(tokens):
        """Ragged output tokens -> detokenized strings `[N]`."""
        return layers.detokenize(
            tf.strings.reduce_join(tokens, axis=1, separator=" "))

    def translate(self, text, beam_width=1):
        """Strings `[N]` -> translations `[N]`."""
        return self.sentences(
            self.tokens(self.decode(self.source_ids(text), beam_width)))

    def translate_all(self, sources, beam_width=1, batch_size=64):
        """The translations (a list of strings) of the list `sources`,
        `batch_size` at a time. Counts the sentences into an open
        `zoo.progress` stretch."""
        run = self._traced.get(beam_width)
        if run is None:
            run = self._traced[beam_width] = tf.function(
                functools.partial(self.translate, beam_width=beam_width),
                reduce_retracing=True)
        found = []
        for start in range(0, len(sources), batch_size):
            batch = sources[start:start + batch_size]
            found.extend(t.decode("utf-8")
                         for t in run(tf.constant(batch)).numpy())
            progress.advance(len(batch), total=len(sources), unit="sentences")
        return found

    def explain(self, text):
        """Greedy translations `[N]` with `output_tokens` `[N, T]`,
        `source_tokens` `[N, S]` ("" = padding) and, with attention, the
        weights each output token was chosen with (`attention`
        `[N, T, S]`)."""
        source_ids = self.source_ids(text)
        ids = self.decode(source_ids)
        tokens = self.tokens(ids)
        outputs = {
            "translation": self.sentences(tokens),
            "output_tokens": tokens.to_tensor(default_value=""),
        }
        words = tf.strings.split(self.source_layer.standardize(text))
        words = words[:, :self.max_length].to_tensor(default_value="")
        width = tf.shape(source_ids)[1]
        outputs["source_tokens"] = tf.pad(
            words, [[0, 0], [0, width - tf.shape(words)[1]]])
        if self.model.attention != "none":
            # Teacher-force the greedy output: the decoder is causal, so
            # this gives the weights each output token was chosen with.
            target_in = tf.concat(
                [tf.fill([tf.shape(ids)[0], 1], START_ID), ids[:, :-1]],
                axis=1)
            weights = self.model.attention_weights(source_ids, target_in)
            # Rows of output tokens only (the end token, padding dropped).
            real = tf.sequence_mask(tokens.row_lengths(), tf.shape(weights)[1])
            weights = tf.where(real[:, :, None], weights, 0.0)
            outputs["attention"] = weights[
                :, :tf.shape(outputs["output_tokens"])[1]]
        return outputs
