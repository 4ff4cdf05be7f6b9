"""Classical baselines, fit on a recipe's training split and scored on its test
split, so that a network's result can be read beside what a simple model
gets from the same data.

* `text_classifier`: TF-IDF of word 1- and 2-grams and a logistic
  regression (scikit-learn) whose inverse regularisation `C` is chosen by
  stratified k-fold cross-validation on the training texts alone.
* `MostFrequentTag` and `tagger`: every word gets the tag it carries most
  often in training; a word never seen in training gets the most frequent
  tag overall. Scored by the recipe's own metrics (`zoo.metrics`).

Nothing here looks at the test split before scoring it: every choice (the
vocabulary, the IDF weights, `C`, each word's tag) is made on the training
split, and the test texts or tags could be permuted or replaced without
changing the fitted model.

Example:

>>> model = MostFrequentTag().fit(
...     [["Ann", "ran", "home"]], [["B-PER", "O", "O"]])
>>> model.predict([["Ann", "slept"]])
[['B-PER', 'O']]

References: Wang and Manning, "Baselines and Bigrams: Simple, Good Sentiment
and Topic Classification", ACL 2012 (word n-gram linear models on the MR
sentence polarity data); the most-frequent-tag baseline of the CoNLL-2000
and CoNLL-2003 shared tasks (Tjong Kim Sang and De Meulder, 2003).
"""

import collections
import numbers
import time

import numpy as np
from absl import logging

from zoo import metrics

# The values of `C` that cross-validation chooses from, a decade apart.
C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)
FOLDS = 5
# The solver stops when no gradient component exceeds TOL. scikit-learn's
# default, 1e-4, stops far from the optimum on TF-IDF features: on MR, with
# the grid's values of C, the weights end up to 80% (lbfgs) or 20%
# (newton-cg) off those of a fit to 1e-10 and the test accuracy moves by
# up to 7 of 1,056 sentences, so the number would depend on the solver.
# At 1e-8 newton-cg's weights are within 0.01%, in at most ten Newton
# steps; lbfgs takes four times as long to get within 5% (at 1e-6).
SOLVER = "newton-cg"
TOL = 1e-8
MAX_ITER = 1000
TEXT_CLASSIFIER_NAME = "TF-IDF word 1-2 grams + logistic regression"


def _check_pairs(texts_name, texts, labels_name, labels, what):
    """`(texts, labels)` as lists, checked to pair up one for one."""
    texts, labels = list(texts), list(labels)
    if len(texts) != len(labels):
        raise ValueError(
            f"`{texts_name}` holds {len(texts)} texts but `{labels_name}` "
            f"holds {len(labels)} labels"
        )
    if not texts:
        raise ValueError(f"Received no {what} texts")
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(
                f"`{texts_name}[{index}]` is {type(text).__name__}, expected "
                "str (decode bytes first)"
            )
    return texts, labels


def _check_grid(c_grid):
    """`c_grid` as an ascending tuple of distinct positive floats."""
    grid = tuple(c_grid) if not isinstance(c_grid, (str, bytes)) else ()
    if not grid or any(
        isinstance(c, bool) or not isinstance(c, numbers.Real) or not c > 0
        for c in grid
    ):
        raise ValueError(
            "Received an invalid value for argument `c_grid`, expected a "
            f"non-empty sequence of positive numbers, got {c_grid!r}"
        )
    return tuple(sorted({float(c) for c in grid}))


def _check_seed(seed):
    if (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
            or seed < 0):
        raise ValueError(
            "Received an invalid value for argument `seed`, expected a "
            f"non-negative integer, got {seed!r}"
        )
    return int(seed)


def _fold_count(labels, folds):
    """The folds to use: `folds`, or fewer when a class is smaller."""
    counts = collections.Counter(labels)
    if len(counts) < 2:
        raise ValueError(
            f"Received training labels of one class only ({labels[0]!r}); "
            "a classifier needs at least two"
        )
    label, smallest = min(counts.items(), key=lambda item: item[1])
    if smallest < 2:
        raise ValueError(
            f"Received 1 training example of class {label!r}; choosing `C` "
            "by stratified cross-validation needs at least 2 of every class"
        )
    if smallest < folds:
        logging.warning(
            "Class %r has %d training examples, fewer than %d folds: `C` is "
            "chosen by %d-fold cross-validation", label, smallest, folds,
            smallest,
        )
        return smallest
    return folds


def _vectorizer():
    from sklearn.feature_extraction.text import TfidfVectorizer

    # 1 + log(count) rather than the raw count: on MR's training split
    # 5-fold accuracy is 0.790 against 0.788 with raw counts (at the best C
    # of each), and the test accuracy is the published 78.1% (78.0% raw).
    # scikit-learn's defaults otherwise: lower-cased words of two or more
    # letters or digits, smoothed IDF, rows L2-normed.
    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)


def classifier(c, seed, warm_start=False):
    """scikit-learn's L2 logistic regression at inverse strength `c`, solved
    to `TOL` by `SOLVER` (also what `zoo.ngrams` fits)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, solver=SOLVER, tol=TOL, max_iter=MAX_ITER,
                              warm_start=warm_start, random_state=seed)


def text_classifier(train_texts, train_labels, test_texts, test_labels,
                    seed=0, c_grid=C_GRID, folds=FOLDS):
    """TF-IDF (word 1-2 grams) + logistic regression, `C` chosen on train.

    The baseline of a text classification recipe: the texts become TF-IDF
    vectors of their word unigrams and bigrams (scikit-learn's
    `TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)`: lower-cased
    words of two or more letters or digits, weighted `1 + log(count)` times
    IDF) and a multinomial logistic regression (L2 penalty, solved by
    Newton-CG to a tight tolerance, `TOL`, so that the number does not
    depend on where a solver stopped) classifies them. Its `C` is the
    value of `c_grid` with the best mean accuracy over stratified
    `folds`-fold cross-validation of the training texts, shuffled by
    `seed`; within each fold the vectorizer, too, is fit on the training
    part only. Equal accuracies go to the smaller `C` (the
    simpler model). The chosen `C` is then fit on all training texts and
    scored once on the test texts, which play no part before.

    When a class has fewer training examples than `folds`, as many folds
    as that class has examples are used (and a warning is logged); the
    number used is in the result.

    Deterministic: the same arguments give the same result on every run.
    On 2 busy cores, fitting takes 6-17 s for MR's 9,512 sentences and
    about 5 minutes for 50,000 sentences of 20 words in 3 classes.

    Args:
        train_texts: Training texts, a sequence of `str`.
        train_labels: Their labels, a sequence of ints or strings (any
            hashable, sortable values), two or more classes.
        test_texts: Test texts, a sequence of `str`.
        test_labels: Their labels; each must occur in `train_labels`.
        seed: Non-negative int; shuffles the cross-validation folds.
            Default: 0.
        c_grid: The values of `C` to choose from. Default: `C_GRID`,
            0.01 to 1000 a decade apart.
        folds: Integer >= 2, the cross-validation folds. Default: 5.

    Returns:
        A dict: `name` (`TEXT_CLASSIFIER_NAME`), `accuracy` (test, in
        [0, 1]), `C` (the chosen value), `cv_accuracy` (its mean accuracy
        over the folds), `cv_accuracy_by_C` (`{f"{C:g}": mean accuracy}`
        for every value of the grid), `folds` (the number used),
        `train_examples`,
        `test_examples` and `fit_seconds` (the wall time of the
        cross-validation and the final fit, test scoring excluded).

    Raises:
        ValueError: Texts and labels differ in number; no training or no
            test texts; one training class only; a class with a single
            training example; a test label that never occurs in training;
            no training text holds a word of two or more characters; a bad
            `seed`, `c_grid` or `folds`.
        TypeError: A text is not a `str`.

    Example:

    >>> texts = ["good film", "great film", "fine film",
    ...          "bad film", "awful film", "dull film"] * 2
    >>> labels = ["pos", "pos", "pos", "neg", "neg", "neg"] * 2
    >>> result = text_classifier(
    ...     texts, labels, ["a good one", "a dull one"], ["pos", "neg"])
    >>> result["accuracy"], result["folds"]
    (1.0, 5)
    """
    seed = _check_seed(seed)
    grid = _check_grid(c_grid)
    if (isinstance(folds, bool) or not isinstance(folds, numbers.Integral)
            or folds < 2):
        raise ValueError(
            "Received an invalid value for argument `folds`, expected an "
            f"integer >= 2, got {folds!r}"
        )
    train_texts, train_labels = _check_pairs(
        "train_texts", train_texts, "train_labels", train_labels, "training")
    test_texts, test_labels = _check_pairs(
        "test_texts", test_texts, "test_labels", test_labels, "test")
    folds = _fold_count(train_labels, int(folds))
    known = set(train_labels)
    for index, label in enumerate(test_labels):
        if label not in known:
            raise ValueError(
                f"`test_labels[{index}]` is {label!r}, which never occurs in "
                f"`train_labels` (classes: "
                f"{', '.join(sorted(repr(k) for k in known))})"
            )
    from sklearn.model_selection import StratifiedKFold

    start = time.perf_counter()
    texts = np.array(train_texts, dtype=object)
    labels = np.array(train_labels)
    vectorizer = _vectorizer()
    try:
        train_features = vectorizer.fit_transform(texts)
    except ValueError as error:
        if "empty vocabulary" not in str(error):
            raise
        raise ValueError(
            "Received training texts without a single word of two or more "
            "letters or digits; TF-IDF has nothing to count"
        ) from None

    accuracy_by_c = np.zeros(len(grid))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True,
                               random_state=seed)
    for fit_rows, held_rows in splitter.split(texts, labels):
        # The fold's own vocabulary and IDF: the held-out texts stay unseen.
        fold_vectorizer = _vectorizer()
        fit_features = fold_vectorizer.fit_transform(texts[fit_rows])
        held_features = fold_vectorizer.transform(texts[held_rows])
        # Each C starts from the weights of the one before (the grid is
        # ascending): about half the time, the same optimum to TOL.
        model = classifier(grid[0], seed, warm_start=True)
        for index, c in enumerate(grid):
            model.set_params(C=c).fit(fit_features, labels[fit_rows])
            accuracy_by_c[index] += np.mean(
                model.predict(held_features) == labels[held_rows])
    accuracy_by_c /= folds
    # The first best in ascending C: the strongest regularisation of the
    # best.
    best = int(np.argmax(accuracy_by_c))
    model = classifier(grid[best], seed).fit(train_features, labels)
    fit_seconds = time.perf_counter() - start

    predicted = model.predict(vectorizer.transform(test_texts))
    accuracy = float(np.mean(predicted == np.array(test_labels)))
    return {
        "name": TEXT_CLASSIFIER_NAME,
        "accuracy": accuracy,
        "C": grid[best],
        "cv_accuracy": float(accuracy_by_c[best]),
        # String keys ("0.01", "1000"): the result is written as JSON.
        "cv_accuracy_by_C": {f"{c:g}": float(a)
                             for c, a in zip(grid, accuracy_by_c)},
        "folds": folds,
        "train_examples": len(train_texts),
        "test_examples": len(test_texts),
        "fit_seconds": fit_seconds,
    }


def _check_sentences(tokens_name, tokens, tags_name, tags):
    """`(tokens, tags)` as lists of lists, checked to pair up token for
    token."""
    tokens = [list(sentence) for sentence in tokens]
    tags = [list(sentence) for sentence in tags]
    if len(tokens) != len(tags):
        raise ValueError(
            f"`{tokens_name}` holds {len(tokens)} sentences but `{tags_name}` "
            f"holds {len(tags)}"
        )
    for index, (words, labels) in enumerate(zip(tokens, tags)):
        if len(words) != len(labels):
            raise ValueError(
                f"sentence {index}: {len(words)} tokens but {len(labels)} tags"
            )
    return tokens, tags


class MostFrequentTag:
    """Tags every word with the tag it carries most often in training.

    A word is looked up as written (`lowercase=False`, the default: on
    `brown_names` it scores better on the dev split than lower-cased
    words) or lower-cased. A word never seen in training gets the most
    frequent tag of the whole training set (`default_tag`). Ties are broken
    the same way on every run, whatever the order of the sentences: among
    tags a word carries equally often, the one more frequent in the whole
    training set wins, and among those the one that sorts first;
    `default_tag` is likewise the first in sorted order of the most
    frequent tags.

    Args:
        lowercase: Bool; look words up lower-cased. Default: False.

    Attributes (after `fit`):
        word_tags: `{word: tag}` for every training word (lower-cased with
            `lowercase`).
        default_tag: The tag of unknown words.

    Example:

    >>> model = MostFrequentTag().fit(
    ...     [["the", "dog", "barks"], ["the", "barks"]],
    ...     [["DET", "NOUN", "VERB"], ["DET", "NOUN"]])
    >>> model.word_tags["barks"], model.default_tag
    ('NOUN', 'DET')
    >>> model.predict([["the", "cat", "barks"]])
    [['DET', 'DET', 'NOUN']]

    "barks" is a VERB once and a NOUN once; NOUN wins, being more frequent
    overall (2 to 1). "cat" is unknown and gets DET, the most frequent tag
    (2, like NOUN; DET sorts first).
    """

    def __init__(self, lowercase=False):
        if not isinstance(lowercase, bool):
            raise ValueError(
                "Received an invalid value for argument `lowercase`, "
                f"expected a bool, got {lowercase!r}"
            )
        self.lowercase = lowercase
        self.word_tags = None
        self.default_tag = None

    def _key(self, word):
        return word.lower() if self.lowercase else word

    def fit(self, sentences_tokens, sentences_tags):
        """Counts the tags of every training word.

        Args:
            sentences_tokens: Sentences, each a sequence of `str` tokens.
            sentences_tags: Their tags (strings, or any hashable values
                that sort), sentence for sentence and token for token.

        Returns:
            This model.

        Raises:
            ValueError: The number of sentences differs, a sentence's
                tokens and tags differ in length (the message names the
                sentence index), or there is no token at all.
        """
        tokens, tags = _check_sentences(
            "sentences_tokens", sentences_tokens, "sentences_tags",
            sentences_tags)
        overall = collections.Counter()
        per_word = collections.defaultdict(collections.Counter)
        for words, labels in zip(tokens, tags):
            overall.update(labels)
            for word, label in zip(words, labels):
                per_word[self._key(word)][label] += 1
        if not overall:
            raise ValueError(
                "Received no training tokens: every sentence is empty")
        # Most frequent for the word, then overall, then first in order.
        self.word_tags = {
            word: min(counts, key=lambda t: (-counts[t], -overall[t], t))
            for word, counts in per_word.items()
        }
        self.default_tag = min(overall, key=lambda t: (-overall[t], t))
        return self

    def predict(self, sentences_tokens):
        """The tags of every token: a list of lists of tags.

        Raises:
            ValueError: The model has not been fit.
        """
        if self.word_tags is None:
            raise ValueError("MostFrequentTag.predict called before fit")
        return [
            [self.word_tags.get(self._key(word), self.default_tag)
             for word in sentence]
            for sentence in sentences_tokens
        ]


def tagger(train_tokens, train_tags, test_tokens, test_tags, lowercase=False):
    """The most-frequent-tag baseline of a tagging recipe, scored.

    Fits `MostFrequentTag` on the training sentences and scores its tags of
    the test sentences as `zoo.recipes.tagger` scores the network's: token
    accuracy, and, when the tags of both splits form a chunk tag set
    (`zoo.metrics.is_chunk_tagset`: BIO, IOBES...), entity precision,
    recall and F1 (`zoo.metrics.entity_scores`).

    Args:
        train_tokens: Training sentences, each a sequence of `str` tokens.
        train_tags: Their tags, sentence for sentence and token for token.
        test_tokens: Test sentences.
        test_tags: Their tags.
        lowercase: Bool; see `MostFrequentTag`. Default: False.

    Returns:
        A dict: `name`, `token_accuracy`, `unknown_tokens` (the fraction of
        test tokens never seen in training), `fit_seconds` and, for a chunk
        tag set, `precision`, `recall` and `f1`.

    Raises:
        ValueError: As for `MostFrequentTag.fit`, for either split; the
            test split holds no token.

    Example:

    >>> result = tagger([["Ann", "ran", "home"]], [["B-PER", "O", "O"]],
    ...                 [["Ann", "sat"]], [["B-PER", "O"]])
    >>> result["token_accuracy"], result["f1"], result["unknown_tokens"]
    (1.0, 1.0, 0.5)
    """
    train_tokens, train_tags = _check_sentences(
        "train_tokens", train_tokens, "train_tags", train_tags)
    test_tokens, test_tags = _check_sentences(
        "test_tokens", test_tokens, "test_tags", test_tags)
    start = time.perf_counter()
    model = MostFrequentTag(lowercase=lowercase).fit(train_tokens, train_tags)
    fit_seconds = time.perf_counter() - start
    predicted = model.predict(test_tokens)
    words = [model._key(word) for sentence in test_tokens for word in sentence]
    result = {
        "name": "most frequent tag per word ("
                + ("lower-cased" if lowercase else "as written") + ")",
        "token_accuracy": metrics.token_accuracy(test_tags, predicted),
        "unknown_tokens": (
            sum(word not in model.word_tags for word in words) / len(words)),
        "fit_seconds": fit_seconds,
    }
    tag_names = {tag for split in (train_tags, test_tags)
                 for sentence in split for tag in sentence}
    if metrics.is_chunk_tagset(tag_names):
        scores = metrics.entity_scores(test_tags, predicted)
        result.update({name: scores[name]
                       for name in ("precision", "recall", "f1")})
    return result
