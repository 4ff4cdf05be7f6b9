"""The text layers' preprocessing in plain Python, for clients without
TensorFlow.

A portable export (ONNX, LiteRT) takes ids, not strings: those runtimes
have no string operations. This module turns raw text into the ids the
model's text layer would have made in the SavedModel, step for step, so
a client in plain Python (or one that ports these few functions) feeds
the numeric model exactly what the SavedModel's own preprocessing feeds
it:

* `TextIds`: `zoo.layers.TextToIds` (sentiment, the translator's source,
  the language model's characters);
* `TokenIds` and `TokenCharIds`: `zoo.layers.TokensToIds` and
  `TokensToCharIds` (the tagger's words and their characters).

Each is made from the layer's `get_config()` (which holds the
vocabulary), as a portable export writes it beside the model:

>>> ids = TextIds.from_config({"max_tokens": 10, "max_length": 3,
...                            "vocabulary": ["a", "b"]})
>>> ids(["A b c d", ""])
[[2, 3, 1], [0, 0, 0]]

What the in-graph steps do, and so what these do:

1. Bytes that are not UTF-8 become U+FFFD (one per byte that cannot
   start or continue a valid sequence, as Python's "replace" reads them).
2. Optional Unicode normalization: the table-driven NFC/NFKC of
   `zoo.layers.text.normalize_unicode` (not full `unicodedata.normalize`:
   see `normalize_unicode` here).
3. Optional lower-casing, as TensorFlow's `tf.strings.lower(...,
   encoding="utf-8")` does it: full Unicode case mapping (final sigma
   included), except that the text ends at its first NUL character and
   that letters which gained a lowercase form in Unicode 14 keep their
   case (`UNCASED_IN_TENSORFLOW`: TensorFlow 2.21's case tables are
   Unicode 13's).
4. Optional punctuation splitting (`PUNCTUATION_RULES`, RE2 semantics:
   `\\s` and `\\b` are ASCII there), then runs of ASCII whitespace
   become one space and the ends are stripped.
5. Splitting on ASCII whitespace (space, tab, line feed, vertical tab,
   form feed, carriage return; other Unicode spaces stay inside tokens),
   or into characters; optional bigram tokens.
6. Vocabulary lookup: 0 is padding, 1 an unknown token, the vocabulary's
   tokens 2, 3, ...; rows truncated to `max_length` and padded with 0 on
   the right to the longest row (at least one step).

The character classes (letter, mark, number) and the case mapping come
from the Python that runs this module (`unicodedata`); TensorFlow's come
from its RE2 and ICU, whose Unicode versions differ. Tested against the
layers themselves on every code point (Python 3.11, Unicode 14.0;
TensorFlow 2.21): lower-casing and normalization agree on all (with
`UNCASED_IN_TENSORFLOW`), punctuation splitting on every character
Unicode 14.0 assigns (RE2 also counts about 4,400 characters assigned
later as letters, marks or numbers); and on the project's corpora and the
hostile-input texts.
"""

import functools
import inspect
import re
import unicodedata

PADDING_ID, UNKNOWN_ID = 0, 1
UNKNOWN = "[UNK]"  # The vocabularies' entry 1.
BIGRAM_START = "<s>"
NORMALIZATION_FORMS = ("NFC", "NFKC")
SPLITS = ("whitespace", "character")

# RE2's Perl classes are ASCII: `\s` is these four and space (no vertical
# tab); TensorFlow's whitespace split and strip use the six of
# `absl::ascii_isspace`.
RE2_SPACE = "\t\n\f\r "
ASCII_SPACE = " \t\n\v\f\r"

# Letters that Unicode 14 gave a lowercase form (Python 3.11's tables
# have it, TensorFlow 2.21's ICU does not): TensorFlow leaves them as
# they are.
UNCASED_IN_TENSORFLOW = frozenset(
    [0x2C2F, 0xA7C0, 0xA7D0, 0xA7D6, 0xA7D8]
    + list(range(0x10570, 0x1057B)) + list(range(0x1057C, 0x1058B))
    + list(range(0x1058C, 0x10593)) + [0x10594, 0x10595]
)

# Code points are below 0x110000, so `first * PAIR_BASE + second` is one
# integer key per pair of code points.
PAIR_BASE = 0x110000


def sanitize(text):
    """`text` (str or UTF-8 bytes) as str, undecodable bytes as U+FFFD."""
    if isinstance(text, str):
        # A lone surrogate has no UTF-8 form: it reads as its three
        # encoded bytes would, each invalid.
        text = text.encode("utf-8", "surrogatepass")
    return bytes(text).decode("utf-8", "replace")


@functools.cache
def normalization_tables(form):
    """The tables of `normalize_unicode`, from this Python's unicodedata.

    Returns:
        `(mapping, pairs)`: a dict from each code point whose `form`
        differs from itself to its normalized string, and a dict from
        the key `first * PAIR_BASE + second` of each canonical pair that
        composes to the code point it composes to.
    """
    if form not in NORMALIZATION_FORMS:
        raise ValueError(
            f"Received an invalid value for argument `form`, expected one "
            f"of {', '.join(NORMALIZATION_FORMS)}, got {form!r}")
    mapping, pairs = {}, {}
    for code in range(PAIR_BASE):
        char = chr(code)
        decomposition = unicodedata.decomposition(char)
        if not decomposition or 0xD800 <= code < 0xE000:
            continue  # Unchanged by either form, or a lone surrogate.
        normalized = unicodedata.normalize(form, char)
        if normalized != char:
            mapping[code] = normalized
        parts = decomposition.split()
        if len(parts) == 2 and not decomposition.startswith("<"):
            first, second = (int(p, 16) for p in parts)
            if unicodedata.normalize("NFC", chr(first) + chr(second)) == char:
                pairs[first * PAIR_BASE + second] = code
    return mapping, pairs


def normalize_unicode(text, form="NFKC"):
    """`zoo.layers.text.normalize_unicode` of one string.

    Every code point is replaced by its normalized form (table), then
    twice a pass composes each character with a combining mark right after
    it. Within a pass a character composes once: of a run of pairs that
    compose (a+b, b+c, c+d), only the first composes, and what follows
    the consumed mark waits for the next pass, as in the vectorized
    original.
    """
    mapping, pairs = normalization_tables(form)
    codes = [ord(c) for c in "".join(mapping.get(ord(c), c) for c in text)]
    for _ in range(2):
        codes = _compose_pairs(codes, pairs)
    return "".join(map(chr, codes))


def _compose_pairs(codes, pairs):
    keys = [a * PAIR_BASE + b for a, b in zip(codes, codes[1:])]
    found = [key in pairs for key in keys] + [False]
    # A code point that matched as the second of a pair starts none.
    match = [m and not (i and found[i - 1]) for i, m in enumerate(found)]
    out = []
    for i, code in enumerate(codes):
        if i and match[i - 1]:
            continue  # Composed into the previous one.
        out.append(pairs[keys[i]] if match[i] else code)
    return out


def lower(text):
    """`tf.strings.lower(text, encoding="utf-8")` of one string."""
    text = text.split("\0", 1)[0]  # TensorFlow's ends at a NUL.
    if not any(ord(c) in UNCASED_IN_TENSORFLOW for c in text):
        return text.lower()
    # Lower-case around the letters TensorFlow keeps: each piece alone,
    # which is exact but for a final sigma right before such a letter.
    pieces = re.split(f"([{''.join(map(chr, sorted(UNCASED_IN_TENSORFLOW)))}])",
                      text)
    return "".join(p if i % 2 else p.lower() for i, p in enumerate(pieces))


@functools.cache
def _class(categories):
    """A regex class body of every code point whose Unicode general
    category starts with one of `categories` (e.g. "LMN": \\pL\\pM\\pN)."""
    ranges, start, previous = [], None, None
    for code in range(PAIR_BASE):
        if unicodedata.category(chr(code))[0] not in categories:
            continue
        if start is not None and code != previous + 1:
            ranges.append((start, previous))
            start = None
        if start is None:
            start = code
        previous = code
    ranges.append((start, previous))
    return "".join(
        re.escape(chr(a)) + ("" if a == b else "-" + re.escape(chr(b)))
        for a, b in ranges)


@functools.cache
def punctuation_rules():
    """`zoo.layers.text.PUNCTUATION_RULES` as compiled Python patterns."""
    word, letter = _class("LMN"), _class("L")
    return (
        (re.compile(f"(^|[^{word}])'"), r"\1' "),
        (re.compile(f"'([^{word}]|\\Z)"), r" '\1"),
        # RE2's \b is an ASCII word boundary.
        (re.compile(f"([{letter}])('s|'ve|n't|'re|'d|'ll|'m)\\b", re.ASCII),
         r"\1 \2"),
        (re.compile(f"([^{word}{re.escape(RE2_SPACE)}'])"), r" \1 "),
    )


def standardize(text, lowercase=True, split_punctuation=True,
                normalize=None):
    """`zoo.layers.text.standardize` of one string (str or bytes)."""
    text = sanitize(text)
    if normalize is not None:
        text = normalize_unicode(text, normalize)
    if lowercase:
        text = lower(text)
    if split_punctuation:
        for pattern, rewrite in punctuation_rules():
            text = pattern.sub(rewrite, text)
        text = re.sub(f"[{re.escape(RE2_SPACE)}]+", " ", text)
        text = text.strip(ASCII_SPACE)
    return text


# `detokenize`'s rewrites, in order (RE2 syntax; `\\b` is ASCII there).
DETOKENIZE_RULES = (
    (r" ([.,;:!?)\]}»%]|'s\b|'ve\b|n't\b|'re\b|'d\b|'ll\b|'m\b)", r"\1"),
    (r"([(\[{«¿¡]) ", r"\1"),
)


def detokenize(text):
    """`zoo.layers.detokenize` of one string: the space before closing
    punctuation and contraction endings, and after opening punctuation,
    removed (a translation's words joined by spaces -> its sentence)."""
    for pattern, rewrite in DETOKENIZE_RULES:
        text = re.sub(pattern, rewrite, text, flags=re.ASCII)
    return text


def split_whitespace(text):
    """`tf.strings.split(text)`: tokens between runs of ASCII whitespace."""
    return [t for t in re.split(f"[{re.escape(ASCII_SPACE)}]+", text) if t]


def bigrams(tokens):
    """Each token as the pair "previous token", `<s>` before the first."""
    return [f"{a} {b}" for a, b in zip([BIGRAM_START] + tokens, tokens)]


def pad(rows, width=1, value=PADDING_ID):
    """Rows padded with `value` on the right to the longest (>= width)."""
    width = max([width] + [len(row) for row in rows])
    return [row + [value] * (width - len(row)) for row in rows]


class _Lookup:
    """Tokens -> ids: 0 padding, 1 unknown, vocabulary entries from 2."""

    def __init__(self, vocabulary):
        if not vocabulary:
            raise ValueError(
                "Received no vocabulary; a portable export writes the "
                "layer's config with its vocabulary")
        self.vocabulary = list(vocabulary)
        self.index = {token: i for i, token in
                      enumerate(self.vocabulary, start=2)}

    @classmethod
    def from_config(cls, config):
        """From the twin layer's `get_config()`: the keys the constructor
        takes (the rest, such as name, dtype and trainable, are ignored)."""
        taken = inspect.signature(cls).parameters
        return cls(**{k: v for k, v in config.items() if k in taken})

    def lookup(self, token):
        return self.index.get(token, UNKNOWN_ID)


class TextIds(_Lookup):
    """`zoo.layers.TextToIds`: strings -> padded ids, in plain Python.

    Args:
        max_tokens, max_length, lowercase, split_punctuation, bigrams,
        normalize, split, vocabulary: As the layer's (its `get_config()`).

    Call arguments:
        texts: A list of strings (str or UTF-8 bytes).

    Returns:
        A list of rows of ints, `1 <= width <= max_length`, as the layer's
        `[batch, time]` output.
    """

    def __init__(self, max_tokens, max_length, lowercase=True,
                 split_punctuation=None, bigrams=False, normalize=None,
                 split="whitespace", vocabulary=None):
        if split not in SPLITS:
            raise ValueError(
                f"Received an invalid value for argument `split`, expected "
                f"one of {', '.join(SPLITS)}, got {split!r}")
        super().__init__(vocabulary)
        self.max_length = max_length
        self.lowercase = lowercase
        self.split = split
        if split_punctuation is None:
            split_punctuation = split == "whitespace"
        self.split_punctuation = split_punctuation
        self.bigrams = bigrams
        self.normalize = normalize

    def tokens(self, text):
        """The tokens of one text before truncation."""
        text = standardize(text, self.lowercase, self.split_punctuation,
                           self.normalize)
        if self.split == "character":
            return list(text)
        tokens = split_whitespace(text)
        return bigrams(tokens) if self.bigrams else tokens

    def __call__(self, texts):
        return pad([[self.lookup(t) for t in self.tokens(text)]
                    [:self.max_length] for text in texts])


class TokenIds(_Lookup):
    """`zoo.layers.TokensToIds`: rows of tokens ("" = padding) -> ids."""

    def __init__(self, max_tokens, lowercase=True, vocabulary=None,
                 min_count=1):
        del min_count  # How the vocabulary was made; not needed to use it.
        super().__init__(vocabulary)
        self.lowercase = lowercase

    def token_id(self, token):
        token = sanitize(token)
        if self.lowercase:
            token = lower(token)
        return PADDING_ID if token == "" else self.lookup(token)

    def __call__(self, rows):
        """Rows of tokens `[batch][time]` (equal lengths) -> ids."""
        return [[self.token_id(t) for t in row] for row in rows]


class TokenCharIds(_Lookup):
    """`zoo.layers.TokensToCharIds`: tokens -> ids of their characters.

    A token longer than `max_chars` keeps its first `max_chars // 2`
    characters and its last `max_chars - max_chars // 2`.
    """

    def __init__(self, max_chars=16, max_symbols=512, vocabulary=None,
                 min_count=1):
        del min_count
        super().__init__(vocabulary)
        self.max_chars = max_chars

    def char_ids(self, token):
        chars = list(sanitize(token))
        head = self.max_chars // 2
        if len(chars) > self.max_chars:
            chars = chars[:head] + chars[len(chars) - (self.max_chars - head):]
        return [self.lookup(c) for c in chars]

    def __call__(self, rows):
        """Rows of tokens `[batch][time]` -> ids `[batch][time][chars]`,
        `chars` the longest kept token of the batch (at least 1)."""
        found = [[self.char_ids(t) for t in row] for row in rows]
        width = max([1] + [len(c) for row in found for c in row])
        return [pad(row, width) for row in found]
