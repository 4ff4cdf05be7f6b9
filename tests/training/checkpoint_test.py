"""Tests for zoo.training.checkpoint: atomic per-epoch saves and resume."""

import logging
import os

import keras
import numpy as np
import pytest

from zoo.training import checkpoint


def _model(seed):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2, name="dense")]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    return model


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(8, 3)).astype("float32"), rng.normal(
        size=(8, 2)
    ).astype("float32")


class _Snapshots(keras.callbacks.Callback):
    """Weights and optimizer iterations after every epoch."""

    def __init__(self):
        super().__init__()
        self.weights, self.iterations = {}, {}

    def on_epoch_end(self, epoch, logs=None):
        self.weights[epoch + 1] = [np.array(w) for w in self.model.get_weights()]
        self.iterations[epoch + 1] = int(self.model.optimizer.iterations)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Three epochs of 2 steps, saved with keep=2."""
    directory = str(tmp_path_factory.mktemp("ckpt") / "checkpoints")
    model, snapshots = _model(0), _Snapshots()
    x, y = _data()
    model.fit(
        x, y, batch_size=4, epochs=3, verbose=0, shuffle=False,
        callbacks=[checkpoint.EpochCheckpoint(directory, keep=2), snapshots],
    )
    return directory, snapshots


def test_keeps_the_newest_checkpoints_and_no_partial_files(trained):
    directory, _ = trained
    assert sorted(os.listdir(directory)) == [
        "epoch-0002.weights.h5",
        "epoch-0003.weights.h5",
    ]
    assert checkpoint.list_checkpoints(directory) == [
        (3, os.path.join(directory, "epoch-0003.weights.h5")),
        (2, os.path.join(directory, "epoch-0002.weights.h5")),
    ]


def test_list_checkpoints_ignores_other_files(tmp_path):
    for name in [
        "epoch-0004.weights.h5.partial.weights.h5",  # A killed write.
        "epoch-4.weights.h5",
        "model.weights.h5",
        "epoch-0001.weights.h5",
    ]:
        (tmp_path / name).write_bytes(b"")
    assert checkpoint.list_checkpoints(str(tmp_path)) == [
        (1, str(tmp_path / "epoch-0001.weights.h5"))
    ]
    assert checkpoint.list_checkpoints(str(tmp_path / "absent")) == []


def test_keep_is_at_least_one(tmp_path):
    directory = str(tmp_path / "checkpoints")
    model = _model(0)
    callback = checkpoint.EpochCheckpoint(directory, keep=0)
    callback.set_model(model)
    for epoch in range(2):
        callback.on_epoch_end(epoch)
    assert os.listdir(directory) == ["epoch-0002.weights.h5"]


def test_restore_latest_restores_weights_and_optimizer_state(trained):
    directory, snapshots = trained
    fresh = _model(1)
    assert not np.allclose(fresh.get_weights()[0], snapshots.weights[3][0])
    assert checkpoint.restore_latest(fresh, directory) == 3
    for restored, saved in zip(fresh.get_weights(), snapshots.weights[3]):
        np.testing.assert_array_equal(restored, saved)
    assert int(fresh.optimizer.iterations) == snapshots.iterations[3] == 6


def test_restore_latest_with_no_checkpoints_returns_zero(tmp_path):
    model = _model(1)
    before = model.get_weights()
    assert checkpoint.restore_latest(model, str(tmp_path)) == 0
    assert checkpoint.restore_latest(model, str(tmp_path / "absent")) == 0
    for w, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, b)


@pytest.mark.parametrize("spoil", ["garbage", "truncated", "empty"])
def test_restore_latest_skips_a_corrupt_checkpoint(
    trained, tmp_path, caplog, spoil
):
    source, snapshots = trained
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    for name in os.listdir(source):
        with open(os.path.join(source, name), "rb") as f:
            (directory / name).write_bytes(f.read())
    newest = directory / "epoch-0003.weights.h5"
    whole = newest.read_bytes()
    newest.write_bytes({
        "garbage": b"\x89HDF\r\n garbage, not a checkpoint" * 10,
        "truncated": whole[:len(whole) // 2],  # A copy cut short.
        "empty": b"",
    }[spoil])
    fresh = _model(1)
    with caplog.at_level(logging.WARNING):
        assert checkpoint.restore_latest(fresh, str(directory)) == 2
    warnings = [
        r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
    ]
    assert any(
        m.startswith(f"Skipping unreadable checkpoint {newest}") for m in warnings
    ), warnings
    for restored, saved in zip(fresh.get_weights(), snapshots.weights[2]):
        np.testing.assert_array_equal(restored, saved)
    assert int(fresh.optimizer.iterations) == snapshots.iterations[2] == 4


def test_load_epoch_loads_that_epoch_or_says_it_is_missing(trained):
    directory, snapshots = trained
    model = _model(1)
    checkpoint.load_epoch(model, directory, 2)
    for a, b in zip(model.get_weights(), snapshots.weights[2]):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(FileNotFoundError,
                       match=r"No checkpoint of epoch 1: .*epoch-0001"):
        checkpoint.load_epoch(model, directory, 1)


def test_protected_epochs_outlive_the_newest(tmp_path):
    directory = str(tmp_path / "checkpoints")
    model = _model(0)
    x, y = _data()
    model.fit(x, y, batch_size=4, epochs=4, verbose=0, shuffle=False,
              callbacks=[checkpoint.EpochCheckpoint(directory, keep=2,
                                                    protect=lambda: {1})])
    assert sorted(os.listdir(directory)) == [
        "epoch-0001.weights.h5", "epoch-0003.weights.h5",
        "epoch-0004.weights.h5"]
