"""Tests for zoo.ngrams: NBSVM on token ids and its weight beside a network."""

import numpy as np
import pytest
import scipy.sparse
from sklearn.linear_model import LogisticRegression

from zoo import baselines
from zoo import ngrams


def test_multi_hot_marks_presence_and_never_padding():
    matrix = ngrams.multi_hot(np.array([[3, 1, 3, 0], [0, 0, 0, 0]]), 5)
    assert scipy.sparse.issparse(matrix)
    np.testing.assert_array_equal(
        matrix.toarray(), [[0, 1, 0, 1, 0], [0, 0, 0, 0, 0]])


@pytest.mark.parametrize(
    "rows, message",
    [
        (np.array([1, 2]), r"shape \[n, time\], got \(2,\)"),
        (np.array([[1, 5]]), r"Ids must lie in \[0, 5\), got 1..5"),
        (np.array([[-1, 2]]), r"Ids must lie in \[0, 5\), got -1..2"),
    ],
)
def test_multi_hot_rejects_bad_ids(rows, message):
    with pytest.raises(ValueError, match=message):
        ngrams.multi_hot(rows, 5)


def test_log_count_ratios_by_hand():
    # Feature 0 in both positive rows, feature 1 in the negative row.
    features = scipy.sparse.csr_matrix(np.array([[1, 0], [1, 0], [0, 1]]))
    ratios = ngrams.log_count_ratios(features, [1, 1, 0], positive=1)
    # p = 1 + [2, 0] = [3, 1]; q = 1 + [0, 1] = [1, 2].
    expected = np.log(np.array([3, 1]) / 4) - np.log(np.array([1, 2]) / 3)
    np.testing.assert_allclose(ratios, expected)


def _corpus(seed=0, n=200, size=30):
    """Rows of ids with class-dependent words: ids 1-5 lean positive, 6-10
    negative, the rest are noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    rows = rng.integers(11, size, (n, 6))
    lean = np.where(labels == 1, rng.integers(1, 6, n), rng.integers(6, 11, n))
    noisy = rng.random(n) < 0.2
    rows[:, 0] = np.where(noisy, rng.integers(1, 11, n), lean)
    return ngrams.multi_hot(rows, size), labels


def test_two_classes_split_one_regression_so_softmax_is_its_probability():
    features, labels = _corpus()
    kernel, bias = ngrams.fit_at(features, labels, 2, c=1.0)
    ratios = ngrams.log_count_ratios(features, labels, positive=1)
    reference = LogisticRegression(
        C=1.0, solver=baselines.SOLVER, tol=baselines.TOL,
        max_iter=baselines.MAX_ITER, random_state=0,
    ).fit(features.multiply(ratios[None, :]).tocsr(), labels)
    np.testing.assert_allclose(kernel[:, 1], -kernel[:, 0])
    np.testing.assert_allclose(
        ngrams.probabilities(features, kernel, bias)[:, 1],
        reference.predict_proba(features.multiply(ratios[None, :]))[:, 1],
        atol=1e-6,
    )


def test_more_classes_fit_one_model_per_class():
    features, labels = _corpus()
    labels = np.where(np.arange(len(labels)) % 7 == 0, 2, labels)
    kernel, bias = ngrams.fit_at(features, labels, 3, c=1.0)
    assert kernel.shape == (30, 3) and bias.shape == (3,)
    probabilities = ngrams.probabilities(features, kernel, bias)
    np.testing.assert_allclose(probabilities.sum(1), 1.0)
    assert np.mean(probabilities.argmax(1)[labels < 2] == labels[labels < 2]) > 0.75


def test_fit_keeps_the_c_best_on_validation_rows():
    features, labels = _corpus(n=300)
    train, validation = slice(0, 200), slice(200, 300)
    grid = (1e-4, 1.0)
    linear = ngrams.fit(features[train], labels[train], features[validation],
                        labels[validation], 2, c_grid=grid)
    accuracy = {}
    for c in grid:
        kernel, bias = ngrams.fit_at(features[train], labels[train], 2, c)
        accuracy[c] = np.mean(ngrams.probabilities(
            features[validation], kernel, bias).argmax(1) == labels[validation])
    # C = 1e-4 leaves the weights near 0: every row gets one class.
    assert accuracy[1.0] > accuracy[1e-4]
    assert linear.c == 1.0
    assert linear.validation_accuracy == pytest.approx(accuracy[1.0])
    assert linear.kernel.dtype == np.float32


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(num_classes=1), r"at least 2 classes, got 1"),
        (dict(train_labels=[0] * 4), r"Training rows: .*two classes, got only 0"),
        (dict(train_labels=[0, 1, 1]), r"Training rows: 4 rows of features but 3 labels"),
        (dict(validation_labels=[0, 2]), r"Validation rows: labels must lie in \[0, 2\), got 0..2"),
        (dict(validation_features=scipy.sparse.csr_matrix((0, 3)),
              validation_labels=[]), r"Validation rows: no rows"),
    ],
)
def test_fit_rejects_what_it_cannot_fit(change, message):
    arguments = dict(
        train_features=scipy.sparse.csr_matrix(np.eye(4, 3)),
        train_labels=[0, 1, 0, 1],
        validation_features=scipy.sparse.csr_matrix(np.eye(2, 3)),
        validation_labels=[0, 1], num_classes=2,
    )
    arguments.update(change)
    with pytest.raises(ValueError, match=message):
        ngrams.fit(**arguments)


def test_product_by_hand():
    network = np.array([[0.8, 0.2]])
    linear = np.array([[0.4, 0.6]])
    found = ngrams.product(network, linear, weight=0.5, scale=2.0)
    # scale 2, weights 1/2 each: p * q, renormalised.
    expected = np.array([[0.32, 0.12]]) / 0.44
    np.testing.assert_allclose(found, expected)


def test_choose_weight_trusts_the_model_that_is_right():
    labels = np.array([0, 1, 0, 1, 1, 0])
    right = np.where(labels[:, None] == [0, 1], 0.8, 0.2)
    coin = np.full((6, 2), 0.5)
    assert ngrams.choose_weight(right, coin, labels)[0] == 0.0
    assert ngrams.choose_weight(coin, right, labels)[0] == 1.0


def test_choose_weight_calibrates_an_over_confident_model_by_its_scale():
    # Right 3 times in 4 at 0.99: the best scale softens it towards 0.75.
    labels = np.array([0, 0, 0, 1])
    network = np.tile([0.99, 0.01], (4, 1))
    weight, scale, loss = ngrams.choose_weight(network, network, labels)
    assert scale < 1.0
    softened = ngrams.product(network, network, weight, scale)
    assert softened[0, 0] == pytest.approx(0.75, abs=0.05)
    assert loss < -np.mean(np.log(network[np.arange(4), labels]))


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(linear=np.full((3, 2), 0.5)), r"one shape \[n, classes\] and n labels"),
        (dict(labels=[0]), r"one shape \[n, classes\] and n labels"),
        (dict(grid=(0.5, 1.5)), r"Weights must lie in \[0, 1\]"),
        (dict(grid=()), r"Weights must lie in \[0, 1\], got \(\)"),
        (dict(scales=(0.0,)), r"Scales must be positive"),
    ],
)
def test_choose_weight_rejects_bad_arguments(change, message):
    arguments = dict(network=np.full((2, 2), 0.5), linear=np.full((2, 2), 0.5),
                     labels=[0, 1])
    arguments.update(change)
    with pytest.raises(ValueError, match=message):
        ngrams.choose_weight(**arguments)
