"""Per-epoch checkpoints that survive a kill, and resume from them."""

import os
import re

import keras
from absl import logging

_NAME = "epoch-{:04d}.weights.h5"
_PATTERN = re.compile(r"^epoch-(\d{4})\.weights\.h5$")


def list_checkpoints(directory):
    """`(epoch, path)` of every finished checkpoint, newest first."""
    if not os.path.isdir(directory):
        return []
    found = []
    for name in os.listdir(directory):
        match = _PATTERN.match(name)
        if match:
            found.append((int(match.group(1)), os.path.join(directory, name)))
    return sorted(found, reverse=True)


def restore_latest(model, directory):
    """Loads the newest loadable checkpoint into `model` (and its optimizer).

    A checkpoint that fails to load (corrupt or truncated) is skipped with
    a warning and the previous one is tried.

    The optimizer's slots are made first, checkpoint or not: their values
    must exist to be loaded, and under a multi-worker strategy every
    worker must make them at the same point (making variables is a
    collective operation).

    Returns:
        The number of finished epochs restored (0 if none).
    """
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    for epoch, path in list_checkpoints(directory):
        try:
            model.load_weights(path)
        except Exception as error:  # h5py raises several types.
            logging.warning("Skipping unreadable checkpoint %s: %s", path, error)
            continue
        logging.info("Resuming after epoch %d from %s", epoch, path)
        return epoch
    return 0


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves model and optimizer state after every epoch, atomically.

    Each checkpoint is written to a temporary name and renamed into place,
    so a process killed mid-write leaves the previous checkpoints intact.
    The epoch is part of the file name; `keep` newest files are kept, and
    those of the epochs `protect()` names (the best epoch so far).

    Args:
        directory: Folder for the checkpoints.
        keep: How many checkpoints to keep (at least 1).
        protect: A callable returning the epochs (1-based) whose
            checkpoints are kept however old, or None.
    """

    def __init__(self, directory, keep=2, protect=None):
        super().__init__()
        self.directory = directory
        self.keep = max(1, int(keep))
        self.protect = protect

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.directory, exist_ok=True)
        path = os.path.join(self.directory, _NAME.format(epoch + 1))
        partial = path + ".partial.weights.h5"
        self.model.save_weights(partial, overwrite=True)
        os.replace(partial, path)
        kept = set(self.protect()) if self.protect else set()
        for number, old in list_checkpoints(self.directory)[self.keep :]:
            if number not in kept:
                os.remove(old)


def load_epoch(model, directory, epoch):
    """Loads the weights of epoch `epoch`'s checkpoint into `model`.

    Raises:
        FileNotFoundError: There is no checkpoint of that epoch.
    """
    path = os.path.join(directory, _NAME.format(epoch))
    if not os.path.exists(path):
        raise FileNotFoundError(f"No checkpoint of epoch {epoch}: {path}")
    model.load_weights(path)
