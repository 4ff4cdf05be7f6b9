"""A naive-Bayes-weighted bag-of-n-grams logistic regression (NBSVM), fit
on a recipe's own token ids and put beside its network.

On short texts a linear model over which words and word pairs occur is as
strong as a recurrent network trained from scratch, and the two err
differently: their product beats either. The sentiment recipe fits one here
after training its network (`--ngrams`), and `zoo.layers.MultiHotDense` and
`zoo.layers.ProductOfExperts` carry both into the exported model.

* `multi_hot`: rows of ids (0 = padding) -> a binary sparse matrix.
* `fit`: the model of Wang and Manning: each feature is scaled by its
  log-count ratio (how much more often it occurs in a class than in the
  others), then an L2 logistic regression (scikit-learn) is fit one class
  against the rest, `C` chosen on validation rows. The result is a kernel
  and bias for `MultiHotDense(activation="softmax")`.
* `choose_weight`: the weight of the linear model in the product with the
  network, chosen on validation rows.

Every choice is made on training and validation rows; nothing here sees the
test split.

Reference: Wang and Manning, "Baselines and Bigrams: Simple, Good Sentiment
and Topic Classification", ACL 2012.
"""

import collections

import numpy as np

from zoo import baselines

# The values of `C` the validation rows choose from, a decade apart.
C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
# The weights of the linear model in the product with the network.
WEIGHT_GRID = tuple(round(0.1 * i, 1) for i in range(11))
# The scales of the product's log probabilities (its calibration).
SCALE_GRID = tuple(float(np.round(2.0 ** (i / 4), 4)) for i in range(-16, 5))
# Add-alpha smoothing of the feature counts in the log-count ratios.
ALPHA = 1.0

Linear = collections.namedtuple(
    "Linear", ["kernel", "bias", "c", "validation_accuracy"]
)
Linear.__doc__ = """A fitted model: `kernel [features, classes]` and `bias
[classes]` for `MultiHotDense(activation="softmax")`, the chosen `C` and
the validation accuracy at that `C`."""


def multi_hot(rows, size):
    """Rows of ids -> a binary `scipy.sparse.csr_matrix [len(rows), size]`.

    Args:
        rows: Integer array `[n, time]`; 0 is padding and never a feature.
            Ids must be below `size`.
        size: Number of columns (the vocabulary size, padding included).
    """
    import scipy.sparse

    rows = np.asarray(rows)
    if rows.ndim != 2:
        raise ValueError(f"Expected ids of shape [n, time], got {rows.shape}")
    if rows.size and (rows.min() < 0 or rows.max() >= size):
        raise ValueError(
            f"Ids must lie in [0, {size}), got {rows.min()}..{rows.max()}"
        )
    n, length = rows.shape
    row_index = np.repeat(np.arange(n), length)
    ids = rows.ravel()
    keep = ids != 0
    matrix = scipy.sparse.csr_matrix(
        (np.ones(keep.sum()), (row_index[keep], ids[keep])), shape=(n, size)
    )
    matrix.data[:] = 1.0  # Repeats were summed: presence only.
    return matrix


def _check(features, labels, num_classes, what):
    labels = np.asarray(labels, dtype=np.int64)
    if features.shape[0] != len(labels):
        raise ValueError(
            f"{what}: {features.shape[0]} rows of features but "
            f"{len(labels)} labels"
        )
    if len(labels) == 0:
        raise ValueError(f"{what}: no rows")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"{what}: labels must lie in [0, {num_classes}), got "
            f"{labels.min()}..{labels.max()}"
        )
    return labels


def log_count_ratios(features, labels, positive, alpha=ALPHA):
    """`log((p / |p|_1) / (q / |q|_1))` per feature: `p` the smoothed
    feature counts of rows of class `positive`, `q` of the other rows."""
    features = features.tocsr()
    mine = np.asarray(labels) == positive
    p = alpha + np.asarray(features[mine].sum(axis=0)).ravel()
    q = alpha + np.asarray(features[~mine].sum(axis=0)).ravel()
    return np.log(p / p.sum()) - np.log(q / q.sum())


def _one_against_rest(features, labels, positive, c, seed):
    """(weights [features], bias) of class `positive` against the rest, in
    the unscaled feature space (the ratios folded into the weights)."""
    ratios = log_count_ratios(features, labels, positive)
    scaled = features.multiply(ratios[None, :]).tocsr()
    model = baselines.classifier(c, seed)
    model.fit(scaled, (np.asarray(labels) == positive).astype(np.int64))
    return ratios * model.coef_[0], float(model.intercept_[0])


def fit_at(features, labels, num_classes, c, seed=0):
    """kernel [features, classes], bias [classes] at one `C`: NBSVM fit on
    all the given rows (`fit` chooses `C`; a recipe then refits on its
    training and validation rows together at that `C`).

    With two classes one model is fit and split evenly between the two
    columns, so that the softmax of the outputs is exactly the logistic
    regression's probability; with more, one model per class.
    """
    if num_classes == 2:
        weights, bias = _one_against_rest(features, labels, 1, c, seed)
        kernel = np.stack([-weights / 2, weights / 2], axis=1)
        return kernel, np.array([-bias / 2, bias / 2])
    columns = [_one_against_rest(features, labels, k, c, seed)
               for k in range(num_classes)]
    kernel = np.stack([w for w, _ in columns], axis=1)
    return kernel, np.array([b for _, b in columns])


def probabilities(features, kernel, bias):
    """`softmax(features @ kernel + bias)`, as `MultiHotDense` computes it."""
    scores = np.asarray(features @ kernel) + bias[None, :]
    scores -= scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return exp / exp.sum(axis=1, keepdims=True)


def _log_loss(probs, labels):
    return float(-np.mean(np.log(np.maximum(
        probs[np.arange(len(labels)), labels], 1e-12))))


def fit(train_features, train_labels, validation_features, validation_labels,
        num_classes, c_grid=C_GRID, seed=0):
    """Fits NBSVM at each `C` of `c_grid`; keeps the best on validation.

    The best `C` has the highest validation accuracy; ties go to the lower
    validation log loss. A class missing from the training rows gets
    weights of 0 and never wins against the others' positive evidence.

    Args:
        train_features, validation_features: Binary sparse matrices
            (`multi_hot`) over the same columns.
        train_labels, validation_labels: Integer class ids.
        num_classes: Number of classes (at least 2).
        c_grid: Inverse regularisation strengths to choose from.
        seed: Seed of the solver.

    Returns:
        A `Linear`.
    """
    if num_classes < 2:
        raise ValueError(f"Expected at least 2 classes, got {num_classes}")
    train_labels = _check(train_features, train_labels, num_classes,
                          "Training rows")
    validation_labels = _check(validation_features, validation_labels,
                               num_classes, "Validation rows")
    if len(set(train_labels.tolist())) < 2:
        raise ValueError(
            "Training rows: a classifier needs at least two classes, got "
            f"only {train_labels[0]}"
        )
    best = None
    for c in c_grid:
        kernel, bias = fit_at(train_features, train_labels, num_classes, c,
                               seed)
        probs = probabilities(validation_features, kernel, bias)
        accuracy = float(np.mean(probs.argmax(axis=1) == validation_labels))
        key = (accuracy, -_log_loss(probs, validation_labels))
        if best is None or key > best[0]:
            best = (key, Linear(kernel.astype(np.float32),
                                bias.astype(np.float32), float(c), accuracy))
    return best[1]


def _product(log_network, log_linear, weight, scale):
    scores = scale * ((1 - weight) * log_network + weight * log_linear)
    scores -= scores.max(axis=1, keepdims=True)
    return np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)


def _log(probabilities):
    # The clip of `zoo.layers.ProductOfExperts`.
    return np.log(np.maximum(np.asarray(probabilities, np.float64), 1e-7))


def product(network, linear, weight, scale=1.0):
    """`softmax(scale * ((1 - weight) log network + weight log linear))`:
    what `zoo.layers.ProductOfExperts([scale * (1 - weight), scale *
    weight])` computes from two models' probabilities `[n, classes]`."""
    return _product(_log(network), _log(linear), weight, scale)


def choose_weight(network, linear, labels, grid=WEIGHT_GRID,
                  scales=SCALE_GRID):
    """The weight `w` of the linear model and the scale `s` in
    `softmax(s * ((1 - w) log network + w log linear))` with the lowest
    validation log loss (ties: the lower `w`, then the lower `s`).

    `w` sets how the two models' evidence is traded (and so the predicted
    class); `s` only calibrates the product's probabilities (a network
    trained to a low training loss is over-confident on new rows), so that
    `w` is not chosen for the other's calibration.

    Args:
        network, linear: Validation probabilities `[n, classes]`.
        labels: Their class ids.
        grid: Weights to choose from, in [0, 1].
        scales: Positive scales to choose from.

    Returns:
        `(w, s, log loss)`.
    """
    network, linear = _log(network), _log(linear)
    labels = np.asarray(labels, dtype=np.int64)
    if network.shape != linear.shape or network.shape[0] != len(labels):
        raise ValueError(
            f"Expected probabilities of one shape [n, classes] and n labels, "
            f"got {network.shape}, {linear.shape} and {len(labels)} labels"
        )
    if any(not 0 <= w <= 1 for w in grid) or not grid:
        raise ValueError(f"Weights must lie in [0, 1], got {tuple(grid)}")
    if any(not s > 0 for s in scales) or not scales:
        raise ValueError(f"Scales must be positive, got {tuple(scales)}")
    best = None
    for w in sorted(grid):
        for s in sorted(scales):
            loss = _log_loss(_product(network, linear, w, s), labels)
            if best is None or loss < best[2] - 1e-12:
                best = (float(w), float(s), loss)
    return best
