"""Keras callbacks of the harness: epoch timing, padding, a NaN guard,
Ctrl-C, and randomness that a resumed run repeats."""

import contextlib
import math
import signal
import threading
import time

import keras
import numpy as np
from absl import logging

from zoo import errors
from zoo.data import pipeline
from zoo.training import checkpoint


class EpochTimer(keras.callbacks.Callback):
    """Adds `epoch_seconds` (training and validation wall time) to the logs."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._start


class PaddingLogger(keras.callbacks.Callback):
    """Logs the padded share of the positions of each epoch's training
    batches, as a `zoo.data.pipeline.PaddingCounter` counted them.

    Adds `padded_fraction` to the epoch logs (so it reaches the history,
    TensorBoard and `metrics.json`) and resets the counts; nothing when the
    counter did not count (a distribution strategy).

    Args:
        counter: The `PaddingCounter` of the training batches.
    """

    def __init__(self, counter):
        super().__init__()
        self.counter = counter

    def on_epoch_begin(self, epoch, logs=None):
        self.counter.reset()

    def on_epoch_end(self, epoch, logs=None):
        fraction = self.counter.padded_fraction()
        if fraction is None:
            return
        logging.info("Epoch %d: %.1f%% of positions were padding", epoch + 1,
                     100 * fraction)
        if logs is not None:
            logs["padded_fraction"] = fraction


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite."""


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raises `NonFiniteLossError` at the first step whose loss is not finite.

    Keras' `TerminateOnNaN` lets the epoch end, and so an epoch-end
    checkpoint would save the spoilt weights over the last good ones;
    raising stops `fit` before that. A step's loss is computed before its
    update, so the last update of an epoch could spoil the weights with a
    finite loss: at the end of each epoch the weights themselves are
    checked too (list this callback before the checkpoint's). The message
    names the epoch, the step in it and the optimizer step, and the newest
    checkpoint kept in `checkpoint_dir`, which a rerun resumes from.

    Args:
        checkpoint_dir: Where the run's `EpochCheckpoint` writes, or None.
    """

    def __init__(self, checkpoint_dir=None):
        super().__init__()
        self.checkpoint_dir = checkpoint_dir
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self._stop(f"the loss became {float(loss)} at epoch "
                       f"{self._epoch + 1}, step {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        if not all(np.isfinite(w).all() for w in self.model.get_weights()):
            self._stop(f"the weights became NaN or infinite in the last step "
                       f"of epoch {epoch + 1}")

    def _stop(self, what):
        kept = checkpoint.list_checkpoints(self.checkpoint_dir or "")
        if kept:
            where = (f"the last good checkpoint, {kept[0][1]} (epoch "
                     f"{kept[0][0]}), is kept and a rerun resumes from it")
        else:
            where = "no checkpoint had been written yet"
        raise NonFiniteLossError(
            f"Training stopped: {what} (optimizer step "
            f"{int(self.model.optimizer.iterations.numpy())}); {where}. Lower "
            "--learning_rate, set --clipnorm, or check the data for NaN."
        )


class StopOnInterrupt(keras.callbacks.Callback):
    """Ctrl-C stops training after the step it arrives in, cleanly.

    Inside `with callback.catching():`, SIGINT only sets a flag; the next
    batch end (of a training or validation step) or epoch start raises
    `zoo.errors.Interrupted`, before the epoch's checkpoint is written, so
    the workdir holds whole epochs only and a rerun resumes from the
    interrupted epoch. A second Ctrl-C raises `KeyboardInterrupt` at once.
    Outside the main thread (where signals cannot be caught) Ctrl-C is
    left as it is.
    """

    def __init__(self):
        super().__init__()
        self._epoch = 0
        self._requested = False

    def _handle(self, signum, frame):
        if self._requested:  # Asked twice: stop now, whatever is running.
            raise KeyboardInterrupt
        self._requested = True
        logging.warning("Interrupted: stopping after this step (Ctrl-C again "
                        "to stop at once).")

    @contextlib.contextmanager
    def catching(self):
        """SIGINT sets the flag for the `with` block (in the main thread)."""
        self._requested = False
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGINT, self._handle)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _check(self):
        if self._requested:
            epoch = self._epoch + 1
            raise errors.Interrupted(
                f"interrupted in epoch {epoch}; rerun the same command to "
                f"resume from epoch {epoch}")

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._check()

    def on_train_batch_end(self, batch, logs=None):
        self._check()

    def on_test_batch_end(self, batch, logs=None):
        self._check()


# Draws a seed generator makes in one epoch, at most: an epoch starts its
# stream at `epoch * EPOCH_DRAWS` (a step draws once per dropout layer).
EPOCH_DRAWS = 1 << 24


class EpochSeeds(keras.callbacks.Callback):
    """Each epoch's randomness is a function of the run's seed and the
    epoch, so a run resumed at epoch `k` trains epoch `k` as an
    uninterrupted run does.

    As each epoch begins: passes over `zoo.data.pipeline.shuffled`
    datasets take the epoch's order (`pipeline.set_epoch`; not with
    `by_pass`, where `pipeline.repeat_by_epoch` numbers the passes of
    epochs of a fixed number of steps), and every Keras seed generator of
    the model (dropout masks) restarts its stream at the epoch's place,
    `[its seed, epoch * EPOCH_DRAWS]`.
    """

    def __init__(self, by_pass=False):
        super().__init__()
        self.by_pass = by_pass

    def on_epoch_begin(self, epoch, logs=None):
        if not self.by_pass:
            pipeline.set_epoch(epoch)
        for state in self.model.variables:
            if state.path.endswith("seed_generator_state"):
                seed = int(np.asarray(state.value)[0])
                state.assign(np.array([seed, epoch * EPOCH_DRAWS],
                                      dtype=state.dtype))
