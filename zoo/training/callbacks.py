"""Keras callbacks of the harness: epoch timing and padding statistics."""

import time

import keras
from absl import logging


class EpochTimer(keras.callbacks.Callback):
    """Adds `epoch_seconds` (training and validation wall time) to the logs."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._start


class PaddingLogger(keras.callbacks.Callback):
    """Logs the padded share of positions a `PaddingMonitor` saw per epoch.

    Adds `padded_fraction` to the epoch logs (so it reaches the history,
    TensorBoard and `metrics.json`) and resets the counts.

    Args:
        monitor: The model's `zoo.layers.PaddingMonitor`.
    """

    def __init__(self, monitor):
        super().__init__()
        self.monitor = monitor

    def on_epoch_begin(self, epoch, logs=None):
        self.monitor.reset()

    def on_epoch_end(self, epoch, logs=None):
        fraction = self.monitor.padded_fraction()
        logging.info("Epoch %d: %.1f%% of positions were padding", epoch + 1,
                     100 * fraction)
        if logs is not None:
            logs["padded_fraction"] = fraction
