"""Pre-split tokens `[batch, time]` (strings, "" = padding) to model inputs.

A tagger reads sentences that are already split into tokens, one tag per
token, so its vocabulary layers map a string tensor `[batch, time]` to ids
of the same shape and never re-tokenize: `TokensToIds` gives word ids,
`TokensToCharIds` the characters of every token, and `CharCNN` turns those
into one feature vector per token (Ma & Hovy, 2016), which is what lets a
tagger guess the tag of a word it never saw ("-ly", "-ed", capitals,
digits).
"""

import collections

import keras
import tensorflow as tf
from keras import ops

from zoo import utils
from zoo.layers.text import refuse_nul
from zoo.layers.text import sanitize

PADDING = ""
UNKNOWN = "[UNK]"  # The lookups' name for id 1.


def _check_vocabulary_size(name, value, floor):
    value = utils.check_positive_int(name, value)
    if value < floor:
        raise ValueError(
            f"Received an invalid value for argument `{name}`, expected an "
            f"integer >= {floor} (padding, out-of-vocabulary and at least one "
            f"entry), got {value!r}"
        )
    return value


class _Lookup(keras.layers.Layer):
    """A string lookup with "" -> 0 (padding) and unknown -> 1.

    Subclasses set `SIZE_ARGUMENT` (the name of their vocabulary-size
    argument, also their attribute), `ENTRIES` (what the vocabulary holds)
    and `_check_entries`, and call `_build_lookup` in `__init__`.
    """

    SIZE_ARGUMENT = ENTRIES = None

    def _build_lookup(self, min_count, vocabulary):
        self.min_count = utils.check_positive_int("min_count", min_count)
        self.lookup = keras.layers.StringLookup(
            mask_token=PADDING, oov_token=UNKNOWN, num_oov_indices=1,
            output_mode="int", name="lookup",
        )
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)
        # Nothing to build from a shape: the table comes with the vocabulary.
        self.built = True

    def _capacity(self):
        """Entries the vocabulary may hold besides padding and unknown."""
        return getattr(self, self.SIZE_ARGUMENT) - 2

    def _check_entries(self, vocabulary):
        raise NotImplementedError

    def set_vocabulary(self, vocabulary):
        vocabulary = list(vocabulary)
        if len(vocabulary) > self._capacity():
            raise ValueError(
                f"Received a vocabulary of {len(vocabulary)} {self.ENTRIES}, "
                f"expected at most {self.SIZE_ARGUMENT} - 2 = "
                f"{self._capacity()}"
            )
        if UNKNOWN in vocabulary:
            raise ValueError(
                f"Received a vocabulary holding {UNKNOWN!r}, the name of the "
                "unknown id"
            )
        refuse_nul(vocabulary)
        self._check_entries(vocabulary)
        self.lookup.set_vocabulary(vocabulary)

    def _adapt_counts(self, counts):
        """Keeps the entries seen `min_count` times, most frequent first."""
        if not counts:
            raise ValueError(
                f"Cannot adapt a vocabulary: no {self.ENTRIES} given"
            )
        # A corpus token spelled like the unknown id's name stays unknown,
        # and so does one holding a NUL (see `refuse_nul`).
        kept = [(-n, key) for key, n in counts.items()
                if n >= self.min_count and key != UNKNOWN
                and "\0" not in key]
        self.set_vocabulary([key for _, key in sorted(kept)[:self._capacity()]])

    def get_vocabulary(self):
        """All entries: padding, unknown, then the vocabulary."""
        return self.lookup.get_vocabulary()

    def get_config(self):
        config = super().get_config()
        config.update({
            self.SIZE_ARGUMENT: getattr(self, self.SIZE_ARGUMENT),
            "min_count": self.min_count,
            "vocabulary": self.get_vocabulary()[2:] or None,
        })
        return config


@keras.saving.register_keras_serializable(package="zoo")
class TokensToIds(_Lookup):
    """Maps tokens to vocabulary ids: 0 = padding (""), 1 = unknown.

    Invalid UTF-8 becomes U+FFFD, and tokens are optionally lower-cased
    before the lookup (characters keep their case in `TokensToCharIds`).

    Args:
        max_tokens: Integer >= 3, vocabulary size including the padding and
            unknown ids.
        lowercase: Look tokens up lower-cased. Default: `True`.
        min_count: Positive integer; `adapt()` keeps tokens seen at least
            this often. Rarer ones stay unknown, so the unknown id is
            trained on words like the ones unseen at test time. Default: 1.
        vocabulary: Optional list of tokens (without padding and unknown);
            otherwise call `adapt()`.
        **kwargs: Base layer keyword arguments.

    Call arguments:
        inputs: String tensor `[batch, time]`, "" at padded positions.

    Returns:
        int64 ids `[batch, time]`.

    Example:

    >>> layer = TokensToIds(max_tokens=10, vocabulary=["the", "cat"])
    >>> layer(tf.constant([["The", "dog", ""]])).numpy().tolist()
    [[2, 1, 0]]
    """

    SIZE_ARGUMENT, ENTRIES = "max_tokens", "tokens"

    def __init__(self, max_tokens, lowercase=True, min_count=1,
                 vocabulary=None, **kwargs):
        super().__init__(**kwargs)
        self.max_tokens = _check_vocabulary_size("max_tokens", max_tokens, 3)
        self.lowercase = bool(lowercase)
        self._build_lookup(min_count, vocabulary)

    def _check_entries(self, vocabulary):
        if PADDING in vocabulary:
            raise ValueError(
                "Received a vocabulary holding the empty string, which is "
                "reserved for padding"
            )

    def _normalize(self, tokens):
        tokens = sanitize(tokens)
        if self.lowercase:
            tokens = tf.strings.lower(tokens, encoding="utf-8")
        return tokens

    def adapt(self, sentences):
        """Builds the vocabulary from an iterable of token lists."""
        counts = collections.Counter(t for s in sentences for t in s if t)
        keys = list(counts)
        merged = collections.Counter()
        if keys:
            normalized = self._normalize(tf.constant(keys)).numpy()
            for key, token in zip(keys, normalized):
                merged[token.decode("utf-8")] += counts[key]
        self._adapt_counts(merged)

    def call(self, inputs):
        return self.lookup(self._normalize(inputs))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config["lowercase"] = self.lowercase
        return config


@keras.saving.register_keras_serializable(package="zoo")
class TokensToCharIds(_Lookup):
    """Maps each token to the ids of its characters.

    A token longer than `max_chars` keeps its first `max_chars // 2`
    characters and its last `max_chars - max_chars // 2`, so prefixes and
    suffixes (which carry most of a word's grammar) survive.

    Args:
        max_chars: Positive integer, characters kept per token.
        max_symbols: Integer >= 3, character vocabulary size including the
            padding (0) and unknown (1) ids.
        min_count: `adapt()` keeps characters seen at least this often.
        vocabulary: Optional list of single characters; otherwise call
            `adapt()`.
        **kwargs: Base layer keyword arguments.

    Call arguments:
        inputs: String tensor `[batch, time]`, "" at padded positions.

    Returns:
        int64 ids `[batch, time, chars]`, 0 after a token's last character
        and for padding; `chars` is the longest kept token of the batch
        (at least 1, at most `max_chars`).

    Example:

    >>> layer = TokensToCharIds(max_chars=4, vocabulary=list("abc"))
    >>> layer(tf.constant([["ab", "abcab", ""]])).numpy().tolist()
    [[[2, 3, 0, 0], [2, 3, 2, 3], [0, 0, 0, 0]]]
    """

    SIZE_ARGUMENT, ENTRIES = "max_symbols", "characters"

    def __init__(self, max_chars=16, max_symbols=512, min_count=1,
                 vocabulary=None, **kwargs):
        super().__init__(**kwargs)
        self.max_chars = utils.check_positive_int("max_chars", max_chars)
        self.max_symbols = _check_vocabulary_size(
            "max_symbols", max_symbols, 3
        )
        self._build_lookup(min_count, vocabulary)

    def _check_entries(self, vocabulary):
        wrong = [c for c in vocabulary if len(c) != 1]
        if wrong:
            raise ValueError(
                "Received a character vocabulary with entries that are not "
                f"single characters: {wrong[:5]!r}"
            )

    def adapt(self, sentences):
        """Builds the character vocabulary from an iterable of token lists."""
        self._adapt_counts(
            collections.Counter(c for s in sentences for t in s for c in t)
        )

    def call(self, inputs):
        # [batch, time, (chars)]: ragged in the last dimension.
        chars = tf.strings.unicode_split(sanitize(inputs), "UTF-8")
        words = chars.values  # [tokens, (chars)]: one row per token.
        position = tf.ragged.range(words.row_lengths()).flat_values
        length = tf.repeat(words.row_lengths(), words.row_lengths())
        head = self.max_chars // 2
        keep = (position < head) | (position >= length - (self.max_chars - head))
        words = tf.ragged.boolean_mask(
            words, words.with_flat_values(keep)
        )
        # [tokens, chars]: padded to the longest kept token.
        ids = words.with_flat_values(self.lookup(words.flat_values))
        ids = ids.to_tensor(default_value=0)
        # At least one character position, even when every token is "".
        ids = tf.pad(ids, [[0, 0], [0, tf.maximum(1 - tf.shape(ids)[1], 0)]])
        # [tokens, chars] -> [batch, time, chars].
        shape = tf.shape(inputs)
        return tf.reshape(ids, [shape[0], shape[1], tf.shape(ids)[1]])

    def compute_output_shape(self, input_shape):
        return (*input_shape, None)

    def get_config(self):
        config = super().get_config()
        config["max_chars"] = self.max_chars
        return config


@keras.saving.register_keras_serializable(package="zoo")
class CharCNN(keras.layers.Layer):
    """Character ids of each token -> one feature vector per token.

    Embeds the characters, runs a 1-D convolution over each token's
    characters and max-pools over its real characters (Ma & Hovy, 2016).
    Tokens without characters (padding) get zeros, and the output mask is
    False exactly there. (Keras merges masks with "any": concatenated to
    a masked word embedding, features without a mask would mark every
    padded step real.)

    Args:
        vocabulary_size: Positive integer, character ids are below it.
        embedding_dim: Positive integer, character embedding width.
        filters: Positive integer, output features per token.
        kernel_size: Positive integer, convolution width in characters.
        activation: Activation of the convolution. Default: "tanh".
        **kwargs: Base layer keyword arguments.

    Call arguments:
        inputs: int ids `[batch, time, chars]`, 0 = no character.

    Returns:
        `[batch, time, filters]`, masked where a token has no characters.

    Example:

    >>> layer = CharCNN(vocabulary_size=5, embedding_dim=3, filters=4)
    >>> tuple(layer(keras.ops.ones((2, 6, 7), dtype="int32")).shape)
    (2, 6, 4)

    Reference: Ma & Hovy, "End-to-end Sequence Labeling via
    Bi-directional LSTM-CNNs-CRF", ACL 2016.
    """

    def __init__(self, vocabulary_size, embedding_dim=30, filters=50,
                 kernel_size=3, activation="tanh", **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = utils.check_positive_int(
            "vocabulary_size", vocabulary_size
        )
        self.embedding_dim = utils.check_positive_int(
            "embedding_dim", embedding_dim
        )
        self.filters = utils.check_positive_int("filters", filters)
        self.kernel_size = utils.check_positive_int("kernel_size", kernel_size)
        self.activation = keras.activations.get(activation)
        self.embedding = keras.layers.Embedding(
            self.vocabulary_size, self.embedding_dim, name="embedding"
        )
        self.conv = keras.layers.Conv1D(
            self.filters, self.kernel_size, padding="same",
            activation=self.activation, name="conv",
        )

    def build(self, input_shape):
        self.embedding.build((None, None))
        self.conv.build((None, None, self.embedding_dim))
        self.built = True

    def call(self, inputs):
        shape = ops.shape(inputs)
        # [batch * time, chars]: every token is one row of the convolution.
        ids = ops.reshape(inputs, (-1, shape[2]))
        real = ops.expand_dims(ids > 0, -1)  # [batch * time, chars, 1]
        # Zero embeddings after the last character, so the convolution
        # sees the word's edge the same in every batch.
        x = self.embedding(ids) * ops.cast(real, self.compute_dtype)
        # TensorFlow convolves no rows into its input's shape, not into
        # `filters` channels, so an empty batch (a replica's share of a
        # last small batch, say) gets one row of padding, removed after.
        x = self.conv(ops.pad(x, [[1, 0], [0, 0], [0, 0]]))[1:]
        x = ops.max(ops.where(real, x, -1e9), axis=1)
        x = ops.where(ops.any(real, axis=1), x, 0.0)
        # Back to [batch, time, filters].
        return ops.reshape(x, (shape[0], shape[1], self.filters))

    def compute_mask(self, inputs, mask=None):
        return ops.any(inputs > 0, axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.filters)

    def get_config(self):
        config = super().get_config()
        config.update({
            "vocabulary_size": self.vocabulary_size,
            "embedding_dim": self.embedding_dim,
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "activation": keras.activations.serialize(self.activation),
        })
        return config
