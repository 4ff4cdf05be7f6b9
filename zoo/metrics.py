"""Evaluation metrics: tagging (token accuracy, entity scores), BLEU, chrF.

They score decoded tags, one list of tags per sentence, with padding already
removed, so sentences may differ in length:

* `token_accuracy`: the fraction of tokens whose tag is right.
* `entity_scores`: precision, recall and F1 over chunks (named entities,
  phrases), micro-averaged over the corpus as on the overall line of the
  CoNLL shared tasks' `conlleval` script, but as fractions in [0, 1].
* `chunks`: the chunks of one sentence; `is_chunk_tagset` says whether a tag
  set encodes chunks at all (BIO, IOB1, IOB2, IOBES).
* `corpus_bleu`, `corpus_chrf`: translation quality, computed by sacrebleu
  with its default settings, so the numbers compare with published ones.
* `SequenceCrossentropy`: the training loss of sequence outputs, per real
  token, with optional label smoothing.
* `ngram_bits_per_symbol`: the unigram and bigram baselines of a character
  language model, in bits per character.

Example:

>>> true = [["B-PER", "I-PER", "O"], ["B-LOC"]]
>>> pred = [["B-PER", "I-PER", "O"], ["B-ORG"]]
>>> token_accuracy(true, pred)
0.75
>>> chunks(true[0])
[('PER', 0, 2)]
>>> entity_scores(true, pred)["f1"]
0.5

Reference: Tjong Kim Sang and Buchholz, "Introduction to the CoNLL-2000
Shared Task: Chunking", 2000 (the `conlleval` script).
"""

import keras
import numpy as np
from keras import ops

from zoo import utils

OUTSIDE = "O"
# B(egin), I(nside), E(nd), S(ingle): the prefixes of "B-PER" and the like.
PREFIXES = ("B", "I", "E", "S")


def _check_aligned(true_tags, pred_tags):
    """Lists of the sentences; raises unless they pair up tag for tag."""
    true_tags, pred_tags = list(true_tags), list(pred_tags)
    if len(true_tags) != len(pred_tags):
        raise ValueError(
            f"`true_tags` holds {len(true_tags)} sentences but `pred_tags` "
            f"holds {len(pred_tags)}"
        )
    for index, (truth, guess) in enumerate(zip(true_tags, pred_tags)):
        if len(truth) != len(guess):
            raise ValueError(
                f"sentence {index}: {len(truth)} true tags but {len(guess)} "
                "predicted tags"
            )
    return true_tags, pred_tags


def token_accuracy(true_tags, pred_tags):
    """The fraction of tokens whose predicted tag equals the true one.

    Args:
        true_tags: Sentences, each a sequence of tags (strings, ids or any
            values that compare with `==`), real tokens only (no padding).
        pred_tags: Predicted tags, sentence for sentence and token for token.

    Returns:
        A float in [0, 1]: correct tokens / tokens, over all sentences.

    Raises:
        ValueError: The number of sentences differs, a sentence's true and
            predicted tags differ in length (the message names the sentence
            index), or there are no tokens at all.
    """
    true_tags, pred_tags = _check_aligned(true_tags, pred_tags)
    total = sum(len(truth) for truth in true_tags)
    if not total:
        raise ValueError("no tokens to score: every sentence is empty")
    correct = sum(
        bool(t == p)
        for truth, guess in zip(true_tags, pred_tags)
        for t, p in zip(truth, guess)
    )
    return correct / total


def is_chunk_tagset(tag_names):
    """True if the tags encode chunks: "O" and prefixed tags only.

    Args:
        tag_names: Tag names, such as `["O", "B-PER", "I-PER"]`.

    Returns:
        True when every tag is "O" or has a "B-", "I-", "E-" or "S-" prefix
        followed by a type (BIO, IOB1, IOB2 and IOBES tag sets) and at least
        one tag is prefixed; False otherwise (for instance for part-of-speech
        tags, where `entity_scores` means nothing).
    """
    prefixed = False
    for name in tag_names:
        if not isinstance(name, str):
            return False
        if name == OUTSIDE:
            continue
        prefix, dash, kind = name.partition("-")
        if not (dash and prefix in PREFIXES and kind):
            return False
        prefixed = True
    return prefixed


def _parse(tag):
    """`(prefix, type)`: "B-PER" -> ("B", "PER"), "O" -> ("O", "")."""
    if not isinstance(tag, str):
        raise TypeError(
            f"chunk tags must be strings, got {tag!r} of type "
            f"{type(tag).__name__}"
        )
    if tag == OUTSIDE:
        return OUTSIDE, ""
    prefix, dash, kind = tag.partition("-")
    if dash and prefix in PREFIXES:
        return prefix, kind
    # A bare tag ("NP", or "U-PER" with a prefix we do not know) is a chunk
    # of one token, as `conlleval -r` reads tags without prefixes.
    return "B", tag


def _ends(prev_prefix, prev_type, prefix, kind):
    """Whether a chunk open at the previous token ends before this one."""
    return (
        prev_prefix in ("E", "S")  # E and S close their chunk.
        or (prev_prefix in ("B", "I") and prefix in ("B", "S", OUTSIDE))
        or (prev_prefix != OUTSIDE and prev_type != kind)
    )


def _starts(prev_prefix, prev_type, prefix, kind):
    """Whether a chunk starts at this token."""
    return (
        prefix in ("B", "S")
        # IOB1: I (or E) opens a chunk after O or after a closed chunk.
        or (prefix in ("I", "E") and prev_prefix in (OUTSIDE, "E", "S"))
        or (prefix != OUTSIDE and prev_type != kind)
    )


def chunks(tags):
    """The chunks of one sentence, by the rules of CoNLL's `conlleval`.

    A tag is "O" (outside every chunk) or `<prefix>-<type>`, split at the
    first "-" (so "B-NP-SBJ" has type "NP-SBJ"). Reading left to right:

    * a chunk ends after an E- or S- tag, before an O, B- or S- tag, and
      before a tag of another type;
    * a chunk starts at a B- or S- tag, at an I- or E- tag after O or after
      an E- or S- tag (IOB1, where I- opens a chunk unless it continues one),
      and at any non-O tag of another type than the previous tag.

    The end of the sentence ends an open chunk. For B-, I- and O tags these
    are exactly the rules of `conlleval.pl`; for E- and S- they follow the
    IOBES reading of its later ports (`conlleval.py`, seqeval), where an E-
    or S- tag always closes its chunk and S- always opens one, so
    "S-PER S-PER" and "E-PER B-PER" are two chunks each (`conlleval.pl`,
    which predates S-, makes one of each).
    A tag other than "O" without one of these prefixes (a bare "NP", or
    "U-PER") is read as `conlleval -r` reads tags: as "B-NP", a chunk of one
    token. (Without `-r`, `conlleval` would take "NP" for a prefix with an
    empty type.)

    Args:
        tags: The tags of one sentence, a sequence of strings.

    Returns:
        A list of `(type, start, end)` tuples in order, `end` exclusive:
        `chunks(["B-PER", "I-PER", "O"]) == [("PER", 0, 2)]`.

    Raises:
        TypeError: A tag is not a string.
    """
    found = []
    start = None
    prev_prefix, prev_type = OUTSIDE, ""
    for index, tag in enumerate(tags):
        prefix, kind = _parse(tag)
        # A chunk start is always an end of the chunk before (if any).
        if start is not None and _ends(prev_prefix, prev_type, prefix, kind):
            found.append((prev_type, start, index))
            start = None
        if _starts(prev_prefix, prev_type, prefix, kind):
            start = index
        prev_prefix, prev_type = prefix, kind
    if start is not None:
        found.append((prev_type, start, len(tags)))
    return found


def entity_scores(true_tags, pred_tags):
    """Chunk-level precision, recall and F1, micro-averaged over sentences.

    A predicted chunk is correct when a true chunk of the same sentence has
    the same type, start and end (see `chunks`); chunks never cross a
    sentence boundary. Like the overall line of `conlleval`, but fractions
    rather than percentages.

    Args:
        true_tags: Sentences, each a sequence of string tags (real tokens
            only, no padding).
        pred_tags: Predicted tags, sentence for sentence and token for token.

    Returns:
        A dict with `precision` (correct / predicted chunks), `recall`
        (correct / true chunks) and `f1` (their harmonic mean), each 0.0
        when its denominator is 0, and the counts `true_entities`,
        `pred_entities` and `correct`.

    Raises:
        ValueError: The number of sentences differs, or a sentence's true
            and predicted tags differ in length (the message names the
            sentence index).
        TypeError: A tag is not a string.
    """
    true_tags, pred_tags = _check_aligned(true_tags, pred_tags)

    def all_chunks(sentences):
        return {
            (index, *chunk)
            for index, tags in enumerate(sentences)
            for chunk in chunks(tags)
        }

    truth, guess = all_chunks(true_tags), all_chunks(pred_tags)
    correct = len(truth & guess)
    precision = correct / len(guess) if guess else 0.0
    recall = correct / len(truth) if truth else 0.0
    total = precision + recall
    return {
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / total if total else 0.0,
        "true_entities": len(truth),
        "pred_entities": len(guess),
        "correct": correct,
    }


def _check_translations(hypotheses, references):
    hypotheses, references = list(hypotheses), list(references)
    if len(hypotheses) != len(references):
        raise ValueError(
            f"Received {len(hypotheses)} hypotheses but {len(references)} "
            "references"
        )
    if not hypotheses:
        raise ValueError("no sentences to score")
    for name, texts in (("hypotheses", hypotheses), ("references", references)):
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(
                    f"{name}[{index}] is {type(text).__name__}, expected str"
                )
    return hypotheses, references


def corpus_bleu(hypotheses, references):
    """Corpus BLEU, 0-100, by sacrebleu (13a tokenization, exp smoothing).

    Args:
        hypotheses: Translations, one str per sentence (detokenized).
        references: One reference str per sentence.

    Raises:
        ValueError: The counts differ, or there is no sentence.
        TypeError: An entry is not a str (decode bytes first).
    """
    import sacrebleu

    hypotheses, references = _check_translations(hypotheses, references)
    return float(sacrebleu.corpus_bleu(hypotheses, [references]).score)


def corpus_chrf(hypotheses, references):
    """Corpus chrF (character 6-grams, beta 2), 0-100, by sacrebleu.

    Arguments and errors as for `corpus_bleu`.
    """
    import sacrebleu

    hypotheses, references = _check_translations(hypotheses, references)
    return float(sacrebleu.corpus_chrf(hypotheses, [references]).score)


@keras.saving.register_keras_serializable(package="zoo")
class RealTokenAccuracy(keras.metrics.SparseCategoricalAccuracy):
    """Accuracy of each real step's best class: targets below 0 (padding)
    are left out, where Keras' own metric counts them as errors.

    Example:

    >>> metric = RealTokenAccuracy()
    >>> metric.update_state([[1, -1]], [[[0.2, 0.8], [0.9, 0.1]]])
    >>> float(metric.result())
    1.0
    """

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.convert_to_tensor(y_true)
        real = ops.cast(ops.greater_equal(y_true, 0), "float32")
        if sample_weight is not None:
            real = real * ops.cast(sample_weight, "float32")
        return super().update_state(ops.maximum(y_true, 0), y_pred,
                                    sample_weight=real)


@keras.saving.register_keras_serializable(package="zoo")
class SequenceCrossentropy(keras.losses.Loss):
    """Cross-entropy of token ids per real token, with label smoothing.

    Each real token (id not `pad_id`) scores `-(1 - e) log p(y) - e/V
    sum_v log p(v)` (Szegedy et al., 2016; `e` = `label_smoothing`, `V` =
    vocabulary size); padded tokens score 0. The values are divided by the
    number of real tokens in the batch and summed (`reduction="sum"`), so
    the loss is the mean over real tokens whatever the padding, and
    whether or not `y_pred` carries a Keras mask.

    With `tokens_per_batch`, the sum is divided by that constant instead,
    so every token weighs the same whichever batch it is in: length-bucketed
    batches hold very different numbers of tokens, and the per-batch mean
    gives each token of a batch of short sequences many times the weight
    of a token in a batch of long ones.

    Args:
        label_smoothing: Float in [0, 1). Default: 0.
        pad_id: Integer id of padding in `y_true`. Default: 0.
        tokens_per_batch: Optional positive number, the divisor of every
            batch's summed loss (typically the mean number of real tokens
            per batch). Default: `None`, the batch's own real tokens.
        name: Name of the loss.
        dtype: Dtype of the loss computation (Keras' default if None).

    Call arguments:
        y_true: Int ids `[batch, time]`.
        y_pred: Logits `[batch, time, vocab]`.

    Example:

    >>> loss = SequenceCrossentropy()
    >>> logits = keras.ops.zeros((1, 3, 4))  # Uniform over 4 ids.
    >>> round(float(loss(keras.ops.array([[2, 3, 0]]), logits)), 4)
    1.3863
    """

    def __init__(self, label_smoothing=0.0, pad_id=0, tokens_per_batch=None,
                 name="sequence_crossentropy", dtype=None):
        super().__init__(name=name, reduction="sum", dtype=dtype)
        self.label_smoothing = utils.check_fraction(
            "label_smoothing", label_smoothing
        )
        if isinstance(pad_id, bool) or not isinstance(pad_id, int):
            raise ValueError(
                "Received an invalid value for argument `pad_id`, expected "
                f"an integer, got {pad_id!r}"
            )
        self.pad_id = pad_id
        self.tokens_per_batch = utils.check_positive_number(
            "tokens_per_batch", tokens_per_batch, allow_none=True
        )

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "int32")
        log_probs = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        # [batch, time, vocab] -> [batch, time]: log p of the true id.
        true_log_prob = ops.take_along_axis(
            log_probs, ops.expand_dims(y_true, -1), axis=-1
        )[..., 0]
        losses = -true_log_prob
        if self.label_smoothing:
            e = self.label_smoothing
            losses = (1.0 - e) * losses - e * ops.mean(log_probs, axis=-1)
        real = ops.cast(ops.not_equal(y_true, self.pad_id), "float32")
        if self.tokens_per_batch is not None:
            return losses * real / self.tokens_per_batch
        return losses * real / ops.maximum(ops.sum(real), 1.0)

    def get_config(self):
        config = super().get_config()
        config.pop("reduction", None)  # Always "sum"; not an argument.
        config.update({"label_smoothing": self.label_smoothing,
                       "pad_id": self.pad_id,
                       "tokens_per_batch": self.tokens_per_batch})
        return config


def ngram_bits_per_symbol(train, test, vocabulary_size):
    """Unigram and bigram baselines: held-out bits per predicted symbol.

    Both models are fit on `train` and score `test` the way a language
    model trained on the same sequences is scored: every symbol of a
    sequence but the first (a begin marker, say) is predicted, from no
    context (unigram) or from the symbol before it (bigram). The unigram
    model is add-one smoothed over `vocabulary_size` symbols; the bigram
    model interpolates with it by Witten and Bell's method, `p(w | v) =
    (c(v, w) + T(v) p(w)) / (c(v) + T(v))`, where `T(v)` counts the distinct
    symbols seen after `v` (Chen and Goodman, 1999, "An empirical study of
    smoothing techniques for language modeling"). Neither has a setting
    to tune, so neither looks at `test` before scoring it.

    Args:
        train: Sequences of int ids in `[0, vocabulary_size)`: an iterable,
            read once, a million ids at a time.
        test: Sequences like `train`.
        vocabulary_size: Positive integer.

    Returns:
        `(unigram_bits, bigram_bits)`: mean bits per predicted symbol of
        `test`.

    Raises:
        ValueError: `test` predicts no symbol, or an id is out of range
            (ids that are never predicted nor read, such as a lone first
            id, are not checked).

    Example:

    >>> train, test = [[0, 1, 2] * 50], [[0, 1, 2]]
    >>> unigram, bigram = ngram_bits_per_symbol(train, test, 3)
    >>> round(unigram, 2), bigram < 0.1
    (1.58, True)
    """
    size = utils.check_positive_int("vocabulary_size", vocabulary_size)
    # Training counts, merged a chunk at a time: memory grows with the
    # distinct pairs, not with the length of `train`.
    after_counts = np.zeros(size, np.int64)
    keys, counts = np.zeros(0, np.int64), np.zeros(0, np.int64)
    for before, after in _pair_chunks(train, size):
        after_counts += np.bincount(after, minlength=size)
        # Bigram counts, keyed by before * V + after.
        keys, merged = np.unique(
            np.concatenate([keys, before * size + after]), return_inverse=True)
        counts = np.bincount(merged, weights=np.concatenate(
            [counts, np.ones(before.size, np.int64)])).astype(np.int64)
    unigram = (after_counts + 1.0) / (after_counts.sum() + size)
    context_counts = np.bincount(keys // size, weights=counts,
                                 minlength=size).astype(np.int64)
    followers = np.bincount(keys // size, minlength=size)
    bits = np.zeros(2)
    predicted = 0
    for test_before, test_after in _pair_chunks(test, size):
        test_keys = test_before * size + test_after
        if keys.size:
            found = np.minimum(np.searchsorted(keys, test_keys), keys.size - 1)
            pair_counts = np.where(keys[found] == test_keys, counts[found], 0)
        else:  # No training pair: every context is unseen.
            pair_counts = np.zeros_like(test_keys)
        c, t = context_counts[test_before], followers[test_before]
        p_unigram = unigram[test_after]
        p_bigram = np.where(
            c > 0, (pair_counts + t * p_unigram) / np.maximum(c + t, 1),
            p_unigram,
        )
        bits -= [np.log2(p_unigram).sum(), np.log2(p_bigram).sum()]
        predicted += test_after.size
    if not predicted:
        raise ValueError("Received test sequences that predict no symbol "
                         "(each needs at least two ids)")
    return float(bits[0] / predicted), float(bits[1] / predicted)


def _pair_chunks(sequences, vocabulary_size, chunk=1 << 20):
    """`(before, after)` id arrays of consecutive ids in `sequences`, about
    `chunk` pairs at a time, checked to lie in `[0, vocabulary_size)`."""
    previous, following, held = [], [], 0

    def flush():
        before, after = np.concatenate(previous), np.concatenate(following)
        previous.clear()
        following.clear()
        both = np.concatenate([before, after])
        outside = both[(both < 0) | (both >= vocabulary_size)]
        if outside.size:
            raise ValueError(
                f"Received id {int(outside[0])}, expected ids in "
                f"[0, {vocabulary_size})"
            )
        return before, after

    for sequence in sequences:
        ids = np.asarray(sequence, dtype=np.int64)
        if len(ids) > 1:
            previous.append(ids[:-1])
            following.append(ids[1:])
            held += len(ids) - 1
        if held >= chunk:
            yield flush()
            held = 0
    if previous:
        yield flush()


def tagging_scores(true_tags, pred_tags, tag_names, prefix="test"):
    """`{prefix}_token_accuracy` of tag sequences and, when
    `is_chunk_tagset(tag_names)`, the entity `{prefix}_precision`,
    `_recall` and `_f1` (`entity_scores`).

    Args:
        true_tags, pred_tags: Equally long lists of equally long lists of
            tag names.
        tag_names: The tag set.
        prefix: Prefix of the names.
    """
    results = {f"{prefix}_token_accuracy": token_accuracy(true_tags,
                                                          pred_tags)}
    if is_chunk_tagset(tag_names):
        scores = entity_scores(true_tags, pred_tags)
        for name in ("precision", "recall", "f1"):
            results[f"{prefix}_{name}"] = scores[name]
    return results

