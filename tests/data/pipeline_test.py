"""Tests for zoo.data.pipeline: validation splits and tf.data pipelines."""

import numpy as np
import pytest
import tensorflow as tf

from zoo.data import pipeline


@pytest.fixture(autouse=True)
def first_epoch():
    """Each test starts in epoch 0 (`shuffled` reads a global epoch)."""
    pipeline.set_epoch(0)


def _arrays(n=10):
    features = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    labels = np.arange(n, dtype=np.int64)
    return features, labels


def test_held_out_flags_count_positions_reproducibly_per_seed():
    held = pipeline.held_out(20, 5, seed=3)
    assert held.dtype == bool and held.shape == (20,) and held.sum() == 5
    np.testing.assert_array_equal(pipeline.held_out(20, 5, seed=3), held)
    assert not np.array_equal(pipeline.held_out(20, 5, seed=4), held)
    assert pipeline.held_out(20, 0).sum() == 0


def test_held_out_docstring_example_runs():
    from zoo.testing import run_docstring_examples

    run_docstring_examples(pipeline.held_out)


def _elements(dataset):
    return [(x.numpy(), y.numpy()) for x, y in dataset]


@pytest.mark.parametrize("fraction", [0.3, 0.5])
def test_split_validation_stream_holds_out_the_flagged_rows(fraction):
    features, labels = _arrays(10)
    held = pipeline.held_out(10, round(10 * fraction), seed=5)
    train, validation, train_size = pipeline.split_validation_stream(
        tf.data.Dataset.from_tensor_slices((features, labels)), 10, fraction,
        seed=5)
    assert train_size == 10 - held.sum()
    assert (int(train.cardinality()), int(validation.cardinality())) == (
        10 - held.sum(), held.sum())
    # The same rows, in the stream's order.
    assert [int(y) for _, y in train.as_numpy_iterator()] == (
        labels[~held].tolist())
    assert [int(y) for _, y in validation.as_numpy_iterator()] == (
        labels[held].tolist())
    # Features travel with their labels.
    assert all(x[0] == 2 * y for x, y in train.as_numpy_iterator())
    assert all(x[0] == 2 * y for x, y in validation.as_numpy_iterator())


@pytest.mark.parametrize("size", [3, 5])
def test_split_validation_stream_refuses_a_wrong_size(size):
    with pytest.raises(ValueError, match=rf"split_validation_stream: the "
                       rf"dataset holds 4 examples, but size={size}"):
        pipeline.split_validation_stream(tf.data.Dataset.range(4), size, 0.5)


def test_split_stream_keeps_each_parts_order_and_cardinality():
    held = np.array([True, False, False, True, False])
    kept, out = pipeline.split_stream(tf.data.Dataset.range(5), held)
    assert list(kept.as_numpy_iterator()) == [1, 2, 4]
    assert list(out.as_numpy_iterator()) == [0, 3]
    assert (int(kept.cardinality()), int(out.cardinality())) == (3, 2)


def test_split_stream_splits_examples_of_different_lengths():
    sentences = [["a"], ["b", "c"], [], ["d", "e", "f"]]
    dataset = tf.data.Dataset.from_tensor_slices(
        tf.ragged.constant(sentences)).map(lambda row: (row, tf.size(row)))
    kept, out = pipeline.split_stream(dataset, [False, True, True, False])
    assert kept.element_spec[0] == tf.TensorSpec([None], tf.string)
    assert [(x.tolist(), n) for x, n in kept.as_numpy_iterator()] == [
        ([b"a"], 1), ([b"d", b"e", b"f"], 3)]
    assert [(x.tolist(), n) for x, n in out.as_numpy_iterator()] == [
        ([b"b", b"c"], 2), ([], 0)]


def test_unbatch_rows_gives_plain_vectors_that_pad():
    rows = tf.data.Dataset.from_tensor_slices(tf.ragged.constant(
        [[1, 2], [3], [4, 5, 6]]))
    batches = rows.ragged_batch(2)
    plain = pipeline.unbatch_rows(batches, like=rows)
    assert plain.element_spec == tf.TensorSpec([None], tf.int32)
    assert int(plain.cardinality()) == 3
    np.testing.assert_array_equal(
        next(iter(plain.padded_batch(3))), [[1, 2, 0], [3, 0, 0], [4, 5, 6]])
    pairs = pipeline.unbatch_rows(tf.data.Dataset.zip(batches, batches))
    assert pairs.element_spec == (tf.TensorSpec([None], tf.int32),) * 2
    assert int(pairs.cardinality()) < 0  # Without `like`, unknown.


def test_split_stream_refuses_flags_of_another_length():
    with pytest.raises(ValueError, match="split_stream: the dataset holds 4 "
                       "examples, but 3 flags were given"):
        pipeline.split_stream(tf.data.Dataset.range(4), [True] * 3)


def test_same_cardinality_restores_what_unbatch_forgets():
    dataset = tf.data.Dataset.range(7)
    unbatched = dataset.batch(3).unbatch()
    assert int(unbatched.cardinality()) < 0
    assert int(pipeline.same_cardinality(unbatched, dataset).cardinality()) == 7
    unknown = dataset.filter(lambda x: x > 2)
    assert pipeline.same_cardinality(unbatched, unknown) is unbatched


def test_split_validation_stream_without_validation():
    dataset = tf.data.Dataset.range(4)
    assert pipeline.split_validation_stream(dataset, 4, 0.1) == (
        dataset, None, 4)


def test_batches_shuffle_within_the_buffer_reproducibly():
    dataset = tf.data.Dataset.from_tensor_slices((np.arange(40), np.arange(40)))

    def epochs(seed, buffer):
        batched = pipeline.batches(dataset, 40, shuffle=True, seed=seed,
                                   buffer=buffer)
        orders = []
        for epoch in range(2):
            pipeline.set_epoch(epoch)
            orders.append(next(iter(batched))[1].numpy().tolist())
        return orders

    first, second = epochs(seed=1, buffer=4)
    assert first != second  # A new order each epoch...
    assert epochs(seed=1, buffer=4) == [first, second]  # ...for a seed.
    assert sorted(first) == list(range(40))
    # An example moves up by at most the buffer's size less one.
    assert all(first.index(i) >= i - 3 for i in range(40))
    assert epochs(seed=1, buffer=1)[0] == list(range(40))
    batched = pipeline.batches(dataset, 16, map_fn=lambda x: x * 2)
    assert [x.numpy().tolist()[:2] for x, _ in batched] == [[0, 2], [32, 34],
                                                            [64, 66]]


# Text batches bucketed by length.


def test_token_counts_split_on_any_whitespace():
    counts = pipeline.token_counts(
        tf.constant(["a  b", "", "   ", " x\ty\nz ", "one"])
    )
    assert counts.numpy().tolist() == [2, 0, 0, 3, 1]


@pytest.mark.parametrize(
    "max_length, expected",
    [
        (1, []),
        (4, []),
        (5, [4]),
        (12, [4, 5, 6, 7, 8, 9, 11]),
        (200, [4, 5, 6, 7, 8, 9, 11, 12, 14, 16, 19, 21, 25, 28, 33, 37, 43,
               50, 57, 65, 75, 87, 100, 115, 132, 151, 174]),
    ],
)
def test_bucket_boundaries_values(max_length, expected):
    edges = pipeline.bucket_boundaries(max_length)
    assert edges == expected
    assert all(a < b for a, b in zip(edges, edges[1:]))  # Strictly increasing.
    assert all(edge < max_length for edge in edges)


def test_bucket_boundaries_bound_the_length_ratio_of_a_bucket():
    edges = pipeline.bucket_boundaries(200)
    # Bucket [lo, hi) holds lengths lo..hi-1; the last one lo..max_length.
    for lo, hi in zip(edges, edges[1:] + [201]):
        assert (hi - 1) / lo <= 1.15, (lo, hi)


def _texts(lengths):
    # Text i has lengths[i] tokens and ends in its index, to trace it.
    return np.array(
        [" ".join(["w"] * (n - 1) + [f"t{i}"]) if n else ""
         for i, n in enumerate(lengths)],
        dtype=object,
    )


LENGTHS = [0, 1, 3, 4, 5, 5, 9, 10, 11, 12, 13, 30, 31, 33, 60, 2, 7, 45, 12,
           40]


def _batches(dataset):
    return [(x.numpy(), y.numpy()) for x, y in dataset]


def _text_batches(texts, labels, batch_size, max_length, **options):
    """`text_batches` of in-memory rows, shuffled over all of them."""
    return pipeline.text_batches(
        tf.data.Dataset.from_tensor_slices((texts, labels)), batch_size,
        max_length, buffer=len(labels), **options)


@pytest.mark.parametrize("shuffle", [False, True])
def test_bucketed_batches_group_similar_lengths(shuffle):
    max_length = 40
    labels = np.arange(len(LENGTHS), dtype=np.int64)
    dataset = _text_batches(
        _texts(LENGTHS).astype(str), labels, batch_size=3,
        max_length=max_length, shuffle=shuffle, seed=1,
    )
    edges = pipeline.bucket_boundaries(max_length)
    seen = []
    for texts, batch_labels in _batches(dataset):
        assert 1 <= len(batch_labels) <= 3
        lengths = [min(len(t.split()), max_length) for t in texts]
        # Texts travel with their labels.
        assert lengths == [min(LENGTHS[i], max_length) for i in batch_labels]
        buckets = set(np.searchsorted(edges, lengths, side="right"))
        assert len(buckets) == 1, lengths
        if min(lengths) >= edges[0]:
            assert max(lengths) / min(lengths) <= 1.15
        seen.extend(batch_labels.tolist())
    assert sorted(seen) == labels.tolist()  # Every example exactly once.


def test_bucketed_batches_cap_long_texts_at_max_length():
    # 6, 50 and 90 tokens are all >= max_length 6: one bucket, one batch.
    dataset = _text_batches(
        _texts([6, 50, 90]).astype(str), np.arange(3), batch_size=3,
        max_length=6,
    )
    (texts, labels), = _batches(dataset)
    assert sorted(labels.tolist()) == [0, 1, 2]


def test_unbucketed_batches_keep_the_order():
    labels = np.arange(len(LENGTHS), dtype=np.int64)
    texts = _texts(LENGTHS).astype(str)
    batches = _batches(_text_batches(
        texts, labels, batch_size=6, max_length=40, bucket=False
    ))
    assert [len(y) for _, y in batches] == [6, 6, 6, 2]
    np.testing.assert_array_equal(np.concatenate([y for _, y in batches]),
                                  labels)
    assert np.concatenate([x for x, _ in batches]).astype(str).tolist() == (
        texts.tolist()
    )


@pytest.mark.parametrize("bucket", [False, True])
def test_bucketed_batches_shuffle_is_reproducible_for_a_seed(bucket):
    labels = np.arange(len(LENGTHS), dtype=np.int64)
    texts = _texts(LENGTHS).astype(str)

    def make(seed):
        return _text_batches(
            texts, labels, batch_size=2, max_length=40, bucket=bucket,
            shuffle=True, seed=seed,
        )

    def batch_order(dataset):
        return [y.tolist() for _, y in _batches(dataset)]

    first = batch_order(make(7))
    assert sorted(sum(first, [])) == labels.tolist()
    assert batch_order(make(7)) == first
    assert batch_order(make(8)) != first
    plain = batch_order(_text_batches(
        texts, labels, batch_size=2, max_length=40, bucket=bucket
    ))
    assert first != plain


def test_bucketed_batches_use_the_given_length_fn():
    # One whitespace token each, but 1, 2, 22 and 23 characters long: bucketed
    # by characters, the short pair and the long pair share batches.
    texts = np.array(["a", "x" * 22, "bb", "y" * 23])

    def characters(strings):
        return tf.strings.length(strings)

    dataset = _text_batches(
        texts, np.arange(4), batch_size=2, max_length=40, length_fn=characters
    )
    assert sorted(sorted(y.tolist()) for _, y in _batches(dataset)) == [
        [0, 2], [1, 3]
    ]
    # By whitespace tokens all four have length 1: batches in arrival order.
    plain = _text_batches(
        texts, np.arange(4), batch_size=2, max_length=40
    )
    assert [y.tolist() for _, y in _batches(plain)] == [[0, 1], [2, 3]]


@pytest.mark.parametrize("bucket", [False, True])
def test_text_batches_of_a_stream_shuffle_within_the_buffer(bucket):
    # 2 * CHUNK texts, so the lengths are counted in more than one chunk.
    count = 2 * pipeline.CHUNK
    lengths = np.arange(count) % 30 + 1
    dataset = tf.data.Dataset.from_tensor_slices(
        (_texts(lengths).astype(str), np.arange(count)))

    def labels(buffer, seed=0):
        return [y.tolist() for _, y in _batches(pipeline.text_batches(
            dataset, batch_size=64, max_length=40, bucket=bucket,
            shuffle=True, seed=seed, buffer=buffer))]

    small = labels(buffer=8)
    assert sorted(sum(small, [])) == list(range(count))
    assert labels(buffer=8) == small
    assert labels(buffer=8, seed=1) != small
    if not bucket:
        # Drawn from the next 8 examples: the last cannot come early.
        assert sum(small, []).index(count - 1) > count - 64
    assert labels(buffer=count) != small
    if bucket:
        edges = pipeline.bucket_boundaries(40)
        for texts, _ in _batches(pipeline.text_batches(
                dataset, batch_size=64, max_length=40, shuffle=True)):
            lengths = [len(t.split()) for t in texts]
            assert len(set(np.searchsorted(edges, lengths, "right"))) == 1


# sentence_batches


def _sentences():
    tokens = [["a", "b"], ["c"], ["d", "e", "f"], ["g"]]
    tags = [[1, 2], [3], [4, 5, 6], [0]]
    return tokens, tags


def _sentence_batches(tokens, tags, batch_size, **options):
    """`sentence_batches` of in-memory sentences, shuffled over all."""
    dataset = tf.data.Dataset.from_tensor_slices((
        tf.ragged.constant(tokens, tf.string, ragged_rank=1),
        tf.ragged.constant(tags, tf.int32, ragged_rank=1),
    )).map(lambda words, ids: (words, ids))  # Rows as plain tensors.
    longest = max((len(s) for s in tokens), default=0)
    return pipeline.sentence_batches(
        dataset, batch_size, longest, buffer=max(1, len(tokens)), **options)


@pytest.mark.parametrize("bucket", [True, False])
def test_sentence_batches_pad_tokens_and_tags(bucket):
    tokens, tags = _sentences()
    seen = {}
    for words, labels in _sentence_batches(
        tokens, tags, batch_size=2, bucket=bucket
    ):
        assert words.dtype == tf.string and labels.dtype == tf.int32
        assert words.shape == labels.shape
        for row_words, row_labels in zip(words.numpy(), labels.numpy()):
            real = row_words != b""
            np.testing.assert_array_equal(row_labels[~real], -1)
            seen[tuple(w.decode() for w in row_words[real])] = list(
                row_labels[real]
            )
    assert seen == {tuple(w): t for w, t in zip(tokens, tags)}


def test_sentence_batches_bucket_by_length_and_shuffle_per_seed():
    tokens = [["w"] * n for n in (1, 34, 2, 35, 1, 34)]
    tags = [[0] * len(s) for s in tokens]

    def widths(bucket):
        dataset = _sentence_batches(tokens, tags, 2, bucket=bucket)
        return sorted(w.shape[1] for w, _ in dataset)

    # Bucketed, short and long sentences never share a batch.
    assert widths(bucket=True) == [1, 2, 34, 35]
    assert widths(bucket=False) == [34, 34, 35]

    def order(seed):
        dataset = _sentence_batches(
            tokens, tags, 1, shuffle=True, seed=seed, bucket=False
        )
        return [w.shape[1] for w, _ in dataset]

    assert order(3) == order(3)
    assert sorted(order(3)) == sorted(len(s) for s in tokens)
    assert any(order(seed) != [len(s) for s in tokens] for seed in range(3))


def test_sentence_batches_of_a_stream_without_a_known_size():
    tokens, tags = _sentences()
    generated = tf.data.Dataset.from_generator(
        lambda: zip(tokens, tags), output_signature=(
            tf.TensorSpec([None], tf.string), tf.TensorSpec([None], tf.int32)))

    def batches(made):
        return [(x.tolist(), y.tolist()) for x, y in _batches(made)]

    for bucket in (False, True):
        assert batches(pipeline.sentence_batches(
            generated, 2, longest=3, bucket=bucket)) == batches(
                _sentence_batches(tokens, tags, 2, bucket=bucket))


@pytest.mark.parametrize("bucket", [False, True])
def test_sentence_batches_of_nothing_are_empty(bucket):
    assert list(_sentence_batches([], [], 4, bucket=bucket)) == []


# id_sequence_stream


def _id_batches(columns, batch_size, **options):
    """`id_sequence_stream` of in-memory id lists, shuffled over all."""
    dataset = tf.data.Dataset.from_tensor_slices(tuple(
        tf.ragged.constant(column, tf.int32, ragged_rank=1)
        for column in columns)).map(lambda *row: row)  # Plain tensors.
    longest = max((len(x) for column in columns for x in column), default=0)
    return pipeline.id_sequence_stream(
        dataset, batch_size, longest, buffer=max(1, len(columns[0])),
        **options)


def test_id_sequence_stream_pads_each_column_to_its_longest():
    batches = _id_batches(
        ([[1, 2], [3]], [[4], [5, 6, 7]]), batch_size=2, bucket=False
    )
    (first, second), = [tuple(x.numpy().tolist() for x in b) for b in batches]
    assert first == [[1, 2], [3, 0]]
    assert second == [[4, 0, 0], [5, 6, 7]]


def test_id_sequence_stream_bucketed_keeps_rows_together():
    sources = [[i] * (1 + i % 7) for i in range(1, 41)]
    targets = [[i] * (1 + i % 3) for i in range(1, 41)]
    batches = _id_batches(
        (sources, targets), batch_size=4, bucket=True, shuffle=True, seed=3
    )
    seen = []
    for source, target in batches:
        assert source.dtype == tf.int32 and target.dtype == tf.int32
        for s, t in zip(source.numpy(), target.numpy()):
            i = int(s[0])
            assert s[s != 0].tolist() == sources[i - 1]
            assert t[t != 0].tolist() == targets[i - 1]
            seen.append(i)
    assert sorted(seen) == list(range(1, 41))


def test_id_sequence_stream_reshuffles_per_epoch_and_seed():
    rows = ([[i] for i in range(1, 21)],)

    def epoch_orders(seed):
        batches = _id_batches(
            rows, batch_size=20, bucket=False, shuffle=True, seed=seed
        )
        orders = []
        for epoch in range(2):
            pipeline.set_epoch(epoch)
            orders.append(next(iter(batches))[0].numpy()[:, 0].tolist())
        return orders

    first, again = epoch_orders(1), epoch_orders(1)
    assert first == again and first[0] != first[1]
    assert epoch_orders(2) != first


ID_SEQUENCES = (
    [[5, 6, 7], [8], [9, 10], [11, 12, 13, 14], [15], [16, 17], [18, 19, 20]],
    [[21, 22], [23, 24, 25], [26], [27, 28], [29, 30, 31, 32, 33], [34], [35]],
)


def _tuples(dataset):
    return [tuple(x.numpy().tolist() for x in batch) for batch in dataset]


@pytest.mark.parametrize("bucket", [True, False])
@pytest.mark.parametrize("shuffle", [True, False])
def test_id_sequence_stream_of_a_generator_batches_alike(bucket, shuffle):
    rows = list(zip(*ID_SEQUENCES))
    dataset = tf.data.Dataset.from_generator(
        lambda: rows, output_signature=(
            tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], tf.int32)),
    ).apply(tf.data.experimental.assert_cardinality(len(rows)))
    options = dict(bucket=bucket, shuffle=shuffle, seed=3)
    streamed = pipeline.id_sequence_stream(
        dataset, 2, longest=5, buffer=len(rows), **options)
    listed = _id_batches(ID_SEQUENCES, 2, **options)
    def epochs(dataset):
        found = []
        for epoch in range(2):
            pipeline.set_epoch(epoch)
            found.append(_tuples(dataset))
        return found

    assert epochs(streamed) == epochs(listed)
    # Reshuffled every epoch.
    assert (epochs(streamed)[0] != epochs(streamed)[1]) == shuffle


def test_id_sequence_stream_of_nothing_is_empty():
    assert list(_id_batches(([], []), batch_size=2)) == []


def test_id_sequence_stream_docstring_example_runs():
    from zoo.testing import run_docstring_examples

    run_docstring_examples(pipeline.id_sequence_stream)


def test_padding_counter_counts_batches_as_they_are_read():
    counter = pipeline.PaddingCounter()
    ids = tf.constant([[1, 2, 0, 0], [3, 0, 0, 0], [4, 5, 6, 0]])
    batches = counter.counted(
        tf.data.Dataset.from_tensor_slices(ids).batch(2),
        lambda batch: (tf.reduce_sum(tf.cast(batch != 0, tf.int32), 1),
                       tf.shape(batch)[1]))
    assert counter.padded_fraction() == 0.0  # Nothing read yet.
    seen = [batch.numpy().tolist() for batch in batches]
    assert seen == [ids.numpy()[:2].tolist(), ids.numpy()[2:].tolist()]
    assert (int(counter.real.numpy()), int(counter.total.numpy())) == (6, 12)
    assert counter.padded_fraction() == pytest.approx(0.5)
    counter.reset()
    assert counter.padded_fraction() == 0.0


def test_padding_counter_leaves_a_distributed_pipeline_uncounted():
    counter = pipeline.PaddingCounter()
    batches = tf.data.Dataset.from_tensors(tf.constant([[1, 0]]))
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with strategy.scope():
        same = counter.counted(batches, lambda b: (tf.constant([1]), 2))
    assert same is batches
    assert counter.padded_fraction() is None


def test_an_epochs_order_is_the_same_however_many_passes_came_before():
    dataset = pipeline.shuffled(tf.data.Dataset.range(50), 50, seed=7)
    assert int(dataset.cardinality()) == 50

    def order(epoch):
        pipeline.set_epoch(epoch)
        return list(dataset.as_numpy_iterator())

    third = order(2)
    for epoch in (0, 1, 5, 2):  # Passes in between change nothing...
        order(epoch)
    assert order(2) == third
    assert sorted(third) == list(range(50))
    assert order(1) != third  # ...but another epoch has another order.
    other_seed = pipeline.shuffled(tf.data.Dataset.range(50), 50, seed=8)
    pipeline.set_epoch(2)
    assert list(other_seed.as_numpy_iterator()) != third


def test_repeat_by_epoch_orders_each_pass_as_its_epoch():
    dataset = pipeline.shuffled(tf.data.Dataset.range(10), 10, seed=1)
    passes = list(pipeline.repeat_by_epoch(dataset, first=1).take(30)
                  .as_numpy_iterator())
    for epoch, found in zip((1, 2, 3), (passes[:10], passes[10:20],
                                        passes[20:])):
        pipeline.set_epoch(epoch)
        assert found == list(dataset.as_numpy_iterator())


def test_shuffled_under_a_strategy_reshuffles_each_pass():
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with strategy.scope():
        dataset = pipeline.shuffled(tf.data.Dataset.range(20), 20, seed=1)
        repeated = pipeline.repeat_by_epoch(dataset)
    first, second = (list(dataset.as_numpy_iterator()) for _ in range(2))
    assert first != second and sorted(first) == list(range(20))
    assert list(repeated.take(20).as_numpy_iterator()) != list(range(20))


def test_sized_counts_bucketed_batches_once_and_every_epoch_has_as_many():
    labels = np.arange(len(LENGTHS), dtype=np.int64)
    bucketed = _text_batches(_texts(LENGTHS).astype(str), labels,
                             batch_size=3, max_length=40, shuffle=True)
    assert int(bucketed.cardinality()) == tf.data.UNKNOWN_CARDINALITY
    sized = pipeline.sized(bucketed)
    counts = []
    for epoch in range(3):
        pipeline.set_epoch(epoch)
        counts.append(sum(1 for _ in sized))
    assert counts == [int(sized.cardinality())] * 3
    known = tf.data.Dataset.range(5).batch(2)
    assert pipeline.sized(known) is known
