"""Raw strings to padded token ids inside the model."""

import collections
import functools
import itertools

import keras
import numpy as np
import tensorflow as tf

from zoo import utils
from zoo.portable import text as portable_text


def _string_batches(texts, batch_size):
    """String tensors `[<= batch_size]` of an iterable or a dataset of
    strings, read as they are needed."""
    if isinstance(texts, tf.data.Dataset):
        yield from texts.batch(batch_size)
        return
    texts = iter(texts)
    while batch := list(itertools.islice(texts, batch_size)):
        yield tf.constant(batch, tf.string)


@keras.saving.register_keras_serializable(package="zoo")
class TextToIds(keras.layers.Layer):
    """Tokenization and vocabulary lookup for raw strings.

    Puts tokenization inside the model, so an exported model takes raw
    text. Each string goes through `standardize` (invalid UTF-8 replaced,
    optionally Unicode-normalized, lower-cased and with punctuation split
    off) and is split on whitespace, or into characters (whitespace
    included) with `split="character"`; each token is mapped to an id (0 = padding, 1 = out of
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
            "film" share an id. Default (`None`): `True` when splitting on
            whitespace; it cannot be used with `split="character"`.
        bigrams: Give each position the id of the pair (previous token,
            token) instead of the token's, with `<s>` before the first
            token. The ids line up with a unigram layer's on the same text,
            so pair embeddings can be added to word embeddings. Default:
            `False`.
        normalize: `None`, `"NFC"` or `"NFKC"`: Unicode normalization
            first (see `normalize_unicode`), so that a precomposed "é" and
            "e" + combining accent, or "ﬁ" and "fi", are one token.
            Default: `None`.
        split: `"whitespace"` (tokens are words) or `"character"` (tokens
            are Unicode characters, for character-level models).
            Default: `"whitespace"`.
        vocabulary: Optional list of tokens (without the padding and
            out-of-vocabulary entries); otherwise call `adapt()` or
            `fit_vocabulary()`.
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
        split_punctuation=None,
        bigrams=False,
        normalize=None,
        split="whitespace",
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
        self.split = utils.check_choice("split", split, SPLITS)
        characters = self.split == "character"
        if split_punctuation is None:
            split_punctuation = not characters
        self.split_punctuation = bool(split_punctuation)
        self.bigrams = bool(bigrams)
        if characters and (self.split_punctuation or self.bigrams):
            raise ValueError(
                "Received split='character' with "
                + ("split_punctuation=True" if self.split_punctuation
                   else "bigrams=True")
                + "; both work on words, expected them off"
            )
        if normalize is not None:
            utils.check_choice("normalize", normalize, NORMALIZATION_FORMS)
        self.normalize = normalize
        if vocabulary is not None:
            refuse_nul(vocabulary)
        self.vectorizer = keras.layers.TextVectorization(
            max_tokens=self.max_tokens,
            standardize=None,  # Done by `self.standardize`, which exports.
            split=self._split,
            output_mode="int",
            output_sequence_length=self.max_length,
            ragged=True,
            vocabulary=vocabulary,
            name="vectorizer",
        )
        # Nothing to build from a shape: the lookup table comes with the
        # vocabulary. Built from the start, an export can track the layer
        # before it has seen any text.
        self.built = True

    def adapt(self, texts, batch_size=1024):
        """Builds the vocabulary from an iterable or dataset of strings."""
        if not isinstance(texts, tf.data.Dataset):
            texts = tf.data.Dataset.from_tensor_slices(list(texts))
        self.vectorizer.adapt(texts.batch(batch_size).map(self.standardize))

    def fit_vocabulary(self, texts, min_count=1, reserved=(),
                       batch_size=1024):
        """Builds the vocabulary from counted tokens; returns it.

        Unlike `adapt()`, tokens seen fewer than `min_count` times stay
        out-of-vocabulary (so id 1 is trained on rare words, like the
        unseen ones it stands for at test time), and `reserved` tokens
        (e.g. sequence markers) take the first ids after padding and
        out-of-vocabulary, in order, whether or not the texts hold them.
        The rest are the most frequent tokens (ties in string order), up to
        `max_tokens` entries in all.

        Args:
            texts: Strings: an iterable (read once, `batch_size` at a
                time) or a `tf.data.Dataset`.
            min_count: Positive integer.
            reserved: Distinct non-empty tokens without whitespace placed
                first, as given (not standardized), e.g. `["<s>", "</s>"]`.
            batch_size: Positive integer, strings standardized at a time.

        Returns:
            The vocabulary, without the padding and out-of-vocabulary
            entries.

        Example:

        >>> layer = TextToIds(max_tokens=10, max_length=5, lowercase=False)
        >>> layer.fit_vocabulary(["a b a", "c a b"], min_count=2,
        ...                      reserved=["<s>"])
        ['<s>', 'a', 'b']
        >>> layer(tf.constant(["a c b"])).numpy().tolist()
        [[3, 1, 4]]
        """
        utils.check_positive_int("min_count", min_count)
        utils.check_positive_int("batch_size", batch_size)
        reserved = [str(token) for token in reserved]
        unusable = {"", UNKNOWN}
        if (len(set(reserved)) != len(reserved) or unusable & set(reserved)
                or any(len(token.split()) != 1 for token in reserved if token)):
            raise ValueError(
                "Received an invalid value for argument `reserved`, expected "
                f"distinct tokens without whitespace other than "
                f"{sorted(unusable)}, got {reserved!r}"
            )
        counts = collections.Counter()
        for batch in _string_batches(texts, batch_size):
            counts.update(
                self._split(self.standardize(batch)).flat_values.numpy())
        refuse_nul(reserved)
        # A corpus token spelled like the unknown entry stays unknown, and
        # so does one holding a NUL (see `refuse_nul`).
        taken = set(reserved) | {UNKNOWN}
        ranked = sorted(
            (-n, token.decode("utf-8")) for token, n in counts.items()
            if n >= min_count and token.decode("utf-8") not in taken
            and b"\0" not in token
        )
        room = self.max_tokens - 2 - len(reserved)
        if room < 0:
            raise ValueError(
                f"Received {len(reserved)} reserved tokens, expected at most "
                f"max_tokens - 2 = {self.max_tokens - 2}"
            )
        vocabulary = reserved + [token for _, token in ranked[:room]]
        if not vocabulary:
            raise ValueError(
                "Cannot build a vocabulary: no token is seen "
                f"min_count={min_count} times and none is reserved"
            )
        self.vectorizer.set_vocabulary(vocabulary)
        return vocabulary

    def get_vocabulary(self):
        return self.vectorizer.get_vocabulary()

    def _split(self, texts):
        """Standardized strings `[batch]` -> ragged tokens."""
        if self.split == "character":
            return tf.strings.unicode_split(texts, "UTF-8")
        if self.bigrams:
            return split_bigrams(texts)
        return tf.strings.split(texts)

    def standardize(self, texts):
        """`standardize` with this layer's settings."""
        return standardize(
            texts, self.lowercase, split_punctuation=self.split_punctuation,
            normalize=self.normalize,
        )

    def count_tokens(self, texts):
        """Tokens of each string `[batch]` before truncation, as int64."""
        return self._split(self.standardize(texts)).row_lengths()

    def call(self, inputs):
        ids = self.vectorizer(self.standardize(inputs))
        # At least one (padding) step, even for a batch of empty strings.
        return at_least_steps(ids.to_tensor(default_value=0), 1)

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
                "normalize": self.normalize,
                "split": self.split,
                "vocabulary": self.get_vocabulary()[2:] or None,
            }
        )
        return config


# The bigram start token, and the out-of-vocabulary entry's name
# (TextVectorization's): the plain-Python twin's, which must agree.
BIGRAM_START = portable_text.BIGRAM_START
UNKNOWN = portable_text.UNKNOWN


def refuse_nul(entries):
    """Raises if a vocabulary entry holds a NUL character: a lookup
    table's keys pass through NumPy strings, which end there."""
    held = [entry for entry in entries if "\0" in entry]
    if held:
        raise ValueError(
            "Received vocabulary entries holding a NUL character, which a "
            f"lookup table cannot hold: {held[:5]!r}"
        )


def at_least_steps(ids, steps):
    """Pads ids `[batch, time]` with 0 on the right to at least `steps`.

    A recurrent layer needs a time step, even for a batch of empty texts.

    >>> at_least_steps(tf.zeros([2, 0], tf.int32), 1).shape.as_list()
    [2, 1]
    """
    missing = tf.maximum(steps - tf.shape(ids)[1], 0)
    return tf.pad(ids, [[0, 0], [0, missing]])


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


def standardize(texts, lowercase=True, split_punctuation=True,
                normalize=None):
    """Strings ready for whitespace splitting: the text layers' first step.

    Bytes that are not valid UTF-8 become U+FFFD; then, optionally, Unicode
    normalization (`normalize="NFC"` or `"NFKC"`, see `normalize_unicode`),
    lower-casing and punctuation splitting: a quote at either end of a word
    ("'tis", "actors'"), the English contraction endings 's 've n't 're 'd
    'll 'm, and every other character that is not a letter, mark, digit,
    apostrophe or whitespace become tokens of their own.

    Example:

    >>> standardize(tf.constant(["Isn't it 'GREAT', Ana?"])).numpy()[0]
    b"is n't it ' great ' , ana ?"
    """
    texts = sanitize(texts)
    if normalize is not None:
        utils.check_choice("normalize", normalize, NORMALIZATION_FORMS)
        texts = normalize_unicode(texts, normalize)
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


def detokenize(texts):
    """Joins split-off punctuation back onto words: `standardize`'s inverse.

    Removes the space before closing punctuation (`. , ; : ! ? ) ] } »`
    and the contraction endings 's 've n't 're 'd 'll 'm) and after opening
    punctuation (`( [ { « ¿ ¡`). Quotes stay apart: whether one opens or
    closes is not known.

    Example:

    >>> detokenize(tf.constant(["¿ dónde está ( él ) ? it is n't ."])).numpy()[0]
    b"\xc2\xbfd\xc3\xb3nde est\xc3\xa1 (\xc3\xa9l)? it isn't."
    """
    for pattern, rewrite in DETOKENIZE_RULES:
        texts = tf.strings.regex_replace(texts, pattern, rewrite)
    return texts


DETOKENIZE_RULES = portable_text.DETOKENIZE_RULES


NORMALIZATION_FORMS = portable_text.NORMALIZATION_FORMS
SPLITS = portable_text.SPLITS
# Code points are below 0x110000, so `first * _PAIR_BASE + second` is one
# int64 key per pair of code points.
_PAIR_BASE = portable_text.PAIR_BASE


def normalize_unicode(texts, form="NFKC"):
    """Unicode NFC or NFKC normalization with core TensorFlow ops.

    Core TensorFlow has no Unicode normalization op (tensorflow-text's
    `normalize_utf8` is a custom op that a SavedModel's server would have
    to load), so this builds it from two tables of Python's `unicodedata`
    (Unicode version of the Python that exports), embedded as constants:

    1. every code point whose normalization differs from itself is replaced
       by its normalized string (NFKC: compatibility forms such as "ﬁ" ->
       "fi", full-width "Ａ" -> "A", no-break space -> space; both forms:
       singletons and precomposed characters in normal form);
    2. twice, a character followed by a combining mark that composes with
       it is replaced by the composed character ("e" + U+0301 -> "é"; twice
       for two marks, as in Vietnamese "e" + U+0323 + U+0302 -> "ệ").

    So each combining mark composes only with the character right before
    it (after that one's own composition). The result equals
    `unicodedata.normalize(form, text)` for precomposed text and for
    decomposed text in which that holds, which covers Latin, Greek and
    Cyrillic letters with up to two marks. It differs where a mark would
    compose across another mark ("a" + U+0330 + U+0301 stays as it is; NFC
    gives "á" + U+0330), for marks out of canonical order (no reordering;
    this includes "ê" + U+0323, which NFC makes "ệ") and for conjoining
    Hangul jamo (not composed into syllables). Invalid UTF-8 becomes
    U+FFFD.

    Args:
        texts: String tensor of any shape.
        form: `"NFC"` or `"NFKC"`.

    Returns:
        A string tensor of the same shape.

    Example:

    >>> normalize_unicode(tf.constant(["Ａｎａ ﬁne", "cafe\u0301"])).numpy()
    array([b'Ana fine', b'caf\xc3\xa9'], dtype=object)
    """
    utils.check_choice("form", form, NORMALIZATION_FORMS)
    keys, values, pair_keys, composed = (
        tf.constant(table) for table in _normalization_tables(form)
    )
    texts = tf.convert_to_tensor(texts, tf.string)
    shape = tf.shape(texts)
    chars = tf.strings.unicode_decode(
        tf.reshape(texts, [-1]), "UTF-8", errors="replace",
        replacement_char=0xFFFD,
    )  # [n, (chars)] int32.
    flat = chars.flat_values
    # Step 1: each code point -> its own UTF-8, or its table entry.
    pieces = tf.strings.unicode_encode(flat[:, None], "UTF-8")  # [chars].
    index = tf.minimum(tf.searchsorted(keys, flat), keys.shape[0] - 1)
    pieces = tf.where(
        tf.equal(tf.gather(keys, index), flat), tf.gather(values, index),
        pieces,
    )
    joined = tf.strings.reduce_join(chars.with_flat_values(pieces), axis=1)
    for _ in range(2):
        joined = _compose_pairs(joined, pair_keys, composed)
    return tf.reshape(joined, shape)


def _compose_pairs(texts, pair_keys, composed):
    """One left-to-right pass of pairwise canonical composition."""
    chars = tf.strings.unicode_decode(texts, "UTF-8")  # [n, (chars)].
    flat = tf.cast(chars.flat_values, tf.int64)
    rows = chars.value_rowids()
    # Each code point paired with the next one of the same string.
    following = tf.concat([flat[1:], tf.zeros([1], tf.int64)], axis=0)[
        :tf.size(flat)
    ]
    same_row = tf.equal(
        rows, tf.concat([rows[1:], [-1]], axis=0)[:tf.size(rows)]
    )
    keys = flat * _PAIR_BASE + following
    index = tf.minimum(
        tf.searchsorted(pair_keys, keys), pair_keys.shape[0] - 1
    )
    match = same_row & tf.equal(tf.gather(pair_keys, index), keys)

    def shifted(x):  # x[i - 1] at i, False at 0.
        return tf.concat([[False], x], axis=0)[:-1]

    # A code point taken as the second of a pair does not start another.
    match &= ~shifted(match)
    dropped = shifted(match)
    flat = tf.where(match, tf.gather(composed, index), flat)
    kept = tf.RaggedTensor.from_value_rowids(
        tf.cast(tf.boolean_mask(flat, ~dropped), tf.int32),
        tf.boolean_mask(rows, ~dropped), nrows=chars.nrows(),
    )
    return tf.strings.unicode_encode(kept, "UTF-8")


@functools.lru_cache(maxsize=None)
def _normalization_tables(form):
    """Sorted tables of `normalize_unicode`: those of
    `zoo.portable.text.normalization_tables` (from Python's unicodedata),
    as arrays.

    NumPy arrays, not tensors: a cached tensor would belong to the graph
    that first made it.

    Returns:
        `(keys, values, pair_keys, composed)`: code points (int32) whose
        `form` differs from themselves and their normalized strings; pair
        keys `first * _PAIR_BASE + second` (int64, sorted) of the
        canonical pairs that compose and the code points they compose to.
    """
    mapping, pairs = portable_text.normalization_tables(form)
    keys, pair_keys = sorted(mapping), sorted(pairs)
    return (
        np.array(keys, np.int32),
        np.array([mapping[k].encode("utf-8") for k in keys], object),
        np.array(pair_keys, np.int64),
        np.array([pairs[k] for k in pair_keys], np.int64),
    )


def sanitize(texts):
    """Replaces bytes that are not valid UTF-8 with U+FFFD."""
    return tf.strings.unicode_transcode(
        texts, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
    )
