"""tf.data pipelines from in-memory arrays."""

import numpy as np
import tensorflow as tf


def split_validation(features, labels, fraction, seed=0):
    """Carves a random validation split from training arrays.

    Returns:
        `((train_features, train_labels), (val_features, val_labels))`; the
        validation pair is None when `fraction` is 0.
    """
    count = int(round(len(labels) * fraction))
    if count == 0:
        return (features, labels), None
    order = np.random.default_rng(seed).permutation(len(labels))
    val, train = order[:count], order[count:]
    return (features[train], labels[train]), (features[val], labels[val])


def from_arrays(features, labels, batch_size, shuffle=False, seed=0, map_fn=None):
    """A batched, prefetched dataset of `(map_fn(features), labels)`.

    With `shuffle`, the order changes every epoch, reproducibly for a seed.
    """
    dataset = tf.data.Dataset.from_tensor_slices((features, labels))
    if shuffle:
        dataset = dataset.shuffle(len(labels), seed=seed)
    dataset = dataset.batch(batch_size)
    if map_fn is not None:
        dataset = dataset.map(
            lambda x, y: (map_fn(x), y), num_parallel_calls=tf.data.AUTOTUNE
        )
    return dataset.prefetch(tf.data.AUTOTUNE)
