"""Regular poems (and acrostics) as a constraint on a character sampler.

A regular poem has `lines` lines of `characters` content characters
(letters or digits), "，" after odd lines and "。" after even ones, then
the end marker; an acrostic (藏头诗) gives the characters that begin the
lines. The form is not part of the model: `Poet.compose` turns it into a
template of what each step may emit, and `zoo.decoding.sample` draws
under that constraint.
"""

import unicodedata

import tensorflow as tf

from zoo import utils
from zoo.models import char_lm

# Punctuation of the regular forms: after odd lines, after even lines.
COMMA, PERIOD = "，", "。"
FORMS = {"characters": (5, 7), "lines": (4, 8)}
# Template entries of constrained decoding (other entries are forced ids).
CONTENT = -2


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


def check_form(characters, lines):
    """Validates a poem form; returns int32 tensors."""
    if not tf.is_tensor(characters):
        characters = utils.check_positive_int("characters", characters)
    if not tf.is_tensor(lines):
        lines = utils.check_positive_int("lines", lines)
    if not tf.is_tensor(characters) and not tf.is_tensor(lines):
        if lines * (characters + 1) > char_lm.MAX_GENERATE:
            raise ValueError(
                f"Received a form of {lines} lines of {characters} "
                f"characters: {lines * (characters + 1)} characters with "
                f"punctuation, expected at most {char_lm.MAX_GENERATE}"
            )
    characters = tf.cast(characters, tf.int32)
    lines = tf.cast(lines, tf.int32)
    # In int64: the product of two int32 values could wrap around.
    length = tf.cast(lines, tf.int64) * (tf.cast(characters, tf.int64) + 1)
    checks = [
        tf.debugging.assert_positive(characters, "characters must be >= 1"),
        tf.debugging.assert_positive(lines, "lines must be >= 1"),
        tf.debugging.assert_less_equal(
            length, tf.constant(char_lm.MAX_GENERATE, tf.int64),
            f"a poem must have at most {char_lm.MAX_GENERATE} characters "
            "with punctuation",
        ),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(characters), tf.identity(lines)


def _columns(ragged, lines, default):
    """The first `lines` entries of each row, padded to `[N, WIDTH]`."""
    width = char_lm.WIDTH
    dense = ragged[:, :lines].to_tensor(default_value=default)[:, :width]
    return tf.pad(dense, [[0, 0], [0, width - tf.shape(dense)[1]]],
                  constant_values=default)


class Poet(char_lm.Generator):
    """A `zoo.models.char_lm.Generator` that also writes regular poems.

    Args:
        model, text_layer, poems: As for `Generator`.
    """

    def __init__(self, model, text_layer, poems):
        super().__init__(model, text_layer, poems)
        vocabulary = [str(t) for t in text_layer.get_vocabulary()]
        content = [i > char_lm.END_ID and len(t) == 1 and is_content(t)
                   for i, t in enumerate(vocabulary)]
        self.content = tf.constant(content)
        ids = {t: i for i, t in enumerate(vocabulary)}
        self.punctuation = (ids.get(COMMA), ids.get(PERIOD))
        self.can_compose = (
            self.poems and None not in self.punctuation and any(content))

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
        characters, lines = check_form(characters, lines)
        temperature, top_k = char_lm.check_sampling(temperature, top_k)
        width = characters + 1  # A line and its punctuation mark.
        end = lines * width
        positions = tf.range(char_lm.WIDTH)
        line, column = positions // width, positions % width
        comma, period = self.punctuation
        template = tf.where(
            column == characters, tf.where(line % 2 == 0, comma, period),
            CONTENT)
        template = tf.where(positions >= end, char_lm.END_ID,
                            template)[None, :]
        # The acrostic, [N, WIDTH]: the id (and the character as written)
        # that begins line i, at column i; CONTENT (and "") where none.
        first = _columns(self.char_ids(acrostic), lines, CONTENT)
        given = _columns(tf.strings.unicode_split(
            self.text_layer.standardize(acrostic), "UTF-8"), lines, "")
        begins = tf.logical_and(column == 0, positions < end)[None, :]
        template = tf.where(begins, tf.gather(first, line, axis=1), template)
        ids = tf.range(tf.shape(self.vocabulary)[0])[None, :]

        def constraint(index):
            # A content character, or the one id the template forces.
            slot = tf.gather(template, index, axis=1)[:, None]  # [N, 1].
            return tf.where(slot == CONTENT, self.content[None, :],
                            ids == slot)

        start, states = self.prime(tf.fill(tf.shape(acrostic), ""))
        found = self.sample(start, states, constraint, temperature, top_k,
                            top_p, seed)
        given = tf.gather(given, line, axis=1)
        strings = tf.where(tf.logical_and(begins, given != ""), given,
                           self.strings(found))
        return tf.strings.reduce_join(strings, axis=1)
