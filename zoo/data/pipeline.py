"""tf.data pipelines: validation splits, shuffling, batching, bucketing."""

import numpy as np
import tensorflow as tf

from zoo import progress


# Examples a stream handles in one vectorized step: held out
# (`split_stream`), parsed (`zoo.data.records.parse`), counted or turned
# into ids.
CHUNK = 1024


def held_out(size, count, seed=0):
    """Flags `[size]`, True at the `count` positions a split holds out.

    The positions are a random choice, the same for the same `seed`:
    `split_validation_stream` holds out these examples, and in-memory
    rows split by them (`rows[held]`, `rows[~held]`) are the same split.

    Example:

    >>> held_out(6, 2, seed=0).nonzero()[0].tolist()
    [2, 3]
    """
    held = np.zeros(size, bool)
    held[np.random.default_rng(seed).permutation(size)[:count]] = True
    return held


def split_stream(dataset, held):
    """Splits `dataset` by the flags `held` (one per example, in order).

    Examples are picked `CHUNK` at a time (a per-example filter costs
    several times more); they may differ in shape, e.g. sentences.

    Returns:
        `(kept, held_out)`: two datasets like `dataset`, each in its
        original order, with their cardinality known.

    Raises:
        ValueError: `dataset` is known to hold other than `len(held)`
            examples.
    """
    held = np.asarray(held, bool)
    _check_size(dataset, len(held), f"{len(held)} flags were given")
    chunks = tf.data.Dataset.zip(
        dataset, tf.data.Dataset.from_tensor_slices(held)).ragged_batch(CHUNK)

    def part(validation, count):
        masked = chunks.map(lambda examples, flags: tf.nest.map_structure(
            lambda t: tf.ragged.boolean_mask(t, flags == validation),
            examples,
        ))
        return unbatch_rows(masked).apply(
            # Known again after the masks: Keras can count the steps.
            tf.data.experimental.assert_cardinality(count))

    count = int(held.sum())
    return part(False, len(held) - count), part(True, count)


def split_validation_stream(dataset, size, fraction, seed=0):
    """Carves a random validation split from a dataset of `size` examples.

    It holds out the positions `held_out(size, round(size * fraction),
    seed)` flags, as they stream (see `split_stream`); what is kept in
    memory is one flag per example.

    Returns:
        `(train, validation, train_size)`: two datasets like `dataset`
        (validation None when `fraction` holds out no example) and the
        number of training examples.

    Raises:
        ValueError: `dataset` is known to hold other than `size` examples.
    """
    _check_size(dataset, size, f"size={size}", "split_validation_stream")
    count = int(round(size * fraction))
    if count == 0:
        return dataset, None, size
    train, validation = split_stream(dataset, held_out(size, count, seed))
    return train, validation, size - count


def count(dataset):
    """Elements of `dataset`: its cardinality if known, else counted."""
    size = int(dataset.cardinality())
    if size >= 0:
        return size
    return int(dataset.reduce(0, lambda count, _: count + 1))


def sized(dataset):
    """`dataset` with its cardinality known, counted by one pass if need be.

    Bucketed batches (`bucket_by_sequence_length`) have no cardinality
    tf.data can tell, though their number is the same every epoch (each
    bucket's examples, in batches, whatever their order). Known, Keras
    shows a step total and an ETA from the first epoch and does not warn
    that the input "ran out of data".
    """
    if int(dataset.cardinality()) != tf.data.UNKNOWN_CARDINALITY:
        return dataset
    with progress.stretch("Counting the batches of an epoch"):
        batches = count(dataset)
    return dataset.apply(tf.data.experimental.assert_cardinality(batches))


def _check_size(dataset, size, given, who="split_stream"):
    known = int(dataset.cardinality())
    if known >= 0 and known != size:
        raise ValueError(
            f"{who}: the dataset holds {known} examples, but {given}"
        )


def unbatch_rows(batches, like=None):
    """`batches.unbatch()`, each row's ragged parts as plain tensors.

    A row of a ragged batch unbatches with a ragged spec of rank 0, which
    `padded_batch` refuses. With `like`, the rows take its cardinality
    when that is known (see `same_cardinality`).
    """
    rows = batches.unbatch().map(
        lambda *row: row[0] if len(row) == 1 else row)
    return rows if like is None else same_cardinality(rows, like)


def same_cardinality(dataset, like):
    """`dataset` with `like`'s cardinality, when that is known (a batch
    and unbatch, for one, forgets it)."""
    known = int(like.cardinality())
    if known < 0:
        return dataset
    return dataset.apply(tf.data.experimental.assert_cardinality(known))


# Examples a streamed training set is shuffled within: all of MNIST's
# 54,000 training images (42 MB), and a fixed cost however large the corpus.
SHUFFLE_BUFFER = 60_000

# The epoch (or pass) `shuffled` orders for: read when a pass over a
# shuffled dataset starts. Made on first use.
_epoch = None


def _epoch_variable():
    global _epoch
    if _epoch is None:
        with tf.init_scope():  # Not inside a tf.function or a strategy.
            _epoch = tf.Variable(0, dtype=tf.int64, trainable=False,
                                 name="shuffle_epoch")
    return _epoch


def set_epoch(epoch):
    """Passes over `shuffled` datasets that start from now on are in the
    order of `epoch` (the harness sets it as each epoch begins)."""
    _epoch_variable().assign(int(epoch))


def shuffled(dataset, buffer, seed):
    """`dataset`, each example drawn at random from the next `buffer`, in an
    order that is a function of `seed` and the epoch (`set_epoch`).

    A pass reads the epoch when it starts, so an epoch's order does not
    depend on how many passes came before: a run resumed at epoch 3 sees
    the order an uninterrupted run saw in its epoch 3. Under a
    distribution strategy other than the default one (which serializes
    the pipeline, and cannot serialize a variable) the order changes with
    every pass instead, as `tf.data`'s own reshuffling does.
    """
    if tf.distribute.has_strategy():
        return dataset.shuffle(buffer, seed=seed)
    epoch = _epoch_variable()
    seed = tf.constant(seed, tf.int64)

    @tf.autograph.experimental.do_not_convert
    def one_pass(_):
        # A graph-level seed of this function's own, so that tf.data's seed
        # pair is (1, the op seed): it compares the pair with (0, 0) in
        # Python, which a tensor op seed cannot take part in.
        tf.compat.v1.get_default_graph().seed = 1
        return dataset.shuffle(buffer, seed=seed * 1_000_003 + epoch.value(),
                               reshuffle_each_iteration=False)

    shuffled = tf.data.Dataset.from_tensors(0).flat_map(one_pass)
    return shuffled.apply(tf.data.experimental.assert_cardinality(
        dataset.cardinality())) if dataset.cardinality() >= 0 else shuffled


def repeat_by_epoch(dataset, first=0):
    """`dataset` repeated without end, pass `p` in the order of epoch `p`.

    For epochs of a fixed number of steps, which do not line up with the
    passes: `shuffled` parts of `dataset` take pass numbers, not epochs,
    starting at `first`. Under a distribution strategy other than the
    default one, `dataset.repeat()` (see `shuffled`).
    """
    if tf.distribute.has_strategy():
        return dataset.repeat()
    epoch = _epoch_variable()

    def one_pass(p):
        with tf.control_dependencies([epoch.assign(p)]):
            return dataset

    return tf.data.Dataset.range(first, 2**62).flat_map(one_pass)


def batches(dataset, batch_size, shuffle=False, seed=0, map_fn=None,
            buffer=SHUFFLE_BUFFER):
    """`dataset` of `(features, labels)` batched as `(map_fn(features), labels)`.

    With `shuffle`, the order changes every epoch, reproducibly for a
    seed: each example is drawn at random from the next `buffer`.
    """
    if shuffle:
        dataset = shuffled(dataset, buffer, seed)
    dataset = dataset.batch(batch_size)
    if map_fn is not None:
        dataset = dataset.map(
            lambda x, y: (map_fn(x), y), num_parallel_calls=tf.data.AUTOTUNE
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


def token_counts(texts):
    """Whitespace-token count of each string: the length TextToIds sees."""
    return tf.strings.split(texts).row_lengths()


def bucket_boundaries(max_length, first=4, growth=1.15):
    """Length-bucket edges growing by `growth`: 4, 5, 6, 7, 8, 9, 11, 12, ...

    Rows of a bucket differ in length by at most about 15%, which bounds
    the padding of every batch.
    """
    edges, edge = [], float(first)
    while round(edge) < max_length:
        if not edges or round(edge) > edges[-1]:
            edges.append(int(round(edge)))
        edge *= growth
    return edges


def text_batches(
    dataset,
    batch_size,
    max_length,
    bucket=True,
    shuffle=False,
    seed=0,
    length_fn=None,
    buffer=SHUFFLE_BUFFER,
):
    """Batches of `(texts [batch], labels [batch])`, grouped by length.

    With `bucket`, texts of similar token counts (capped at `max_length`)
    share a batch, so padding to each batch's longest row stays small;
    without it, batches mix lengths at random (the baseline to compare
    against: each row is padded to its batch's longest).

    Args:
        dataset: `(text, label)` pairs: a string and a label.
        shuffle: Reshuffle every epoch, reproducibly for a `seed`: each
            example is drawn at random from the next `buffer`.
        length_fn: Maps a batch of strings `[n]` to their token counts
            `[n]`, e.g. `zoo.layers.TextToIds.count_tokens`, so buckets
            follow the model's own tokenization. Default: `token_counts`.
    """
    if not bucket:
        return batches(dataset, batch_size, shuffle=shuffle, seed=seed,
                       buffer=buffer)
    if shuffle:
        dataset = shuffled(dataset, buffer, seed)
    length_fn = length_fn or token_counts
    # Counted `CHUNK` texts at a time, in one vectorized call each.
    with_lengths = dataset.batch(CHUNK).map(
        lambda texts, labels: (texts, labels, tf.minimum(
            tf.cast(length_fn(texts), tf.int32), max_length)),
        num_parallel_calls=tf.data.AUTOTUNE,
    ).unbatch()
    dataset = _bucket(
        with_lengths, lambda text, label, length: length, max_length,
        batch_size, shuffle, seed,
    ).map(lambda text, label, length: (text, label))
    return dataset.prefetch(tf.data.AUTOTUNE)


def _bucket(dataset, length_fn, max_length, batch_size, shuffle, seed,
            padding_values=None):
    """Batches `dataset` by `length_fn(*element)` into `bucket_boundaries`.

    With `shuffle`, the finished batches are mixed too: buckets fill at
    different rates, so otherwise an epoch would run short rows first.
    """
    boundaries = bucket_boundaries(max_length)
    dataset = dataset.bucket_by_sequence_length(
        length_fn,
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        padding_values=padding_values,
    )
    return shuffled(dataset, 64, seed) if shuffle else dataset


def sentence_batches(dataset, batch_size, longest, bucket=True,
                     shuffle=False, seed=0, tag_padding=-1,
                     buffer=SHUFFLE_BUFFER):
    """Batches of `(tokens [batch, time], tags [batch, time])`, padded.

    Each sentence is one row; tokens are padded with "" and tags with
    `tag_padding` (negative, so losses and metrics can tell padding from
    tag 0). With `bucket`, sentences of similar length share a batch (see
    `bucket_boundaries`); otherwise batches mix lengths at random.

    Args:
        dataset: Sentences: string tokens and int32 tag ids of one length.
        longest: Tokens of the longest sentence (at least), which bounds
            the length buckets.
        shuffle: Reshuffle every epoch, reproducibly for a `seed`: each
            sentence is drawn at random from the next `buffer` (and the
            batches are mixed too).
    """
    if shuffle:
        dataset = shuffled(dataset, buffer, seed)
    padding = (tf.constant(""), tf.constant(tag_padding, tf.int32))
    if bucket:
        dataset = _bucket(
            dataset, lambda words, labels: tf.shape(words)[0], longest + 1,
            batch_size, shuffle, seed, padding,
        )
    else:
        dataset = dataset.padded_batch(batch_size, padding_values=padding)
    return dataset.prefetch(tf.data.AUTOTUNE)


def id_sequence_stream(dataset, batch_size, longest, bucket=True,
                       shuffle=False, seed=0, buffer=SHUFFLE_BUFFER):
    """Batches of aligned id sequences, padded with 0 to the batch's longest.

    Args:
        dataset: Tuples of int32 id vectors `[time_i]`, without padding.
        batch_size: Examples per batch.
        longest: The longest a sequence can be (at least), which bounds the
            length buckets.
        shuffle: Reshuffle every epoch, reproducibly for a `seed`: each
            example is drawn at random from the next `buffer` (and the
            batches are mixed too).

    Returns:
        A dataset of tuples of int32 `[batch, time_i]` tensors, padded
        with 0.

    Example:

    >>> rows = tf.data.Dataset.from_generator(
    ...     lambda: [([1, 2], [4]), ([3], [5, 6, 7])], output_signature=(
    ...         tf.TensorSpec([None], tf.int32),) * 2)
    >>> batched = id_sequence_stream(rows, 2, longest=3, bucket=False)
    >>> [x.numpy().tolist() for x in next(iter(batched))]
    [[[1, 2], [3, 0]], [[4, 0, 0], [5, 6, 7]]]
    """
    if shuffle:
        dataset = shuffled(dataset, buffer, seed)
    padding = tuple(tf.constant(0, tf.int32) for _ in dataset.element_spec)
    if bucket:
        dataset = _bucket(
            dataset,
            lambda *row: tf.reduce_max([tf.shape(x)[0] for x in row]),
            longest + 1, batch_size, shuffle, seed, padding,
        )
    else:
        dataset = dataset.padded_batch(batch_size, padding_values=padding)
    return dataset.prefetch(tf.data.AUTOTUNE)


class PaddingCounter:
    """Counts the real and padded positions of batches as they are read.

    `counted(batches, lengths_fn)` passes each batch through unchanged and
    adds its counts; `zoo.training.callbacks.PaddingLogger` reads the
    padded share once per epoch (`padded_fraction`) and `reset`s it. The
    counts are two host variables that the input pipeline updates: they
    are in no model, checkpoint or export.

    A pipeline that updates variables cannot be serialized, which a
    distribution strategy other than the default one needs; there the
    batches pass uncounted (`padded_fraction` stays None).

    Example:

    >>> counter = PaddingCounter()
    >>> batches = tf.data.Dataset.from_tensors(tf.constant([[1, 2, 0]]))
    >>> for _ in counter.counted(batches, lambda ids: (
    ...         tf.reduce_sum(tf.cast(ids != 0, tf.int64), 1), 3)):
    ...     pass
    >>> round(counter.padded_fraction(), 3)
    0.333
    """

    def __init__(self):
        self.real = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.total = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.counting = True

    def counted(self, batches, lengths_fn):
        """`batches`, counted as they are read.

        Args:
            batches: A dataset of batches.
            lengths_fn: `lengths_fn(*batch) -> (lengths [N], width)`: the
                real positions of each row and the width every row is
                padded to.
        """
        if tf.distribute.has_strategy():  # Not the default strategy.
            self.counting = False
            return batches

        def count(*batch):
            lengths, width = lengths_fn(*batch)
            lengths = tf.cast(lengths, tf.int64)
            rows = tf.cast(tf.size(lengths), tf.int64)
            with tf.control_dependencies([
                self.real.assign_add(tf.reduce_sum(lengths)),
                self.total.assign_add(rows * tf.cast(width, tf.int64)),
            ]):
                batch = tf.nest.map_structure(tf.identity, batch)
            return batch[0] if len(batch) == 1 else batch

        return batches.map(count)

    def padded_fraction(self):
        """Padded share of the positions counted since the last `reset`
        (0 when none were; None when batches pass uncounted)."""
        if not self.counting:
            return None
        total = int(self.total.numpy())
        return 1.0 - int(self.real.numpy()) / total if total else 0.0

    def reset(self):
        self.real.assign(0)
        self.total.assign(0)
