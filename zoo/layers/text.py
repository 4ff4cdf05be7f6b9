"""Raw strings to padded token ids inside the model, and padding statistics."""

import keras
import tensorflow as tf
from keras import ops

from zoo import utils


@keras.saving.register_keras_serializable(package="zoo")
class TextToIds(keras.layers.Layer):
    """Tokenization and vocabulary lookup for raw strings.

    Puts tokenization inside the model, so an exported model takes raw
    text. Each string goes through `standardize` (invalid UTF-8 replaced,
    optionally lower-cased and with punctuation split off) and is split on
    whitespace; each token is mapped to an id (0 = padding, 1 = out of
    vocabulary), and a text longer than `max_length` tokens is truncated.
    The batch is padded on the right to its longest row, so length-bucketed
    batches stay short; the width is at least 1, so a batch of empty
    strings still has a (fully padded) step.

    Args:
        max_tokens: Positive integer, vocabulary size including the padding
            and out-of-vocabulary ids.
        max_length: Positive integer, tokens kept per text.
        lowercase: Lower-case the text before splitting. Default: `True`.
        split_punctuation: Make punctuation and contractions tokens of
            their own ("isn't it?" -> "is n't it ?"), so "film," and
            "film" share an id. Default: `True`.
        bigrams: Give each position the id of the pair (previous token,
            token) instead of the token's, with `<s>` before the first
            token. The ids line up with a unigram layer's on the same text,
            so pair embeddings can be added to word embeddings. Default:
            `False`.
        vocabulary: Optional list of tokens (without the padding and
            out-of-vocabulary entries); otherwise call `adapt()`.
        **kwargs: Base layer keyword arguments.

    Call arguments:
        inputs: String tensor `[batch]`.

    Returns:
        int64 ids `[batch, time]`, `1 <= time <= max_length`.

    Example:

    >>> layer = TextToIds(max_tokens=10, max_length=3, vocabulary=["a", "b"])
    >>> layer(tf.constant(["A b c d", ""])).numpy().tolist()
    [[2, 3, 1], [0, 0, 0]]
    >>> layer(tf.constant(["b, a!"])).numpy().tolist()
    [[3, 1, 2]]
    """

    def __init__(
        self,
        max_tokens,
        max_length,
        lowercase=True,
        split_punctuation=True,
        bigrams=False,
        vocabulary=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.max_tokens = utils.check_positive_int("max_tokens", max_tokens)
        if self.max_tokens < 3:
            raise ValueError(
                "Received an invalid value for argument `max_tokens`, "
                "expected an integer >= 3 (padding, out-of-vocabulary and "
                f"at least one token), got {max_tokens!r}"
            )
        self.max_length = utils.check_positive_int("max_length", max_length)
        self.lowercase = bool(lowercase)
        self.split_punctuation = bool(split_punctuation)
        self.bigrams = bool(bigrams)
        self.vectorizer = keras.layers.TextVectorization(
            max_tokens=self.max_tokens,
            standardize=None,  # Done by `self.standardize`, which exports.
            split=split_bigrams if self.bigrams else "whitespace",
            output_mode="int",
            output_sequence_length=self.max_length,
            ragged=True,
            vocabulary=vocabulary,
            name="vectorizer",
        )

    def adapt(self, texts, batch_size=1024):
        """Builds the vocabulary from an iterable or dataset of strings."""
        if not isinstance(texts, tf.data.Dataset):
            texts = tf.data.Dataset.from_tensor_slices(list(texts))
        self.vectorizer.adapt(texts.batch(batch_size).map(self.standardize))

    def get_vocabulary(self):
        return self.vectorizer.get_vocabulary()

    def standardize(self, texts):
        """`standardize` with this layer's settings."""
        return standardize(
            texts, self.lowercase, split_punctuation=self.split_punctuation
        )

    def count_tokens(self, texts):
        """Tokens of each string `[batch]` before truncation, as int64."""
        return tf.strings.split(self.standardize(texts)).row_lengths()

    def call(self, inputs):
        ids = self.vectorizer(self.standardize(inputs))
        ids = ids.to_tensor(default_value=0)
        # At least one (padding) step, even for a batch of empty strings.
        missing = tf.maximum(1 - tf.shape(ids)[1], 0)
        return tf.pad(ids, [[0, 0], [0, missing]])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "max_tokens": self.max_tokens,
                "max_length": self.max_length,
                "lowercase": self.lowercase,
                "split_punctuation": self.split_punctuation,
                "bigrams": self.bigrams,
                "vocabulary": self.get_vocabulary()[2:] or None,
            }
        )
        return config


BIGRAM_START = "<s>"


def split_bigrams(texts):
    """Whitespace tokens `[batch, (n)]` -> "previous token" pairs, ragged.

    Example:

    >>> split_bigrams(tf.constant(["a b c", ""])).to_list()
    [[b'<s> a', b'a b', b'b c'], []]
    """
    tokens = tf.strings.split(texts)
    starts = tf.fill([tf.shape(texts)[0], 1], BIGRAM_START)
    previous = tf.concat([starts, tokens], axis=1)[:, :-1]
    return tokens.with_flat_values(
        tf.strings.join([previous.flat_values, tokens.flat_values], " ")
    )


def standardize(texts, lowercase=True, split_punctuation=True):
    """Strings ready for whitespace splitting: the text layers' first step.

    Bytes that are not valid UTF-8 become U+FFFD; then, optionally, Unicode
    lower-casing and punctuation splitting: a quote at either end of a word
    ("'tis", "actors'"), the English contraction endings 's 've n't 're 'd
    'll 'm, and every other character that is not a letter, mark, digit,
    apostrophe or whitespace become tokens of their own.

    Example:

    >>> standardize(tf.constant(["Isn't it 'GREAT', Ana?"])).numpy()[0]
    b"is n't it ' great ' , ana ?"
    """
    texts = sanitize(texts)
    if lowercase:
        texts = tf.strings.lower(texts, encoding="utf-8")
    if split_punctuation:
        for pattern, rewrite in PUNCTUATION_RULES:
            texts = tf.strings.regex_replace(texts, pattern, rewrite)
        texts = tf.strings.strip(tf.strings.regex_replace(texts, r"\s+", " "))
    return texts


# RE2 rewrites applied in order by `standardize`: quotes at word edges
# first, so that the contraction endings split off next keep their
# apostrophe; then everything else that is not part of a word.
PUNCTUATION_RULES = (
    (r"(^|[^\pL\pM\pN])'", r"\1' "),
    (r"'([^\pL\pM\pN]|$)", r" '\1"),
    (r"(\pL)('s|'ve|n't|'re|'d|'ll|'m)\b", r"\1 \2"),
    (r"([^\pL\pM\pN\s'])", r" \1 "),
)


def sanitize(texts):
    """Replaces bytes that are not valid UTF-8 with U+FFFD."""
    return tf.strings.unicode_transcode(
        texts, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
    )


@keras.saving.register_keras_serializable(package="zoo")
class PaddingMonitor(keras.layers.Layer):
    """Counts real and padded positions of the masks it sees in training.

    An identity layer: place it after a masking layer (e.g. an `Embedding`
    with `mask_zero=True`). `zoo.training.PaddingLogger` reads and resets
    the counts once per epoch and logs `padded_fraction`.

    Call arguments:
        inputs: Any tensor `[batch, time, ...]`, returned unchanged.
        mask: Boolean `[batch, time]`, True for real positions.
        training: Counts are kept only in training.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.real = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="real",
            dtype="float64",
        )
        self.total = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="total",
            dtype="float64",
        )

    def call(self, inputs, mask=None, training=False):
        if training and mask is not None:
            mask = ops.cast(mask, "float64")
            self.real.assign_add(ops.sum(mask))
            self.total.assign_add(ops.cast(ops.size(mask), "float64"))
        return inputs

    def compute_mask(self, inputs, mask=None):
        return mask

    def padded_fraction(self):
        """Padded share of the positions counted since the last reset."""
        total = float(self.total.numpy())
        return 1.0 - float(self.real.numpy()) / total if total else 0.0

    def reset(self):
        self.real.assign(0.0)
        self.total.assign(0.0)
