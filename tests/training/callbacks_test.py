"""Tests for zoo.training.callbacks: timing, padding, the NaN guard."""

import logging
import os
import signal
import threading
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo import errors
from zoo.data import pipeline
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


def _model():
    ids = keras.Input(shape=(None,), dtype="int64")
    x = keras.layers.Embedding(6, 2, mask_zero=True)(ids)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(ids, keras.layers.Dense(1)(x))
    model.compile(optimizer="sgd", loss="mse")
    return model


def _lengths(ids, targets):
    return tf.reduce_sum(tf.cast(ids != 0, tf.int32), axis=1), tf.shape(ids)[1]


def test_callbacks_in_fit(caplog):
    keras.utils.set_random_seed(0)
    counter = pipeline.PaddingCounter()
    counter.real.assign(123)  # Stale counts: reset at the epoch's start.
    batches = counter.counted(
        tf.data.Dataset.from_tensor_slices((IDS, np.zeros(4))).batch(2),
        _lengths)
    logger = callbacks.PaddingLogger(counter)
    # The absl logger's own level may have been set by earlier tests.
    with caplog.at_level(logging.INFO, logger="absl"):
        history = _model().fit(
            batches, epochs=2, verbose=0,
            validation_data=(IDS[:1], np.zeros(1)),
            callbacks=[callbacks.EpochTimer(), logger],
        )
    # Only the counted (training) batches count.
    assert history.history["padded_fraction"] == pytest.approx(
        [PADDED, PADDED]
    )
    assert int(counter.total.numpy()) == 20  # One epoch's worth.
    seconds = history.history["epoch_seconds"]
    assert len(seconds) == 2 and all(0 < s < 60 for s in seconds)
    messages = [r.getMessage() for r in caplog.records]
    assert "Epoch 1: 45.0% of positions were padding" in messages
    assert "Epoch 2: 45.0% of positions were padding" in messages


def test_padding_logger_driven_directly():
    counter = pipeline.PaddingCounter()
    logger = callbacks.PaddingLogger(counter)
    assert logger.counter is counter
    counter.real.assign(3)
    counter.total.assign(4)
    logger.on_epoch_begin(0)
    assert counter.padded_fraction() == 0.0
    assert int(counter.total.numpy()) == 0
    for _ in counter.counted(tf.data.Dataset.from_tensors((IDS, 0)),
                             _lengths):
        pass
    logs = {}
    logger.on_epoch_end(0, logs)
    assert logs == {"padded_fraction": pytest.approx(PADDED)}
    assert logs["padded_fraction"] == counter.padded_fraction()
    counter.counting = False  # As under a distribution strategy.
    logs = {}
    logger.on_epoch_end(1, logs)
    assert logs == {}


def _guard(tmp_path, checkpoints=()):
    for name in checkpoints:
        (tmp_path / name).write_bytes(b"")
    guard = callbacks.StopOnNonFiniteLoss(str(tmp_path))
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.optimizer.build(model.trainable_variables)
    model.optimizer.iterations.assign(17)
    guard.set_model(model)
    guard.on_epoch_begin(2)
    return guard


@pytest.mark.parametrize("loss", [0.5, 1e30, None])
def test_a_finite_loss_passes_the_guard(tmp_path, loss):
    guard = _guard(tmp_path)
    guard.on_train_batch_end(4, {} if loss is None else {"loss": loss})
    guard.on_train_batch_end(5, None)


@pytest.mark.parametrize("loss", [float("nan"), float("inf"), -float("inf")])
def test_a_non_finite_loss_names_the_step_and_the_checkpoint_kept(
    tmp_path, loss
):
    guard = _guard(tmp_path, ["epoch-0001.weights.h5", "epoch-0002.weights.h5"])
    kept = tmp_path / "epoch-0002.weights.h5"
    with pytest.raises(
        callbacks.NonFiniteLossError,
        match=rf"^Training stopped: the loss became {loss} at epoch 3, step 5 "
        rf"\(optimizer step 17\); the last good checkpoint, {kept} \(epoch "
        r"2\), is kept and a rerun resumes from it\. Lower --learning_rate, "
        r"set --clipnorm, or check the data for NaN\.$",
    ):
        guard.on_train_batch_end(4, {"loss": np.float32(loss)})


def test_weights_spoilt_by_an_epochs_last_step_stop_before_its_checkpoint(
    tmp_path
):
    guard = _guard(tmp_path, ["epoch-0002.weights.h5"])
    guard.on_epoch_end(2)  # Finite weights pass.
    kernel = guard.model.layers[0].kernel
    kernel.assign(np.full(kernel.shape, np.inf, "float32"))
    with pytest.raises(
        callbacks.NonFiniteLossError,
        match=r"^Training stopped: the weights became NaN or infinite in the "
        r"last step of epoch 3 \(optimizer step 17\); the last good "
        r"checkpoint, .*epoch-0002.weights.h5 \(epoch 2\), is kept",
    ):
        guard.on_epoch_end(2)


def test_a_non_finite_loss_before_any_checkpoint(tmp_path):
    guard = _guard(tmp_path)
    with pytest.raises(callbacks.NonFiniteLossError,
                       match="step 1 .*; no checkpoint had been written yet"):
        guard.on_train_batch_end(0, {"loss": float("nan")})


class _CtrlC(keras.callbacks.Callback):
    """Sends this process SIGINT at step `step` of epoch `epoch` (0-based)."""

    def __init__(self, epoch, step, times=1):
        super().__init__()
        self.epoch, self.step, self.times = epoch, step, times
        self.steps_after = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.current, batch) == (self.epoch, self.step):
            for _ in range(self.times):
                os.kill(os.getpid(), signal.SIGINT)
        elif (self.current, batch) > (self.epoch, self.step):
            self.steps_after += 1


def _fit_with(*extra):
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    data = tf.data.Dataset.from_tensor_slices(
        (np.ones((8, 1)), np.ones((8, 1)))).batch(2)
    interrupts = callbacks.StopOnInterrupt()
    with interrupts.catching():
        model.fit(data, epochs=3, verbose=0, callbacks=[interrupts, *extra])


def test_ctrl_c_stops_after_the_step_it_arrives_in():
    before = signal.getsignal(signal.SIGINT)
    ctrl_c = _CtrlC(epoch=1, step=2)
    with pytest.raises(errors.Interrupted, match=(
            r"^interrupted in epoch 2; rerun the same command to resume from "
            r"epoch 2$")) as error:
        _fit_with(ctrl_c)
    assert error.value.exit_code == 130
    assert ctrl_c.steps_after == 0  # Not one more step.
    assert signal.getsignal(signal.SIGINT) is before  # Handler restored.


def test_ctrl_c_twice_stops_at_once():
    with pytest.raises(KeyboardInterrupt):
        _fit_with(_CtrlC(epoch=0, step=1, times=2))


def test_ctrl_c_is_left_alone_outside_the_main_thread():
    interrupts, seen = callbacks.StopOnInterrupt(), []

    def worker():
        with interrupts.catching():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [signal.getsignal(signal.SIGINT)]
