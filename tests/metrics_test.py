"""Tests for zoo.metrics: token accuracy, chunks and entity scores.

Every expected chunk list and score below is worked out by hand.
"""

import doctest

import keras
import numpy as np
import pytest

from zoo import metrics


def test_docstring_examples():
    result = doctest.testmod(metrics)
    assert result.attempted >= 3 and result.failed == 0


# token_accuracy


def test_token_accuracy_over_ragged_sentences():
    true = [["a", "b", "c"], ["d"], []]
    pred = [["a", "x", "c"], ["d"], []]
    assert metrics.token_accuracy(true, pred) == 3 / 4


def test_token_accuracy_takes_ids_and_arrays():
    true = [np.array([1, 2]), np.array([3, 4, 5, 6])]
    pred = [np.array([1, 0]), np.array([3, 4, 0, 0])]
    assert metrics.token_accuracy(true, pred) == 3 / 6
    assert metrics.token_accuracy(iter(true), iter(true)) == 1.0


def test_token_accuracy_sentence_lengths_differ():
    with pytest.raises(
        ValueError,
        match=r"^sentence 1: 2 true tags but 3 predicted tags$",
    ):
        metrics.token_accuracy([["O"], ["O", "O"]], [["O"], ["O", "O", "O"]])


def test_token_accuracy_sentence_counts_differ():
    with pytest.raises(
        ValueError,
        match=r"^`true_tags` holds 2 sentences but `pred_tags` holds 1$",
    ):
        metrics.token_accuracy([["O"], ["O"]], [["O"]])


@pytest.mark.parametrize("sentences", [[], [[], []]], ids=["none", "empty"])
def test_token_accuracy_without_tokens(sentences):
    with pytest.raises(ValueError, match=r"^no tokens to score"):
        metrics.token_accuracy(sentences, sentences)


# is_chunk_tagset


@pytest.mark.parametrize(
    "tag_names",
    [
        ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"],  # BIO (IOB2)
        ["I-PER", "O", "B-PER"],  # IOB1
        ["O", "B-ORG", "I-ORG", "E-ORG", "S-ORG"],  # IOBES
        ["B-NP", "I-NP"],  # No "O".
        ["B-NP-SBJ", "O"],  # A type with a hyphen.
    ],
    ids=["bio", "iob1", "iobes", "no_outside", "hyphen"],
)
def test_is_chunk_tagset_true(tag_names):
    assert metrics.is_chunk_tagset(tag_names) is True


@pytest.mark.parametrize(
    "tag_names",
    [
        ["NN", "NNP", "VBZ"],  # Part of speech.
        ["O", "B-PER", "NN"],  # One bare tag.
        ["O"],  # Nothing prefixed.
        [],
        ["O", "B-"],  # A prefix without a type.
        ["O", "U-PER", "L-PER"],  # BILOU is not read.
        ["-LRB-", "O"],
        [0, 1],  # Ids, not names.
    ],
    ids=["pos", "bare", "only_outside", "empty", "no_type", "bilou",
         "leading_dash", "ids"],
)
def test_is_chunk_tagset_false(tag_names):
    assert metrics.is_chunk_tagset(tag_names) is False


# chunks

CHUNKS = [
    # id, tags, expected chunks (type, start, end exclusive)
    ("bio2", ["B-PER", "I-PER", "O", "B-LOC"],
     [("PER", 0, 2), ("LOC", 3, 4)]),
    ("bio2_b_after_b", ["B-PER", "B-PER", "I-PER"],
     [("PER", 0, 1), ("PER", 1, 3)]),
    # IOB1: I- opens a chunk; B- only splits two chunks of one type.
    ("iob1", ["I-PER", "I-PER", "B-PER", "O", "I-LOC"],
     [("PER", 0, 2), ("PER", 2, 3), ("LOC", 4, 5)]),
    ("i_after_o", ["O", "I-ORG", "I-ORG", "O"], [("ORG", 1, 3)]),
    ("type_change_b_i", ["B-PER", "I-ORG"], [("PER", 0, 1), ("ORG", 1, 2)]),
    ("type_change_i_i", ["I-PER", "I-ORG", "I-ORG"],
     [("PER", 0, 1), ("ORG", 1, 3)]),
    ("iobes", ["S-PER", "B-ORG", "I-ORG", "E-ORG", "S-ORG", "O", "S-LOC"],
     [("PER", 0, 1), ("ORG", 1, 4), ("ORG", 4, 5), ("LOC", 6, 7)]),
    ("s_after_s", ["S-PER", "S-PER"], [("PER", 0, 1), ("PER", 1, 2)]),
    ("e_after_e", ["B-X", "E-X", "E-X"], [("X", 0, 2), ("X", 2, 3)]),
    ("i_after_e", ["B-X", "E-X", "I-X", "E-X"], [("X", 0, 2), ("X", 2, 4)]),
    ("i_after_s", ["S-X", "I-X"], [("X", 0, 1), ("X", 1, 2)]),
    ("e_after_o", ["O", "E-X"], [("X", 1, 2)]),
    ("b_after_e", ["B-X", "E-X", "B-X", "E-X"], [("X", 0, 2), ("X", 2, 4)]),
    ("s_after_b", ["B-X", "S-X"], [("X", 0, 1), ("X", 1, 2)]),
    ("e_of_another_type", ["B-X", "E-Y"], [("X", 0, 1), ("Y", 1, 2)]),
    ("at_sentence_end", ["O", "B-LOC", "I-LOC"], [("LOC", 1, 3)]),
    ("one_token", ["B-LOC"], [("LOC", 0, 1)]),
    ("all_outside", ["O", "O"], []),
    ("empty", [], []),
    ("hyphenated_type", ["B-NP-SBJ", "I-NP-SBJ", "I-NP"],
     [("NP-SBJ", 0, 2), ("NP", 2, 3)]),
    # Bare tags read as B-<tag>, one token each, like `conlleval -r`.
    ("bare", ["NP", "NP", "VP", "O", "NP"],
     [("NP", 0, 1), ("NP", 1, 2), ("VP", 2, 3), ("NP", 4, 5)]),
    ("bare_after_b", ["B-PER", "PER", "I-PER"],
     [("PER", 0, 1), ("PER", 1, 3)]),
    ("unknown_prefix", ["U-PER", "U-PER"], [("U-PER", 0, 1), ("U-PER", 1, 2)]),
]


@pytest.mark.parametrize(
    "tags, expected", [c[1:] for c in CHUNKS], ids=[c[0] for c in CHUNKS]
)
def test_chunks(tags, expected):
    assert metrics.chunks(tags) == expected


def test_chunks_take_numpy_strings():
    assert metrics.chunks(np.array(["B-PER", "I-PER"])) == [("PER", 0, 2)]


def test_chunks_rejects_tags_that_are_not_strings():
    with pytest.raises(
        TypeError, match=r"^chunk tags must be strings, got 3 of type int$"
    ):
        metrics.chunks(["O", 3])


# entity_scores


def test_entity_scores_on_a_small_corpus():
    true = [
        ["B-PER", "I-PER", "O", "B-LOC"],  # PER 0-2, LOC 3-4
        ["O", "B-ORG", "I-ORG"],  # ORG 1-3
    ]
    pred = [
        ["B-PER", "I-PER", "O", "B-ORG"],  # PER 0-2 (right), ORG 3-4 (wrong)
        ["O", "B-ORG", "I-ORG"],  # ORG 1-3 (right)
    ]
    scores = metrics.entity_scores(true, pred)
    assert scores == pytest.approx({
        "precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3,
        "true_entities": 3, "pred_entities": 3, "correct": 2,
    })
    assert isinstance(scores["correct"], int)


def test_entity_scores_precision_and_recall_differ():
    true = [["B-PER", "I-PER", "O", "B-LOC", "O"]]  # PER 0-2, LOC 3-4
    pred = [["B-PER", "B-PER", "B-ORG", "B-LOC", "O"]]  # Only LOC 3-4 right.
    scores = metrics.entity_scores(true, pred)
    # p = 1/4, r = 1/2, f1 = 2 * (1/8) / (3/4) = 1/3.
    assert scores == pytest.approx({
        "precision": 1 / 4, "recall": 1 / 2, "f1": 1 / 3,
        "true_entities": 2, "pred_entities": 4, "correct": 1,
    })


def test_entity_scores_a_chunk_must_match_exactly():
    true = [["B-ORG", "I-ORG", "I-ORG"]]
    pred = [["B-ORG", "I-ORG", "O"]]  # Right type, wrong end.
    assert metrics.entity_scores(true, pred)["correct"] == 0


def test_entity_scores_sentence_boundaries_end_chunks():
    # Joined, "B-LOC I-LOC" would be one chunk; per sentence it is two.
    tags = [["O", "B-LOC"], ["I-LOC", "O"]]
    scores = metrics.entity_scores(tags, tags)
    assert scores["true_entities"] == scores["correct"] == 2
    assert scores["f1"] == 1.0


@pytest.mark.parametrize(
    "true, pred, counts",
    [
        ([["B-PER", "O"]], [["O", "O"]], (1, 0, 0)),  # No prediction.
        ([["O", "O"]], [["B-PER", "O"]], (0, 1, 0)),  # Nothing to find.
        ([["O"]], [["O"]], (0, 0, 0)),
        ([], [], (0, 0, 0)),
    ],
    ids=["no_predicted", "no_true", "neither", "no_sentences"],
)
def test_entity_scores_zero_denominators_give_zero(true, pred, counts):
    assert metrics.entity_scores(true, pred) == {
        "precision": 0.0, "recall": 0.0, "f1": 0.0,
        "true_entities": counts[0], "pred_entities": counts[1],
        "correct": counts[2],
    }


def test_entity_scores_sentence_lengths_differ():
    with pytest.raises(
        ValueError, match=r"^sentence 0: 2 true tags but 1 predicted tags$"
    ):
        metrics.entity_scores([["B-PER", "O"]], [["B-PER"]])


def test_entity_scores_sentence_counts_differ():
    with pytest.raises(
        ValueError,
        match=r"^`true_tags` holds 1 sentences but `pred_tags` holds 0$",
    ):
        metrics.entity_scores([["O"]], [])


def test_entity_scores_rejects_tags_that_are_not_strings():
    with pytest.raises(TypeError, match=r"^chunk tags must be strings"):
        metrics.entity_scores([[1, 0]], [[1, 0]])


# BLEU and chrF (sacrebleu)


def test_bleu_and_chrf_of_perfect_translations_are_100():
    texts = ["the cat sat on the mat .", "¿Dónde está?"]
    assert metrics.corpus_bleu(texts, texts) == pytest.approx(100.0)
    assert metrics.corpus_chrf(texts, texts) == pytest.approx(100.0)


def test_bleu_hand_worked():
    # 1- to 4-gram precisions 3/4, 2/3, 1/2 and 0/1, the last smoothed to
    # 1/2 ("exp": 1 / (2 * 1)); equal lengths, so no brevity penalty.
    expected = 100 * (3 / 4 * 2 / 3 * 1 / 2 * 1 / 2) ** 0.25
    assert metrics.corpus_bleu(["a b c d"], ["a b c e"]) == pytest.approx(expected)


def test_chrf_rewards_partial_words_and_is_0_for_nothing_shared():
    partial = metrics.corpus_chrf(["translations"], ["translation"])
    assert 50.0 < partial < 100.0
    assert metrics.corpus_chrf(["xyz"], ["abc"]) == 0.0


@pytest.mark.parametrize("score", [metrics.corpus_bleu, metrics.corpus_chrf])
def test_translation_metrics_reject_bad_input(score):
    with pytest.raises(ValueError, match=r"Received 2 hypotheses but 1 references"):
        score(["a", "b"], ["a"])
    with pytest.raises(ValueError, match=r"no sentences to score"):
        score([], [])
    with pytest.raises(TypeError, match=r"hypotheses\[0\] is bytes, expected str"):
        score([b"a"], ["a"])


# SequenceCrossentropy


def _log_softmax(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def test_sequence_crossentropy_is_the_mean_over_real_tokens():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 5)).astype(np.float32)
    y = np.array([[1, 4, 0], [2, 0, 0]])  # 3 real tokens; 0 = padding.
    log_p = _log_softmax(logits.astype(np.float64))
    expected = -(log_p[0, 0, 1] + log_p[0, 1, 4] + log_p[1, 0, 2]) / 3
    value = metrics.SequenceCrossentropy()(y, logits)
    np.testing.assert_allclose(float(value), expected, rtol=1e-5)


def test_sequence_crossentropy_label_smoothing_hand_worked():
    # Two ids, logits (0, log 3): p = (1/4, 3/4); the true id is 1.
    logits = np.array([[[0.0, np.log(3.0)]]], np.float32)
    e = 0.2
    expected = -(1 - e) * np.log(0.75) - e * (np.log(0.25) + np.log(0.75)) / 2
    value = metrics.SequenceCrossentropy(label_smoothing=e, pad_id=-1)(
        np.array([[1]]), logits
    )
    np.testing.assert_allclose(float(value), expected, rtol=1e-5)


def test_sequence_crossentropy_ignores_padding_and_a_keras_mask():
    import tensorflow as tf

    logits = np.zeros((1, 4, 3), np.float32)
    logits[0, 2:] = 50.0 * np.eye(3, dtype=np.float32)[:2]  # Junk at pads.
    y = np.array([[1, 2, 0, 0]])
    loss = metrics.SequenceCrossentropy()
    plain = float(loss(y, logits))
    np.testing.assert_allclose(plain, np.log(3.0), rtol=1e-5)
    # With Keras' mask on y_pred (as a masked model's output has).
    masked = tf.constant(logits)
    masked._keras_mask = tf.constant([[True, True, False, False]])
    np.testing.assert_allclose(float(loss(y, masked)), plain, rtol=1e-6)


def test_sequence_crossentropy_all_padding_is_zero():
    value = metrics.SequenceCrossentropy()(
        np.zeros((2, 3), np.int32), np.ones((2, 3, 4), np.float32)
    )
    assert float(value) == 0.0


def test_sequence_crossentropy_config_round_trip():
    loss = metrics.SequenceCrossentropy(label_smoothing=0.1, pad_id=5,
                                        tokens_per_batch=12.0)
    config = loss.get_config()
    clone = metrics.SequenceCrossentropy.from_config(config)
    assert (clone.label_smoothing, clone.pad_id, clone.tokens_per_batch,
            clone.name) == (0.1, 5, 12.0, "sequence_crossentropy")
    assert clone.get_config() == config


@pytest.mark.parametrize("value", [-0.1, 1.0, "0.1"])
def test_sequence_crossentropy_rejects_bad_label_smoothing(value):
    with pytest.raises(ValueError, match="`label_smoothing`, expected a "
                       "number in \\[0, 1\\)"):
        metrics.SequenceCrossentropy(label_smoothing=value)


@pytest.mark.parametrize("value", [True, 1.0, "0"])
def test_sequence_crossentropy_rejects_a_pad_id_that_is_no_integer(value):
    with pytest.raises(ValueError, match="Received an invalid value for "
                       f"argument `pad_id`, expected an integer, got {value!r}"):
        metrics.SequenceCrossentropy(pad_id=value)


def test_ngram_baselines_by_hand():
    # Train predicts 1, 2, 1 (contexts 0, 1, 2); V = 4.
    unigram, bigram = metrics.ngram_bits_per_symbol([[0, 1, 2, 1]], [[0, 1, 3]], 4)
    # Add-one unigram: p(1) = 3/7, p(3) = 1/7.
    p1, p3 = 3 / 7, 1 / 7
    assert unigram == pytest.approx(-(np.log2(p1) + np.log2(p3)) / 2)
    # Witten-Bell: context 0 saw 1 once (c=1, T=1): p(1|0) = (1 + p1) / 2;
    # context 1 saw 2 once (c=1, T=1): p(3|1) = (0 + p3) / 2.
    expected = -(np.log2((1 + p1) / 2) + np.log2(p3 / 2)) / 2
    assert bigram == pytest.approx(expected)


def test_ngram_bigram_of_an_unseen_context_is_the_unigram():
    unigram, bigram = metrics.ngram_bits_per_symbol([[0, 1]], [[2, 1], [3]], 4)
    assert bigram == pytest.approx(unigram)
    assert unigram == pytest.approx(-np.log2(2 / 5))  # One symbol scored.


def test_ngram_bigram_beats_unigram_on_a_predictable_sequence():
    cycle = [[0, 1, 2, 3] * 30]
    unigram, bigram = metrics.ngram_bits_per_symbol(cycle, cycle, 4)
    assert unigram == pytest.approx(2.0, abs=0.02)
    assert bigram < 0.1


def test_ngram_baselines_reject_bad_input():
    with pytest.raises(ValueError, match=r"Received test sequences that "
                       r"predict no symbol \(each needs at least two ids\)"):
        metrics.ngram_bits_per_symbol([[0, 1]], [[0], []], 4)
    with pytest.raises(ValueError, match=r"Received id 4, expected ids in "
                       r"\[0, 4\)"):
        metrics.ngram_bits_per_symbol([[0, 4]], [[0, 1]], 4)
    with pytest.raises(ValueError, match=r"`vocabulary_size`, expected a "
                       r"positive integer, got 0"):
        metrics.ngram_bits_per_symbol([[0, 1]], [[0, 1]], 0)


def test_sequence_crossentropy_with_tokens_per_batch_weighs_tokens_alike():
    logits = np.log(np.array([[[0.5, 0.25, 0.25]] * 4], np.float32))
    y_true = np.array([[1, 2, 0, 0]])  # Two real tokens of -log .25 each.
    per_token = -np.log(0.25)
    mean = metrics.SequenceCrossentropy()
    fixed = metrics.SequenceCrossentropy(tokens_per_batch=8)
    assert float(mean(y_true, logits)) == pytest.approx(per_token)
    # The sum over the batch's 2 tokens, over 8: a quarter of the mean.
    assert float(fixed(y_true, logits)) == pytest.approx(2 * per_token / 8)


@pytest.mark.parametrize("value", [0, -3.0, "8"])
def test_sequence_crossentropy_rejects_bad_tokens_per_batch(value):
    with pytest.raises(ValueError, match="`tokens_per_batch`, expected a "
                       "positive number or None"):
        metrics.SequenceCrossentropy(tokens_per_batch=value)


def test_ngram_bits_read_a_generator_by_chunks_to_the_same_result(
        monkeypatch):
    rng = np.random.default_rng(0)
    train = [rng.integers(0, 7, size=n).tolist() for n in rng.integers(1, 9, 60)]
    test = [rng.integers(0, 7, size=n).tolist() for n in rng.integers(2, 9, 20)]
    whole = metrics.ngram_bits_per_symbol(train, test, 7)
    chunks = []
    original = metrics._pair_chunks

    def small_chunks(sequences, size):
        for before, after in original(sequences, size, chunk=5):
            chunks.append(before.size)
            yield before, after

    monkeypatch.setattr(metrics, "_pair_chunks", small_chunks)
    chunked = metrics.ngram_bits_per_symbol(iter(train), iter(test), 7)
    np.testing.assert_allclose(chunked, whole, rtol=1e-12)
    assert len(chunks) > 10 and max(chunks) < 5 + 8


def test_ngram_bits_name_an_id_out_of_range_in_a_later_chunk(monkeypatch):
    original = metrics._pair_chunks
    monkeypatch.setattr(metrics, "_pair_chunks", lambda sequences, size:
                        original(sequences, size, chunk=2))
    with pytest.raises(ValueError, match=r"Received id 9, expected ids in "
                       r"\[0, 4\)"):
        metrics.ngram_bits_per_symbol([[0, 1, 2], [1, 2], [3, 9]], [[0, 1]], 4)


def test_tagging_scores_add_entity_scores_for_chunk_tag_sets():
    true = [["B-PER", "I-PER", "O"], ["B-LOC"]]
    pred = [["B-PER", "I-PER", "O"], ["O"]]
    found = metrics.tagging_scores(true, pred, ["B-PER", "I-PER", "B-LOC",
                                                "O"], prefix="val")
    assert found == pytest.approx({"val_token_accuracy": 0.75,
                                   "val_precision": 1.0, "val_recall": 0.5,
                                   "val_f1": 2 / 3})
    pos = metrics.tagging_scores([["DT", "NN"]], [["DT", "VB"]], ["DT", "NN",
                                                                   "VB"])
    assert pos == {"test_token_accuracy": 0.5}


def test_real_token_accuracy_leaves_padding_out():
    metric = metrics.RealTokenAccuracy()
    truth = np.array([[1, 0, -1, -1], [2, -1, -1, -1]])
    guess = np.eye(3)[[[1, 1, 0, 0], [2, 0, 0, 0]]]  # 2 of 3 real right.
    metric.update_state(truth, guess)
    assert float(metric.result()) == pytest.approx(2 / 3)
    # Keras' own metric counts the padding as errors.
    plain = keras.metrics.SparseCategoricalAccuracy()
    plain.update_state(np.maximum(truth, 0), guess)
    assert float(plain.result()) != pytest.approx(2 / 3)
    weighted = metrics.RealTokenAccuracy()
    weighted.update_state(truth, guess, sample_weight=[[1, 0, 1, 1], [1, 1, 1, 1]])
    assert float(weighted.result()) == pytest.approx(1.0)


def test_real_token_accuracy_docstring_example_runs():
    from zoo.testing import run_docstring_examples

    run_docstring_examples(metrics.RealTokenAccuracy)
