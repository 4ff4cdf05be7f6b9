"""A bidirectional sequence tagger: tokens in, one tag per token out."""

import keras
import tensorflow as tf

from zoo import layers
from zoo.layers import tokens as token_layers
from zoo.models import base


@keras.saving.register_keras_serializable(package="zoo")
class SequenceTagger(base.ConfiguredModel):
    """Tokens `[batch, time]` ("" = padding) -> tag potentials
    `[batch, time, num_tags]`.

    Each token is its word embedding joined to character features
    (`zoo.layers.CharCNN`, which is what recognizes unseen words); a
    (bi)directional recurrent encoder reads the sentence, and a dense
    layer scores the tags: softmax logits, or the unary potentials of a
    linear-chain CRF (`use_crf=True`; Lample et al., "Neural Architectures for
    Named Entity Recognition", 2016) whose transitions score tag pairs.
    The mask (True where the token is not "") reaches every layer.

    Args:
        words: A `zoo.layers.TokensToIds` with its vocabulary (adapted).
        num_tags: Number of tags.
        chars: A `zoo.layers.TokensToCharIds` with its vocabulary, or None
            (words only).
        embedding_dim: Word embedding width.
        char_embedding_dim, char_filters, char_kernel_size: The
            `CharCNN`'s.
        cell, units, num_layers, bidirectional, residual, dropout,
            recurrent_dropout: The encoder's (`zoo.layers.StackedRNN`).
        embedding_dropout: Dropout of each token's features.
        output_dropout: Dropout of the encoder's outputs.
        use_crf: A CRF output (`self.crf`), or a softmax per token.
        seed: Seed of the encoder's initializers and dropout.

    Call arguments:
        inputs: Strings `[batch, time]`, "" = padding.
        training: Dropout on or off.

    Example:

    >>> words = layers.TokensToIds(10, vocabulary=["the", "cat"])
    >>> tagger = SequenceTagger(words, 3, embedding_dim=4, units=2)
    >>> ids, scores, mask = tagger.tag(tf.constant([["the", "cat", ""]]))
    >>> ids.shape, scores.shape
    (TensorShape([1, 3]), TensorShape([1, 3]))
    """

    def __init__(self, words, num_tags, chars=None, embedding_dim=100,
                 char_embedding_dim=30, char_filters=50, char_kernel_size=3,
                 cell="lstm", units=128, num_layers=1, bidirectional=True,
                 residual=False, dropout=0.0, recurrent_dropout=0.0,
                 embedding_dropout=0.0, output_dropout=0.0, use_crf=True,
                 seed=None, **kwargs):
        words, chars = base.deserialize(words), base.deserialize(chars)
        # === Layers ===
        self.words = words
        self.chars = chars
        self.embedding = keras.layers.Embedding(
            words.lookup.vocabulary_size(), embedding_dim, mask_zero=True,
            name="embedding")
        self.char_cnn = None
        if chars is not None:
            self.char_cnn = token_layers.CharCNN(
                chars.lookup.vocabulary_size(),
                embedding_dim=char_embedding_dim, filters=char_filters,
                kernel_size=char_kernel_size, name="char_cnn")
        self.input_dropout = keras.layers.Dropout(embedding_dropout,
                                                  name="input_dropout")
        self.encoder = layers.StackedRNN(
            cell, units=units, num_layers=num_layers,
            bidirectional=bidirectional, residual=residual, dropout=dropout,
            recurrent_dropout=recurrent_dropout, return_sequences=True,
            seed=seed, name="encoder")
        self.output_dropout_layer = keras.layers.Dropout(output_dropout,
                                                         name="dropout")
        # float32 whatever the dtype policy: the CRF's or softmax's input.
        self.potentials = keras.layers.Dense(num_tags, name="potentials",
                                             dtype="float32")
        self.crf = layers.CRF(num_tags, name="crf") if use_crf else None
        # === Functional model ===
        tokens = keras.Input(shape=(None,), dtype="string", name="tokens")
        x = self.embedding(words(tokens))
        if self.char_cnn is not None:
            features = self.char_cnn(chars(tokens))
            x = keras.layers.Concatenate(name="word_features")([x, features])
        x = self.encoder(self.input_dropout(x))
        x = self.potentials(self.output_dropout_layer(x))
        if self.crf is not None:
            x = self.crf(x)
        super().__init__(inputs=tokens, outputs=x, **kwargs)
        self.set_config(
            words=words, num_tags=num_tags, chars=chars,
            embedding_dim=embedding_dim,
            char_embedding_dim=char_embedding_dim, char_filters=char_filters,
            char_kernel_size=char_kernel_size, cell=cell, units=units,
            num_layers=num_layers, bidirectional=bidirectional,
            residual=residual, dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            embedding_dropout=embedding_dropout,
            output_dropout=output_dropout, use_crf=use_crf, seed=seed)

    def tag(self, tokens, scores=True):
        """Tag ids, the chosen tags' probabilities and the mask of a token
        batch `[N, T]` ("" = padding).

        Args:
            tokens: Strings `[N, T]`.
            scores: Whether to compute the probabilities (for a CRF, the
                marginals: a forward-backward pass that decoding alone does
                not need).

        Returns:
            `(ids int32 [N, T], scores float32 [N, T] or None, mask bool
            [N, T])`: ids and scores are 0 where `tokens` is "".
        """
        # At least one step, so that a batch of empty sentences runs too.
        time = tf.shape(tokens)[1]
        padded = tf.pad(tokens, [[0, 0], [0, tf.maximum(1 - time, 0)]])
        potentials = self(padded, training=False)[:, :time]
        return self._tags(potentials, tf.not_equal(tokens, ""), scores)

    def tag_ids(self, word_ids, char_ids=None, scores=True):
        """`tag` of the ids `words` and `chars` make of the tokens: the
        numeric half of `tag`, which a portable export serves.

        Args:
            word_ids: Int64 `[N, T]` (0 = padding).
            char_ids: Int64 `[N, T, C]` (0 = padding), with `chars`.
            scores: As `tag`'s.

        Returns:
            As `tag`'s; the mask is where a token has characters (with
            `chars`; else a word id): where `tokens` is not "", even for a
            token whose word id is 0 (one that starts with NUL, which
            lower-casing empties).
        """
        time = tf.shape(word_ids)[1]
        grow = tf.maximum(1 - time, 0)  # At least one step, as `tag`.
        x = self.embedding(tf.pad(word_ids, [[0, 0], [0, grow]]))
        if self.char_cnn is not None:
            features = self.char_cnn(
                tf.pad(char_ids, [[0, 0], [0, grow], [0, 0]]))
            x = self.get_layer("word_features")([x, features])
        x = self.potentials(self.encoder(x, training=False))
        mask = tf.not_equal(word_ids, 0)
        if char_ids is not None:
            mask |= tf.reduce_any(tf.not_equal(char_ids, 0), axis=-1)
        return self._tags(x[:, :time], mask, scores)

    def _tags(self, potentials, mask, scores):
        if self.crf is not None:
            ids, _ = self.crf.decode(potentials, mask)
            probabilities = (self.crf.marginals(potentials, mask) if scores
                             else None)
        else:
            probabilities = tf.nn.softmax(potentials)
            ids = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        ids = tf.where(mask, tf.cast(ids, tf.int32), 0)
        if not scores:
            return ids, None, mask
        chosen = tf.gather(probabilities, ids, batch_dims=2)
        return ids, tf.where(mask, chosen, 0.0), mask
