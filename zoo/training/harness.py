"""The one training loop every recipe uses: seed, optimizer, fit, resume."""

import json
import os
import sys
import time

import keras
import tensorflow as tf
from absl import logging

from zoo.training import callbacks as zoo_callbacks
from zoo.training import checkpoint


def set_seed(seed):
    """Seeds Python, NumPy and TensorFlow and makes TF ops deterministic."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def make_optimizer(config, steps_per_epoch):
    """Adam with per-epoch exponential decay and global-norm clipping."""
    learning_rate = config.learning_rate
    if config.lr_decay < 1.0:
        learning_rate = keras.optimizers.schedules.ExponentialDecay(
            config.learning_rate,
            decay_steps=max(1, steps_per_epoch),
            decay_rate=config.lr_decay,
            staircase=True,
        )
    return keras.optimizers.Adam(
        learning_rate, global_clipnorm=config.clipnorm or None
    )


def fit(model, train_data, validation_data, config, workdir, callbacks=()):
    """Trains a compiled `model` for `config.epochs`, resuming if possible.

    Checkpoints (weights and optimizer state) are written after every epoch
    to `workdir/checkpoints`; a run started again with the same workdir
    continues after the last finished epoch and stops at `config.epochs`.
    TensorBoard logs go to `workdir/tensorboard`.

    Args:
        model: A compiled, built `keras.Model`.
        train_data: A `tf.data.Dataset` of `(inputs, targets)` batches.
        validation_data: A dataset like `train_data`, or None.
        config: A `zoo.training.TrainConfig`.
        workdir: The run's folder.
        callbacks: Extra Keras callbacks.

    Returns:
        A dict: `initial_epoch` (epochs restored from a checkpoint),
        `epochs` (finished in total) and `history` (per-epoch logs of this
        run).
    """
    checkpoint_dir = os.path.join(workdir, "checkpoints")
    initial_epoch = checkpoint.restore_latest(model, checkpoint_dir)
    if initial_epoch >= config.epochs:
        logging.warning(
            "%s already holds a run finished after %d epochs; not training. "
            "Use a new --workdir to train from scratch.",
            workdir,
            initial_epoch,
        )
        return {"initial_epoch": initial_epoch, "epochs": initial_epoch,
                "history": {}}
    history = model.fit(
        train_data,
        validation_data=validation_data,
        epochs=config.epochs,
        initial_epoch=initial_epoch,
        callbacks=[
            # Extra callbacks first: they may add to the epoch logs that the
            # TensorBoard writer and the progress bar report.
            zoo_callbacks.EpochTimer(),
            *callbacks,
            checkpoint.EpochCheckpoint(checkpoint_dir),
            keras.callbacks.TensorBoard(os.path.join(workdir, "tensorboard")),
        ],
        shuffle=False,  # The datasets shuffle themselves, per epoch.
        # A progress bar on a terminal; one line per epoch in a log file.
        verbose=1 if sys.stdout.isatty() else 2,
    )
    return {
        "initial_epoch": initial_epoch,
        "epochs": config.epochs,
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
    }


def write_json(path, payload):
    """Writes `payload` as JSON to `path` atomically (temp file + rename)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    partial = f"{path}.partial"
    with open(partial, "w") as f:
        json.dump(payload, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(partial, path)


class Stopwatch:
    """Wall-clock seconds since construction."""

    def __init__(self):
        self.start = time.perf_counter()

    def seconds(self):
        return time.perf_counter() - self.start
