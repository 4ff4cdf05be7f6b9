"""Tests for zoo.layers.text: TextToIds, normalize_unicode and sanitize."""

import re
import unicodedata

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.layers import text as text_module
from zoo.layers.text import TextToIds
from zoo.layers.text import normalize_unicode
from zoo.layers.text import sanitize
from zoo.layers.text import split_bigrams
from zoo.layers.text import detokenize
from zoo.layers.text import standardize
from zoo.testing import run_docstring_examples

# Ids: "" 0 (padding), "[UNK]" 1 (out of vocabulary), then these from 2.
VOCABULARY = ["the", "good", "film", "Bad"]


def _ids(layer, strings):
    return layer(tf.constant(strings)).numpy().tolist()


def _layer(**kwargs):
    arguments = dict(max_tokens=10, max_length=5, vocabulary=VOCABULARY)
    arguments.update(kwargs)
    return TextToIds(**arguments)


# TextToIds


def test_ids_oov_and_right_padding():
    layer = _layer()
    ids = layer(tf.constant(["the good film", "good", "a good plot"]))
    assert ids.dtype == tf.int64
    assert ids.numpy().tolist() == [
        [2, 3, 4],
        [3, 0, 0],  # Padded on the right to the longest row...
        [1, 3, 1],  # ...and unknown tokens are 1.
    ]


def test_width_is_the_longest_row_up_to_max_length():
    layer = _layer(max_length=3)
    assert _ids(layer, ["the", "good"]) == [[2], [3]]
    assert _ids(layer, ["the good film the good", "film"]) == [
        [2, 3, 4],  # Truncated to max_length.
        [4, 0, 0],
    ]


@pytest.mark.parametrize(
    "lowercase, expected",
    [(True, [[2, 3, 4, 1]]), (False, [[1, 1, 4, 5]])],
)
def test_lowercase(lowercase, expected):
    # "Bad" is in the vocabulary as written; lower-cased input never has it.
    layer = _layer(lowercase=lowercase)
    assert _ids(layer, ["THE Good film Bad"]) == expected
    assert layer.lowercase is lowercase


def test_empty_strings_give_one_padding_step():
    assert _ids(_layer(), ["", "", ""]) == [[0], [0], [0]]


def test_zero_size_batch():
    ids = _layer()(tf.constant([], dtype=tf.string))
    assert tuple(ids.shape) == (0, 1)


def test_whitespace_only_and_mixed_whitespace():
    assert _ids(_layer(), [" \t\n ", "  the\tgood\n"]) == [[0, 0], [2, 3]]


def test_invalid_utf8_does_not_raise_and_known_tokens_map():
    # Each U+FFFD that replaces a bad byte is a symbol, so a token of its own.
    ids = _ids(_layer(), [b"\xff\xfe good", b"film \xc3"])
    assert ids == [[1, 1, 3], [4, 1, 0]]


def test_punctuation_is_split_off_by_default():
    layer = _layer(
        max_length=10, vocabulary=["the", "film", "is", "n't", ",", "!"]
    )
    # the=2 film=3 is=4 n't=5 ,=6 !=7; "good" is out of vocabulary.
    assert _ids(layer, ["The film, isn't good!"]) == [[2, 3, 6, 4, 5, 1, 7]]
    kept = _layer(vocabulary=["the", "film"], split_punctuation=False)
    assert _ids(kept, ["The film, isn't"]) == [[2, 1, 1]]  # "film," unknown.


def test_count_tokens_counts_after_standardizing_and_before_truncation():
    layer = _layer(max_length=2)
    counts = layer.count_tokens(tf.constant(["a, b!", "", "one two three"]))
    assert counts.dtype == tf.int64
    assert counts.numpy().tolist() == [4, 0, 3]
    kept = _layer(split_punctuation=False)
    assert kept.count_tokens(tf.constant(["a, b!"])).numpy().tolist() == [2]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Isn't it 'GREAT', Ana?", "is n't it ' great ' , ana ?"),
        ("the actors' film's end--so", "the actors ' film 's end - - so"),
        ("they'd, we'll, I'm, you're, we've", "they 'd , we 'll , i 'm , "
         "you 're , we 've"),
        ("L'ÉTÉ  d'un café", "l'été d'un café"),  # Inner apostrophes stay.
        ("ÀÉÎ Σ", "àéî σ"),  # Unicode lower-casing.
        ("  \t\n ", ""),
        ("(1.5) $", "( 1 . 5 ) $"),
    ],
)
def test_standardize_lowercases_and_splits_punctuation(text, expected):
    result = standardize(tf.constant([text])).numpy()[0].decode()
    assert result == expected


def test_standardize_options():
    text = tf.constant(["Hi, YOU!"])
    assert standardize(text, lowercase=False).numpy()[0] == b"Hi , YOU !"
    assert standardize(text, split_punctuation=False).numpy()[0] == b"hi, you!"
    assert standardize(tf.constant([b"a\xff."])).numpy()[0] == (
        "a \ufffd .".encode()
    )


def test_standardize_docstring_example_runs():
    run_docstring_examples(standardize)


def test_split_bigrams_pairs_each_token_with_the_one_before():
    pairs = split_bigrams(tf.constant(["a b c", "", "x", "  y  z "]))
    assert pairs.to_list() == [
        [b"<s> a", b"a b", b"b c"], [], [b"<s> x"], [b"<s> y", b"y z"],
    ]
    assert split_bigrams(tf.constant([], tf.string)).to_list() == []


def test_split_bigrams_docstring_example_runs():
    run_docstring_examples(split_bigrams)


def test_bigram_ids_line_up_with_token_ids():
    texts = ["The film, bad", "film bad film bad", "", "bad"]
    words = TextToIds(max_tokens=20, max_length=3)
    pairs = TextToIds(max_tokens=20, max_length=3, bigrams=True)
    for layer in (words, pairs):
        layer.adapt(texts)
    assert pairs.get_vocabulary()[:3] == ["", "[UNK]", "film bad"]
    word_ids, pair_ids = _ids(words, texts), _ids(pairs, texts)
    # Same shape, and 0 (padding) at exactly the same positions.
    assert np.array_equal(np.equal(word_ids, 0), np.equal(pair_ids, 0))
    assert len(word_ids[0]) == 3  # Truncated to max_length, pairs too.
    vocabulary = pairs.get_vocabulary()
    assert [vocabulary[i] for i in pair_ids[0]] == ["<s> the", "the film",
                                                    "film ,"]
    assert _ids(pairs, ["bad the"]) == [[vocabulary.index("<s> bad"), 1]]


def test_sanitize_replaces_invalid_bytes():
    result = sanitize(tf.constant([b"ok \xff\xfe", b"\xc3\xa9t\xc3\xa9", b""]))
    assert result.numpy().tolist() == [
        "ok \ufffd\ufffd".encode(), "\u00e9t\u00e9".encode(), b"",
    ]


def test_adapt_builds_the_vocabulary_by_frequency():
    layer = TextToIds(max_tokens=5, max_length=4)
    layer.adapt(["x x y y y z z z z", "w", b"Z \xff"])
    # max_tokens 5: padding, OOV and the three most frequent tokens.
    assert layer.get_vocabulary() == ["", "[UNK]", "z", "y", "x"]
    assert _ids(layer, ["z y x w q"]) == [[2, 3, 4, 1]]


def test_adapt_accepts_a_dataset():
    layer = TextToIds(max_tokens=10, max_length=4)
    layer.adapt(tf.data.Dataset.from_tensor_slices(["b a b", "b"]))
    assert layer.get_vocabulary() == ["", "[UNK]", "b", "a"]


def test_get_config_round_trip_keeps_vocabulary_and_outputs():
    layer = _layer(lowercase=False, split_punctuation=False, name="t2i")
    config = layer.get_config()
    keys = ("max_tokens", "max_length", "lowercase", "split_punctuation",
            "bigrams", "vocabulary")
    assert {k: config[k] for k in keys} == dict(
        max_tokens=10, max_length=5, lowercase=False, split_punctuation=False,
        bigrams=False, vocabulary=VOCABULARY,
    )
    clone = TextToIds.from_config(config)
    assert clone.get_vocabulary() == layer.get_vocabulary()
    assert clone.get_config() == config
    strings = ["THE good Bad film, x", ""]
    assert _ids(clone, strings) == _ids(layer, strings)


def test_get_config_round_trip_of_bigrams():
    layer = TextToIds(max_tokens=10, max_length=4, bigrams=True)
    layer.adapt(["a b a b", "b a"])
    clone = TextToIds.from_config(layer.get_config())
    assert clone.bigrams is True
    assert _ids(clone, ["a b a c"]) == _ids(layer, ["a b a c"])


def test_get_config_after_adapt():
    layer = TextToIds(max_tokens=10, max_length=3)
    assert layer.get_config()["vocabulary"] is None
    layer.adapt(["b a b"])
    clone = TextToIds.from_config(layer.get_config())
    assert _ids(clone, ["a b c"]) == _ids(layer, ["a b c"]) == [[3, 2, 1]]


def test_saved_in_a_keras_file(tmp_path):
    strings = tf.constant(["the good film", "bad the"])
    inputs = keras.Input(shape=(), dtype="string")
    model = keras.Model(inputs, _layer()(inputs))
    path = str(tmp_path / "model.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert reloaded(strings).numpy().tolist() == model(strings).numpy().tolist()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(max_tokens=0),
         "Received an invalid value for argument `max_tokens`, expected a "
         "positive integer, got 0"),
        (dict(max_length=-1),
         "Received an invalid value for argument `max_length`, expected a "
         "positive integer, got -1"),
        (dict(max_length=2.5),
         "Received an invalid value for argument `max_length`, expected a "
         "positive integer, got 2.5"),
    ],
    ids=["max_tokens_0", "max_length_negative", "max_length_float"],
)
def test_invalid_arguments_rejected(kwargs, message):
    arguments = dict(max_tokens=10, max_length=5)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=re.escape(message)):
        TextToIds(**arguments)


def test_docstring_example_runs():
    run_docstring_examples(TextToIds)


# normalize_unicode


def _normalized(strings, form):
    return [
        s.decode() for s in normalize_unicode(tf.constant(strings), form)
        .numpy().tolist()
    ]


@pytest.mark.parametrize("form", ["NFC", "NFKC"])
@pytest.mark.parametrize(
    "text",
    [
        pytest.param("cafe\u0301", id="e_acute_decomposed"),
        pytest.param("nin\u0303o", id="n_tilde_decomposed"),
        pytest.param("u\u0308ber", id="u_diaeresis_decomposed"),
        pytest.param("caf\u00e9 ni\u00f1o \u00fcber", id="precomposed"),
        pytest.param("\uff21\uff4e\uff41\uff11", id="full_width"),
        pytest.param("\ufb01ne", id="fi_ligature"),
        pytest.param("a\u00a0b", id="no_break_space"),
        pytest.param("\u00bd", id="one_half"),
        pytest.param("\u2126 \u212b", id="ohm_and_angstrom_singletons"),
        pytest.param("Vie\u0323\u0302t", id="vietnamese_two_marks"),
        pytest.param("", id="empty"),
        pytest.param("Plain ASCII, 123!", id="ascii"),
        pytest.param("\u6f22\u5b57\u304b\u306a", id="cjk"),
        pytest.param("\U0001f600\U0001f44d\U0001f3fd", id="emoji"),
    ],
)
def test_normalize_unicode_equals_unicodedata(text, form):
    assert _normalized([text], form) == [unicodedata.normalize(form, text)]


@pytest.mark.parametrize(
    "form, expected",
    [
        ("NFC", ["caf\u00e9", "\ufb01 \uff21\u00a0\u00bd", "\u03a9\u00c5",
                 "Vi\u1ec7t", ""]),
        ("NFKC", ["caf\u00e9", "fi A 1\u20442", "\u03a9\u00c5",
                  "Vi\u1ec7t", ""]),
    ],
)
def test_normalize_unicode_golden_values_in_one_batch(form, expected):
    # An empty string beside non-empty ones is fine.
    texts = ["cafe\u0301", "\ufb01 \uff21\u00a0\u00bd", "\u2126\u212b",
             "Vie\u0323\u0302t", ""]
    assert _normalized(texts, form) == expected


def test_normalize_unicode_replaces_invalid_utf8():
    texts = tf.constant([b"a\xffe\xcc\x81", b"\xc3"])
    result = normalize_unicode(texts, "NFC")
    assert result.numpy().tolist() == [
        "a\ufffd\u00e9".encode(), "\ufffd".encode(),
    ]


E_ACUTE = "\u00e9".encode()


@pytest.mark.parametrize(
    "texts, expected",
    [
        ("e\u0301", E_ACUTE),
        (["e\u0301", "\ufb01", "x"], [E_ACUTE, b"fi", b"x"]),
        ([["e\u0301", "\ufb01"], ["x", "\uff21"]],
         [[E_ACUTE, b"fi"], [b"x", b"A"]]),
    ],
    ids=["rank_0", "rank_1", "rank_2"],
)
def test_normalize_unicode_keeps_the_shape(texts, expected):
    texts = tf.constant(texts)
    result = normalize_unicode(texts, "NFKC")
    assert result.shape == texts.shape
    assert np.asarray(result.numpy(), dtype=object).tolist() == expected


@pytest.mark.parametrize(
    "texts",
    [
        pytest.param(tf.constant([], tf.string), id="zero_size"),
        pytest.param(tf.constant(["", ""]), id="only_empty_strings"),
        pytest.param(tf.constant(""), id="rank_0_empty"),
    ],
)
def test_normalize_unicode_of_a_batch_without_characters(texts):
    result = normalize_unicode(texts, "NFC")
    assert np.array(result.numpy()).tolist() == np.array(texts.numpy()).tolist()


def test_normalize_unicode_runs_in_a_tf_function():
    normalize = tf.function(
        lambda texts: normalize_unicode(texts, "NFKC"),
        input_signature=[tf.TensorSpec([None], tf.string)],
    )
    texts = ["Cafe\u0301 \ufb01", "\uff21", "x"]
    assert normalize(tf.constant(texts)).numpy().tolist() == [
        "Caf\u00e9 fi".encode(), b"A", b"x",
    ]


def _first_use_in_a_tf_function():
    tf.function(lambda texts: normalize_unicode(texts, "NFC"))(
        tf.constant(["x"])
    )


def _first_use_in_a_functional_model():
    inputs = keras.Input(shape=(), dtype="string")
    keras.Model(inputs, TextToIds(10, 3, normalize="NFC")(inputs))


def _first_use_by_a_layer_called_eagerly():
    # Keras traces the unbuilt layer's first call in a scratch graph.
    TextToIds(10, 3, normalize="NFC", vocabulary=["x"])(tf.constant(["x"]))


@pytest.mark.parametrize(
    "first_use",
    [_first_use_in_a_tf_function, _first_use_in_a_functional_model,
     _first_use_by_a_layer_called_eagerly],
    ids=["tf_function", "functional_model", "layer_called_eagerly"],
)
def test_normalization_works_after_any_first_use(first_use):
    text_module._normalization_tables.cache_clear()  # A process's first use.
    first_use()
    assert _normalized(["e\u0301"], "NFC") == ["\u00e9"]
    layer = TextToIds(10, 3, normalize="NFC", vocabulary=["\u00e9"])
    assert _ids(layer, ["e\u0301 x"]) == [[2, 1]]


@pytest.mark.parametrize(
    "text, form, expected",
    [
        # Conjoining Hangul jamo stay apart (unicodedata: one syllable).
        ("\u1100\u1161", "NFC", "\u1100\u1161"),
        # Compatibility jamo become conjoining jamo, still not composed.
        ("\u3131\u314f", "NFKC", "\u1100\u1161"),
        # Marks out of canonical order (dot below belongs first).
        ("e\u0302\u0323", "NFC", "\u00ea\u0323"),
        ("\u00ea\u0323", "NFC", "\u00ea\u0323"),
        # A mark composes only with the character right before it.
        ("a\u0330\u0301", "NFC", "a\u0330\u0301"),
    ],
    ids=["hangul_jamo", "hangul_compatibility_jamo", "marks_out_of_order",
         "precomposed_then_out_of_order", "across_another_mark"],
)
def test_normalize_unicode_documented_limits(text, form, expected):
    # Pins the limits the docstring names, so the docstring stays true.
    assert _normalized([text], form) == [expected]
    assert expected != unicodedata.normalize(form, text)


def test_normalize_unicode_rejects_an_unknown_form():
    message = (
        "Received an invalid value for argument `form`, expected one of "
        "'NFC', 'NFKC', got 'NFD'"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        normalize_unicode(tf.constant(["a"]), "NFD")


def test_normalize_unicode_docstring_example_runs():
    run_docstring_examples(normalize_unicode)


# standardize and TextToIds with normalize


def test_standardize_normalize_merges_composed_and_decomposed_forms():
    full_width = "\uff26\uff29\uff2e\uff25"  # "FINE".
    text = tf.constant([f"Cafe\u0301 caf\u00e9 \ufb01ne {full_width}"])
    assert standardize(text).numpy()[0].decode() == (
        "cafe\u0301 caf\u00e9 \ufb01ne \uff46\uff49\uff4e\uff45"
    )
    assert standardize(text, normalize="NFKC").numpy()[0].decode() == (
        "caf\u00e9 caf\u00e9 fine fine"
    )
    assert standardize(text, normalize="NFC").numpy()[0].decode() == (
        "caf\u00e9 caf\u00e9 \ufb01ne \uff46\uff49\uff4e\uff45"
    )


def test_standardize_rejects_an_unknown_normalize():
    with pytest.raises(
        ValueError, match=re.escape(
            "Received an invalid value for argument `normalize`, expected "
            "one of 'NFC', 'NFKC', got 'NFD'"
        )
    ):
        standardize(tf.constant(["a"]), normalize="NFD")


def test_normalize_gives_one_id_to_both_forms():
    texts = ["cafe\u0301 caf\u00e9 \ufb01ne"]
    plain = _layer(vocabulary=["caf\u00e9", "fine"])
    assert plain.normalize is None
    assert _ids(plain, texts) == [[1, 2, 1]]
    nfkc = _layer(vocabulary=["caf\u00e9", "fine"], normalize="NFKC")
    assert _ids(nfkc, texts) == [[2, 2, 3]]


@pytest.mark.parametrize("normalize", ["nfc", "NFD", True])
def test_invalid_normalize_rejected(normalize):
    message = (
        "Received an invalid value for argument `normalize`, expected one "
        f"of 'NFC', 'NFKC', got {normalize!r}"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        _layer(normalize=normalize)


def test_get_config_round_trip_keeps_normalize():
    assert _layer().get_config()["normalize"] is None
    layer = _layer(vocabulary=["caf\u00e9", "fine"], normalize="NFKC")
    config = layer.get_config()
    assert config["normalize"] == "NFKC"
    clone = TextToIds.from_config(config)
    assert clone.normalize == "NFKC"
    assert clone.get_config() == config
    strings = ["cafe\u0301 \ufb01ne x", ""]
    assert _ids(clone, strings) == _ids(layer, strings) == [[2, 3, 1], [0, 0, 0]]


# TextToIds.fit_vocabulary


def _fit(texts, layer_kwargs=None, **kwargs):
    """Fits a fresh layer; checks the returned list against the layer's."""
    arguments = dict(max_tokens=10, max_length=5)
    arguments.update(layer_kwargs or {})
    layer = TextToIds(**arguments)
    vocabulary = layer.fit_vocabulary(texts, **kwargs)
    assert vocabulary == layer.get_vocabulary()[2:]
    assert layer.get_vocabulary()[:2] == ["", "[UNK]"]
    return layer, vocabulary


def test_fit_vocabulary_min_count_leaves_rare_tokens_out_of_vocabulary():
    layer, vocabulary = _fit(["a b a", "c a b", "d"], min_count=2)
    assert vocabulary == ["a", "b"]
    assert _ids(layer, ["a b c d"]) == [[2, 3, 1, 1]]
    _, everything = _fit(["a b a", "c a b", "d"])  # min_count=1.
    assert everything == ["a", "b", "c", "d"]


def test_fit_vocabulary_reads_a_generator_or_dataset_a_batch_at_a_time():
    texts = ["a b a", "c a b", "d", "b"]
    _, listed = _fit(texts, min_count=2)
    read = []

    def generator():
        for text in texts:
            read.append(text)
            yield text

    layer = TextToIds(max_tokens=10, max_length=5)
    batches = []
    original = layer.standardize
    # Each batch is standardized when read, before the next is taken.
    layer.standardize = lambda batch: (
        batches.append((batch.numpy().tolist(), len(read))), original(batch)
    )[1]
    assert layer.fit_vocabulary(generator(), min_count=2,
                                batch_size=3) == listed
    assert batches == [([b"a b a", b"c a b", b"d"], 3), ([b"b"], 4)]
    _, streamed = _fit(tf.data.Dataset.from_tensor_slices(texts), min_count=2,
                       batch_size=3)
    assert streamed == listed


def test_fit_vocabulary_orders_by_count_then_string():
    _, vocabulary = _fit(
        ["c a b c d", "B"], layer_kwargs=dict(lowercase=False)
    )
    # c twice; then a, b, d and B once each, in string order ("B" < "a").
    assert vocabulary == ["c", "B", "a", "b", "d"]


def test_fit_vocabulary_reserved_tokens_come_first_in_order():
    layer, vocabulary = _fit(
        ["b a b"], layer_kwargs=dict(split_punctuation=False),
        reserved=["<s>", "</s>"],
    )
    assert vocabulary == ["<s>", "</s>", "b", "a"]  # Absent, still kept.
    assert _ids(layer, ["<s> a b </s>"]) == [[2, 5, 4, 3]]


def test_fit_vocabulary_reserved_tokens_in_the_texts_are_not_repeated():
    _, vocabulary = _fit(["x y y x x z"], reserved=["z", "y"])
    assert vocabulary == ["z", "y", "x"]


def test_fit_vocabulary_truncates_to_max_tokens():
    texts = ["a a a b b c"]
    layer, vocabulary = _fit(texts, layer_kwargs=dict(max_tokens=4))
    assert vocabulary == ["a", "b"]
    assert len(layer.get_vocabulary()) == 4
    _, vocabulary = _fit(texts, layer_kwargs=dict(max_tokens=4),
                         reserved=["r"])
    assert vocabulary == ["r", "a"]
    _, vocabulary = _fit(texts, layer_kwargs=dict(max_tokens=4),
                         reserved=["r", "s"])
    assert vocabulary == ["r", "s"]  # Exactly full: no room for texts.


def test_fit_vocabulary_batches_give_the_same_counts():
    texts = ["a b", "b", "c b a", "d"]
    _, whole = _fit(texts)
    _, batched = _fit(texts, batch_size=1)
    assert whole == batched == ["b", "a", "c", "d"]


def test_fit_vocabulary_counts_standardized_and_normalized_tokens():
    _, vocabulary = _fit(
        ["Cafe\u0301, caf\u00e9!", "CAF\u00c9 \ufb01"],
        layer_kwargs=dict(normalize="NFKC"), min_count=2,
    )
    assert vocabulary == ["caf\u00e9"]  # Three times; "," "!" "fi" once.


def test_fit_vocabulary_replaces_the_previous_vocabulary():
    layer = _layer()
    assert layer.fit_vocabulary(["x y y"]) == ["y", "x"]
    assert layer.get_vocabulary() == ["", "[UNK]", "y", "x"]
    assert _ids(layer, ["the y"]) == [[1, 2]]


def test_fit_vocabulary_with_bigrams():
    layer, vocabulary = _fit(
        ["a b", "a b c"], layer_kwargs=dict(bigrams=True), min_count=2,
    )
    assert vocabulary == ["<s> a", "a b"]
    assert _ids(layer, ["a b c", "b"]) == [[2, 3, 1], [1, 0, 0]]


def test_fit_vocabulary_get_config_round_trip():
    layer, vocabulary = _fit(["b a b"], reserved=["<s>"])
    clone = TextToIds.from_config(layer.get_config())
    assert clone.get_vocabulary()[2:] == vocabulary == ["<s>", "b", "a"]
    assert _ids(clone, ["a b c"]) == _ids(layer, ["a b c"]) == [[4, 3, 1]]


@pytest.mark.parametrize(
    "texts, kwargs, message",
    [
        (["a"], dict(reserved=["x", "y", "z"]),
         "Received 3 reserved tokens, expected at most max_tokens - 2 = 2"),
        (["a b a"], dict(min_count=3),
         "Cannot build a vocabulary: no token is seen min_count=3 times and "
         "none is reserved"),
        ([], {},
         "Cannot build a vocabulary: no token is seen min_count=1 times and "
         "none is reserved"),
        (["a"], dict(min_count=0),
         "Received an invalid value for argument `min_count`, expected a "
         "positive integer, got 0"),
        (["a"], dict(batch_size=0),
         "Received an invalid value for argument `batch_size`, expected a "
         "positive integer, got 0"),
        (["a"], dict(reserved=["<s>", "<s>"]),
         "Received an invalid value for argument `reserved`, expected "
         "distinct tokens without whitespace other than ['', '[UNK]'], got "
         "['<s>', '<s>']"),
        (["a"], dict(reserved=[""]),
         "other than ['', '[UNK]'], got ['']"),
        (["a"], dict(reserved=["[UNK]"]),
         "other than ['', '[UNK]'], got ['[UNK]']"),
        (["a"], dict(reserved=["<s> x"]),
         "other than ['', '[UNK]'], got ['<s> x']"),
    ],
    ids=["too_many_reserved", "nothing_qualifies", "no_texts",
         "min_count_0", "batch_size_0", "duplicate_reserved",
         "empty_reserved", "unknown_reserved", "spaced_reserved"],
)
def test_fit_vocabulary_rejections(texts, kwargs, message):
    layer = TextToIds(max_tokens=4, max_length=3)
    with pytest.raises(ValueError, match=re.escape(message)):
        layer.fit_vocabulary(texts, **kwargs)
    assert layer.get_config()["vocabulary"] is None  # Left unchanged.


def test_fit_vocabulary_docstring_example_runs():
    run_docstring_examples(TextToIds.fit_vocabulary)


def test_fit_vocabulary_keeps_a_corpus_token_named_like_unknown_unknown():
    layer = TextToIds(max_tokens=10, max_length=3, lowercase=False,
                      split_punctuation=False)
    assert layer.fit_vocabulary(["[UNK] a", "[UNK]"]) == ["a"]
    assert layer.get_vocabulary() == ["", "[UNK]", "a"]


def test_a_token_holding_a_nul_stays_unknown():
    # A lookup table's keys pass through NumPy strings, which end at a NUL:
    # such a token cannot be an entry (the corpus loaders refuse NULs).
    layer = TextToIds(max_tokens=10, max_length=3, lowercase=False,
                      split_punctuation=False)
    assert layer.fit_vocabulary(["a\0 b b", "a\0"]) == ["b"]
    assert layer(tf.constant(["a\0 b"])).numpy().tolist() == [[1, 2]]
    characters = TextToIds(max_tokens=10, max_length=3, split="character")
    assert characters.fit_vocabulary(["a\0a"]) == ["a"]


@pytest.mark.parametrize("make", [
    lambda: TextToIds(max_tokens=10, max_length=3, vocabulary=["a", "b\0"]),
    lambda: TextToIds(max_tokens=10, max_length=3).fit_vocabulary(
        ["a"], reserved=["<\0>"]),
], ids=["vocabulary", "reserved"])
def test_vocabulary_entries_holding_a_nul_are_rejected(make):
    with pytest.raises(ValueError, match=re.escape(
            "Received vocabulary entries holding a NUL character, which a "
            "lookup table cannot hold: ['")):
        make()


# detokenize


@pytest.mark.parametrize(
    "text, expected",
    [
        ("la casa , el perro .", "la casa, el perro."),
        ("¿ dónde ? ¡ aquí !", "¿dónde? ¡aquí!"),
        ("( a ) [ b ] { c } « d »", "(a) [b] {c} «d»"),
        ("it is n't , he 's ; we 're : i 'm", "it isn't, he's; we're: i'm"),
        ("5 % of ' quoted '", "5% of ' quoted '"),
        ("", ""),
    ],
)
def test_detokenize(text, expected):
    assert detokenize(tf.constant([text])).numpy()[0].decode() == expected


def test_detokenize_undoes_standardize_on_plain_text():
    text = "Y dijo: ¿Qué acusación traéis contra este hombre?"
    tokens = standardize(tf.constant([text]), lowercase=False)
    assert detokenize(tokens).numpy()[0].decode() == text


def test_detokenize_docstring_example_runs():
    run_docstring_examples(detokenize)


def test_character_split_keeps_every_character():
    layer = TextToIds(20, 6, lowercase=False, split="character",
                      normalize="NFC")
    vocabulary = layer.fit_vocabulary(["春眠 春", "a\nb"], reserved=["<s>"])
    # Reserved first, then by count, ties in string order.
    assert vocabulary == ["<s>", "春", "\n", " ", "a", "b", "眠"]
    ids = layer(tf.constant(["春 x", "", "a\nbbbbbbbb"])).numpy()
    lookup = {t: i for i, t in enumerate(layer.get_vocabulary())}
    assert ids[0].tolist() == [lookup["春"], lookup[" "], 1, 0, 0, 0]
    assert ids[1].tolist() == [0] * 6
    assert ids[2].tolist() == [lookup["a"], lookup["\n"]] + [lookup["b"]] * 4
    assert layer.count_tokens(tf.constant(["春 x", ""])).numpy().tolist() == [3, 0]
    # Composed and decomposed "é" are one character after NFC.
    assert layer.standardize(tf.constant(["e\u0301"])).numpy()[0].decode() == "é"


def test_character_split_round_trips_its_config():
    layer = TextToIds(10, 4, lowercase=False, split="character",
                      vocabulary=["a", "b"])
    again = TextToIds.from_config(layer.get_config())
    assert again.split == "character" and not again.split_punctuation
    np.testing.assert_array_equal(again(tf.constant(["abc"])),
                                  layer(tf.constant(["abc"])))


@pytest.mark.parametrize("kwargs, message", [
    ({"split": "word"}, r"`split`, expected one of 'whitespace', "
                        r"'character', got 'word'"),
    ({"split": "character", "split_punctuation": True},
     r"Received split='character' with split_punctuation=True; both work "
     r"on words, expected them off"),
    ({"split": "character", "bigrams": True},
     r"Received split='character' with bigrams=True"),
])
def test_character_split_rejects_word_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TextToIds(10, 4, **kwargs)
