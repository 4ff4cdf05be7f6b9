"""zoo.portable.text: the text layers' ids, in plain Python, exactly."""

import os
import subprocess
import sys
import unicodedata

import pytest
import tensorflow as tf

from zoo import layers
from zoo.data import conll
from zoo.data import labelled_text
from zoo.data import pairs
from zoo.data import poems
from zoo.layers import text as graph_text
from zoo.portable import text
from zoo.testing import hostile

SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                      os.pardir, os.pardir, "shared", "data")

# Hostile inputs, then what each step is picky about: quotes at word
# edges, contractions and RE2's ASCII \b, whitespace RE2 and TensorFlow
# count (vertical tab) or not (no-break and em spaces), final sigma,
# full case mappings, a NUL (TensorFlow's lower-casing ends the text
# there), letters Unicode 14 gave lowercase forms, compatibility and
# combining characters, conjoining jamo, a lone surrogate's bytes.
TEXTS = [
    *(t.encode() for t in hostile.TEXTS), *hostile.NOT_UTF8,
    *hostile.CONTROL, b"", b" \t ",
    *(t.encode("utf-8", "surrogatepass") for t in [
        "Isn't it 'GREAT', Ana?", "''x", "it'\n", "rock'n'roll",
        "don't you'll I'm we'd they've", "x'S O'NEIL'S 'tis actors'",
        "ΟΔΟΣ Σ. ΑΣ", "A\x0bB\x0b", " \x0b a \x0c", "tab\tnl\nff\x0ccr\r",
        "\u00a0nbsp\u2003em", "ⱟ Ꟁ 𐕰 Σⱟ", "İstanbul ẞ ǅ", "a\x00b C",
        "¿dónde? ¡sí! «ça»", "12.5% (ok) [x] {y} -- ...", "Ａｎａ ﬁne ①",
        "cafe\u0301 e\u0323\u0302 a\u0330\u0301 ê\u0323", "\u1100\u1161",
        "\ud800 lone", "日本語の文、です。", "emoji 🙂👍🏽 x",
    ]),
]
TOKENS = [["The", "film", "", ""], ["ÉTÉ", "a\x00b", "İ", "ⱟ"],
          ["ÿ", "antidisestablishment",
           "x", ""]]


def graph_standardize(texts, **options):
    return [t.decode("utf-8") for t in
            graph_text.standardize(tf.constant(texts), **options).numpy()]


@pytest.mark.parametrize("normalize", [None, "NFC", "NFKC"])
@pytest.mark.parametrize("split_punctuation", [True, False])
@pytest.mark.parametrize("lowercase", [True, False])
def test_standardize_equals_the_graph(lowercase, split_punctuation,
                                      normalize):
    options = dict(lowercase=lowercase, split_punctuation=split_punctuation,
                   normalize=normalize)
    assert [text.standardize(t, **options) for t in TEXTS] == (
        graph_standardize(TEXTS, **options))


def test_detokenize_equals_the_graph():
    # The standardized texts (tokens joined by spaces, as translations
    # are), the hostile ones, and what each rule is picky about: RE2's
    # ASCII \\b after a contraction, opening and closing punctuation.
    texts = [text.standardize(t) for t in TEXTS] + [
        t.decode("utf-8", "replace") for t in TEXTS] + [
        "it is n't . no , it 's ( here ) ?", "n't\u00e9 's1 'll_ 'd",
        "\u00bf d\u00f3nde ? \u00a1 s\u00ed ! \u00ab a \u00bb 5 %",
        " . . ( ( ] ] "]
    assert [text.detokenize(t) for t in texts] == [
        t.decode() for t in graph_text.detokenize(
            tf.constant([t.encode() for t in texts])).numpy()]


def test_lower_equals_tensorflow_for_every_code_point():
    chars = [chr(c) for c in range(1, text.PAIR_BASE)
             if not 0xD800 <= c < 0xE000]
    lowered = tf.strings.lower(tf.constant([c.encode() for c in chars]),
                               encoding="utf-8").numpy()
    different = [c for c, low in zip(chars, lowered)
                 if text.lower(c) != low.decode()]
    assert different == []
    # The exceptions are needed: Python lower-cases these, TensorFlow not.
    assert all(chr(c).lower() != chr(c) for c in text.UNCASED_IN_TENSORFLOW)


def test_punctuation_splitting_equals_the_graph_for_every_code_point():
    # Each code point between letters and after a quote: is it a letter,
    # mark or number (\\pL\\pM\\pN) for both, and whitespace for both?
    chars = [chr(c) for c in range(1, text.PAIR_BASE)
             if not 0xD800 <= c < 0xE000]
    texts = [f"x{c}x 'n{c}" for c in chars]
    options = dict(lowercase=False, split_punctuation=True)
    graph = graph_standardize([t.encode() for t in texts], **options)
    different = [c for c, t, g in zip(chars, texts, graph)
                 if text.standardize(t, **options) != g]
    # TensorFlow's RE2 knows characters this Python's Unicode (14.0 for
    # Python 3.11) has not assigned yet; every assigned one agrees.
    assert {unicodedata.category(c) for c in different} <= {"Cn"}
    assert len(different) < 5000


def test_lower_ends_at_a_nul_and_keeps_a_final_sigma():
    assert text.lower("AB\x00CD") == "ab"
    assert text.lower("ΟΔΟΣ ⱟΣ") == "οδος ⱟς"


def test_normalization_equals_the_graph_for_every_code_point():
    chars = [chr(c) for c in range(text.PAIR_BASE)
             if not 0xD800 <= c < 0xE000]
    for form in text.NORMALIZATION_FORMS:
        graph = graph_text.normalize_unicode(
            tf.constant([c.encode() for c in chars]), form).numpy()
        assert [text.normalize_unicode(c, form) for c in chars] == [
            g.decode() for g in graph]


def test_normalization_composes_as_the_vectorized_passes_do():
    # Vietnamese: two marks on one letter, composed in two passes.
    assert text.normalize_unicode("e\u0323\u0302", "NFC") == "ệ"
    # Only the first of a run of composing pairs composes in a pass.
    tables = ({}, {1 * text.PAIR_BASE + 2: 10, 2 * text.PAIR_BASE + 3: 20,
                   3 * text.PAIR_BASE + 4: 30})
    assert text._compose_pairs([1, 2, 3, 4], tables[1]) == [10, 3, 4]


@pytest.mark.parametrize("options", [
    dict(),
    dict(bigrams=True),
    dict(lowercase=False, normalize="NFKC"),
    dict(split="character", lowercase=False, normalize="NFC"),
], ids=["words", "bigrams", "nfkc", "characters"])
def test_text_ids_equal_the_layer(options):
    layer = layers.TextToIds(max_tokens=60, max_length=7, **options)
    # The corpus loaders refuse NUL bytes: no vocabulary is fit on them.
    layer.fit_vocabulary([t for t in TEXTS if b"\0" not in t],
                         reserved=["<s>"])
    portable = text.TextIds.from_config(layer.get_config())
    assert portable(TEXTS) == layer(tf.constant(TEXTS)).numpy().tolist()
    # A batch of empty texts still has one (padding) step.
    assert portable(["", ""]) == [[0], [0]]


def test_token_ids_equal_the_layers():
    words = layers.TokensToIds(max_tokens=20, vocabulary=["the", "été", "x"])
    chars = layers.TokensToCharIds(max_chars=6, vocabulary=list("theÉ"))
    assert text.TokenIds.from_config(words.get_config())(TOKENS) == (
        words(tf.constant(TOKENS)).numpy().tolist())
    assert text.TokenCharIds.from_config(chars.get_config())(TOKENS) == (
        chars(tf.constant(TOKENS)).numpy().tolist())
    # Only padding: one character position.
    only_padding = [["", ""]]
    assert text.TokenCharIds.from_config(chars.get_config())(
        only_padding) == [[[0], [0]]]


def _batches(items, size=1000):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _assert_same_ids(layer, texts):
    portable = text.TextIds.from_config(layer.get_config())
    for batch in _batches(texts):
        expected = layer(tf.constant(batch)).numpy().tolist()
        assert portable(batch) == expected, batch[:3]


def _needs(*parts):
    path = os.path.join(SHARED, *parts)
    return pytest.mark.skipif(not os.path.exists(path),
                              reason=f"../shared/data/{parts[0]} is absent")


@pytest.mark.slow
@_needs("sentence_polarity", "train.tsv")
def test_sentiment_ids_on_sentence_polarity():
    _, texts, _ = labelled_text.read_rows(
        os.path.join(SHARED, "sentence_polarity", "train.tsv"))
    for bigrams in (False, True):
        layer = layers.TextToIds(20000, max_length=200, bigrams=bigrams)
        layer.adapt(texts)
        _assert_same_ids(layer, texts)


@pytest.mark.slow
@_needs("bible_en_es", "pairs.tsv")
def test_translate_ids_on_the_verse_pairs():
    sources, targets = pairs.read_pairs(
        os.path.join(SHARED, "bible_en_es", "pairs.tsv"))
    for texts, lowercase in ((sources, True), (targets, False)):
        layer = layers.TextToIds(16000, 60, lowercase=lowercase,
                                 normalize="NFKC")
        layer.fit_vocabulary(texts, min_count=2, reserved=["<s>", "</s>"])
        _assert_same_ids(layer, texts)


@pytest.mark.slow
@_needs("tang_poems", "poems.jsonl.gz")
def test_poetry_ids_on_the_tang_poems():
    texts = poems.read_poems(os.path.join(SHARED, "tang_poems",
                                          "poems.jsonl.gz"))
    layer = layers.TextToIds(6000, 100, lowercase=False, split="character",
                             normalize="NFC")
    layer.fit_vocabulary(texts, reserved=["<s>", "</s>"])
    _assert_same_ids(layer, texts)


@pytest.mark.slow
@_needs("brown_pos", "dev.conll")
def test_tagger_ids_on_brown():
    sentences, _ = conll.read_conll(os.path.join(SHARED, "brown_pos",
                                                 "dev.conll"))
    words, chars = layers.TokensToIds(30000, min_count=2), (
        layers.TokensToCharIds(max_chars=16))
    words.adapt(sentences)
    chars.adapt(sentences)
    portable = (text.TokenIds.from_config(words.get_config()),
                text.TokenCharIds.from_config(chars.get_config()))
    for batch in _batches(sentences, 500):
        width = max(map(len, batch))
        padded = [s + [""] * (width - len(s)) for s in batch]
        for layer, twin in zip((words, chars), portable):
            assert twin(padded) == layer(tf.constant(padded)).numpy().tolist()


def test_it_imports_without_tensorflow_or_numpy():
    code = ("import sys, zoo.portable.text as t; "
            "print(t.TextIds(5, 4, vocabulary=['a'])(['A b']), "
            "'tensorflow' in sys.modules, 'numpy' in sys.modules)")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True,
                           text=True, check=True)
    assert found.stdout.strip() == "[[2, 1]] False False"


@pytest.mark.parametrize("make, message", [
    (lambda: text.TextIds(5, 4, split="bytes", vocabulary=["a"]),
     "expected one of whitespace, character, got 'bytes'"),
    (lambda: text.TextIds(5, 4), "Received no vocabulary"),
    (lambda: text.normalize_unicode("a", "NFD"),
     "expected one of NFC, NFKC, got 'NFD'"),
])
def test_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()
