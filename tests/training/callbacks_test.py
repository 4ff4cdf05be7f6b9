"""Tests for zoo.training.callbacks: EpochTimer and PaddingLogger."""

import logging
import types

import keras
import numpy as np
import pytest

from zoo.layers import PaddingMonitor
from zoo.training import callbacks

# Ids [4, 5]: 0 is padding, 9 of 20 positions.
IDS = np.array(
    [[1, 2, 3, 4, 5], [2, 2, 0, 0, 0], [3, 1, 4, 0, 0], [5, 0, 0, 0, 0]]
)
PADDED = 9 / 20


def test_epoch_timer_adds_the_wall_time_of_an_epoch(monkeypatch):
    now = iter([100.0, 102.5])
    monkeypatch.setattr(
        callbacks, "time", types.SimpleNamespace(perf_counter=lambda: next(now))
    )
    timer = callbacks.EpochTimer()
    logs = {"loss": 1.0}
    timer.on_epoch_begin(0)
    timer.on_epoch_end(0, logs)
    assert logs == {"loss": 1.0, "epoch_seconds": 2.5}
    timer.on_epoch_end(0, None)  # No logs: nothing to add to, no error.


def _model(monitor):
    ids = keras.Input(shape=(None,), dtype="int64")
    x = keras.layers.Embedding(6, 2, mask_zero=True)(ids)
    x = monitor(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(ids, keras.layers.Dense(1)(x))
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_callbacks_in_fit(caplog):
    keras.utils.set_random_seed(0)
    monitor = PaddingMonitor(name="padding_monitor")
    model = _model(monitor)
    monitor.real.assign(123.0)  # Stale counts: reset at the epoch's start.
    logger = callbacks.PaddingLogger(monitor)
    # The absl logger's own level may have been set by earlier tests.
    with caplog.at_level(logging.INFO, logger="absl"):
        history = model.fit(
            IDS, np.zeros(4), batch_size=2, epochs=2, verbose=0,
            validation_data=(IDS[:1], np.zeros(1)),
            callbacks=[callbacks.EpochTimer(), logger],
        )
    # Validation steps (training=False) are not counted.
    assert history.history["padded_fraction"] == pytest.approx(
        [PADDED, PADDED]
    )
    assert float(monitor.total.numpy()) == 20.0  # One epoch's worth.
    seconds = history.history["epoch_seconds"]
    assert len(seconds) == 2 and all(0 < s < 60 for s in seconds)
    messages = [r.getMessage() for r in caplog.records]
    assert "Epoch 1: 45.0% of positions were padding" in messages
    assert "Epoch 2: 45.0% of positions were padding" in messages


def test_padding_logger_driven_directly():
    monitor = PaddingMonitor()
    logger = callbacks.PaddingLogger(monitor)
    assert logger.monitor is monitor
    monitor.real.assign(3.0)
    monitor.total.assign(4.0)
    logger.on_epoch_begin(0)
    assert monitor.padded_fraction() == 0.0
    assert float(monitor.total.numpy()) == 0.0
    mask = IDS != 0
    monitor(np.zeros(IDS.shape + (2,), "float32"), mask=mask, training=True)
    logs = {}
    logger.on_epoch_end(0, logs)
    assert logs == {"padded_fraction": pytest.approx(PADDED)}
    assert logs["padded_fraction"] == monitor.padded_fraction()
