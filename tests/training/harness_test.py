"""Tests for zoo.training.harness: optimizer, fit with resume, helpers."""

import dataclasses
import json
import logging
import os
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo import training
from zoo.training import callbacks
from zoo.training import harness


def _config(**overrides):
    return dataclasses.replace(
        training.TrainConfig(), learning_rate=0.1, **overrides
    )


def _lr(optimizer, step):
    optimizer.iterations.assign(step)
    return float(optimizer.learning_rate)


def test_make_optimizer_constant_without_decay():
    optimizer = harness.make_optimizer(_config(lr_decay=1.0), steps_per_epoch=5)
    assert isinstance(optimizer, keras.optimizers.Adam)
    assert _lr(optimizer, 0) == pytest.approx(0.1)
    assert _lr(optimizer, 50) == pytest.approx(0.1)


def test_make_optimizer_decays_once_per_epoch():
    optimizer = harness.make_optimizer(_config(lr_decay=0.5), steps_per_epoch=5)
    assert _lr(optimizer, 0) == pytest.approx(0.1)
    assert _lr(optimizer, 4) == pytest.approx(0.1)  # Staircase: flat within...
    assert _lr(optimizer, 5) == pytest.approx(0.05)  # ...and x0.5 per epoch.
    assert _lr(optimizer, 9) == pytest.approx(0.05)
    assert _lr(optimizer, 10) == pytest.approx(0.025)


def test_make_optimizer_with_zero_steps_still_decays_per_step():
    optimizer = harness.make_optimizer(_config(lr_decay=0.5), steps_per_epoch=0)
    assert _lr(optimizer, 1) == pytest.approx(0.05)


@pytest.mark.parametrize("clipnorm, expected", [(1.5, 1.5), (0.0, None)])
def test_make_optimizer_global_clipnorm(clipnorm, expected):
    optimizer = harness.make_optimizer(_config(clipnorm=clipnorm), 5)
    assert optimizer.global_clipnorm == expected
    assert optimizer.clipnorm is None


def _model(config):
    harness.set_seed(config.seed)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=harness.make_optimizer(config, 2), loss="mse")
    return model


def _dataset():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3)).astype("float32")
    y = rng.normal(size=(8, 2)).astype("float32")
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(4)


def test_fit_trains_resumes_and_stops(tmp_path, caplog):
    workdir = str(tmp_path / "run")
    data = _dataset()

    first = _model(_config(epochs=2))
    run = harness.fit(first, data, data, _config(epochs=2), workdir)
    assert run["initial_epoch"] == 0
    assert run["epochs"] == 2
    assert sorted(run["history"]) == ["epoch_seconds", "loss", "val_loss"]
    assert all(s > 0 for s in run["history"]["epoch_seconds"])
    assert len(run["history"]["loss"]) == 2
    assert all(isinstance(v, float) for v in run["history"]["loss"])
    assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == [
        "epoch-0001.weights.h5", "epoch-0002.weights.h5"
    ]
    assert os.listdir(os.path.join(workdir, "tensorboard"))

    # A new process with more epochs continues after epoch 2.
    second = _model(_config(epochs=3))
    run = harness.fit(second, data, None, _config(epochs=3), workdir)
    assert run["initial_epoch"] == 2
    assert run["epochs"] == 3
    assert sorted(run["history"]) == ["epoch_seconds", "loss"]
    assert len(run["history"]["loss"]) == 1
    assert int(second.optimizer.iterations) == 6  # 3 epochs of 2 steps.
    assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == [
        "epoch-0002.weights.h5", "epoch-0003.weights.h5"
    ]

    # Finished: nothing to train, the last weights are restored.
    third = _model(_config(epochs=3))
    with caplog.at_level(logging.WARNING):
        run = harness.fit(third, data, None, _config(epochs=3), workdir)
    assert run == {"initial_epoch": 3, "epochs": 3, "history": {}}
    assert int(third.optimizer.iterations) == 6
    for a, b in zip(third.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert any(
        "already holds a run finished after 3 epochs; not training"
        in r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING
    )


def test_fit_stops_at_a_nan_loss_and_keeps_the_last_good_checkpoint(
    tmp_path
):
    workdir = str(tmp_path / "run")
    config = _config(epochs=3)
    data = _dataset()  # Two steps an epoch.

    class SpoilSecondEpoch(keras.callbacks.Callback):
        """NaN weights at the second step of the second epoch."""

        def on_train_batch_begin(self, batch, logs=None):
            if (batch, int(self.model.optimizer.iterations)) == (1, 3):
                kernel = self.model.layers[0].kernel
                kernel.assign(np.full(kernel.shape, np.nan, "float32"))

    model = _model(config)
    with pytest.raises(callbacks.NonFiniteLossError,
                       match=r"loss became nan at epoch 2, step 2 \(optimizer "
                       r"step 4\); the last good checkpoint, .*epoch-0001"):
        harness.fit(model, data, None, config, workdir, [SpoilSecondEpoch()])
    checkpoints = os.path.join(workdir, "checkpoints")
    assert os.listdir(checkpoints) == ["epoch-0001.weights.h5"]
    # The checkpoint kept holds finite weights, and a rerun resumes there.
    resumed = _model(config)
    run = harness.fit(resumed, data, None, config, workdir)
    assert run["initial_epoch"] == 1
    assert all(np.isfinite(w).all() for w in resumed.get_weights())


def test_fit_stops_when_an_epochs_last_step_spoils_the_weights(tmp_path):
    # That step's loss was computed before its update, so it is finite.
    workdir = str(tmp_path / "run")
    config = _config(epochs=3)

    class SpoilEndOfSecondEpoch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if int(self.model.optimizer.iterations) == 4:
                kernel = self.model.layers[0].kernel
                kernel.assign(np.full(kernel.shape, np.nan, "float32"))

    with pytest.raises(callbacks.NonFiniteLossError,
                       match=r"weights became NaN or infinite in the last "
                       r"step of epoch 2 \(optimizer step 4\); the last "
                       r"good checkpoint, .*epoch-0001"):
        harness.fit(_model(config), _dataset(), None, config, workdir,
                    [SpoilEndOfSecondEpoch()])
    assert os.listdir(os.path.join(workdir, "checkpoints")) == [
        "epoch-0001.weights.h5"]
    resumed = _model(config)
    assert harness.fit(resumed, _dataset(), None, config,
                       workdir)["initial_epoch"] == 1
    assert all(np.isfinite(w).all() for w in resumed.get_weights())


def test_fit_passes_extra_callbacks(tmp_path):
    seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(epoch)

    config = _config(epochs=1)
    harness.fit(
        _model(config), _dataset(), None, config, str(tmp_path), [Record()]
    )
    assert seen == [0]


def test_write_json_is_atomic_and_valid(tmp_path):
    path = str(tmp_path / "sub" / "metrics.json")
    harness.write_json(path, {"b": 1.5, "a": [1, 2]})
    harness.write_json(path, {"accuracy": 0.25})  # Overwrites.
    with open(path) as f:
        assert json.load(f) == {"accuracy": 0.25}
    assert os.listdir(tmp_path / "sub") == ["metrics.json"]


def test_write_json_failure_keeps_the_old_file(tmp_path):
    path = str(tmp_path / "metrics.json")
    harness.write_json(path, {"ok": True})
    with pytest.raises(TypeError, match="not JSON serializable"):
        harness.write_json(path, {"bad": object()})
    with open(path) as f:
        assert json.load(f) == {"ok": True}


def test_set_seed_makes_initialisation_reproducible():
    def init(seed):
        harness.set_seed(seed)
        layer = keras.layers.Dense(3)
        layer.build((None, 2))
        return layer.get_weights()[0]

    np.testing.assert_array_equal(init(5), init(5))
    assert not np.array_equal(init(5), init(6))


def test_stopwatch_increases():
    stopwatch = harness.Stopwatch()
    first = stopwatch.seconds()
    time.sleep(0.01)
    second = stopwatch.seconds()
    assert 0 <= first < second
    assert second >= 0.01


def test_check_same_run_records_then_accepts_epochs_and_export_changes(tmp_path):
    harness.check_same_run(_config(), str(tmp_path))
    assert (tmp_path / harness.RUN_CONFIG).exists()
    harness.check_same_run(_config(epochs=50, export_dir="x"), str(tmp_path))


def test_check_same_run_rejects_other_settings(tmp_path):
    harness.check_same_run(_config(), str(tmp_path))
    with pytest.raises(
        ValueError,
        match=r"holds a run with other settings \(cell: 'lstm' -> 'gru', "
        r"units: 128 -> 7\); pass a new --workdir",
    ):
        harness.check_same_run(_config(cell="gru", units=7), str(tmp_path))


def test_check_same_run_reads_a_setting_older_runs_lack_as_its_default(
    tmp_path
):
    harness.check_same_run(_config(), str(tmp_path))
    path = tmp_path / harness.RUN_CONFIG
    recorded = json.loads(path.read_text())
    assert recorded["strategy"] == "default" and recorded["replicas"] == 1
    # As written before --strategy existed: both settings absent.
    del recorded["strategy"], recorded["replicas"]
    path.write_text(json.dumps(recorded))
    harness.check_same_run(_config(), str(tmp_path))
    with pytest.raises(ValueError, match=r"\(strategy: 'default' -> "
                       r"'mirrored'\)"):
        harness.check_same_run(_config(strategy="mirrored"), str(tmp_path))


def test_check_same_run_rejects_another_number_of_replicas(tmp_path):
    harness.check_same_run(_config(), str(tmp_path))
    path = tmp_path / harness.RUN_CONFIG
    path.write_text(json.dumps({**json.loads(path.read_text()),
                                "replicas": 2}))
    with pytest.raises(ValueError, match=r"\(replicas: 2 -> 1\)"):
        harness.check_same_run(_config(), str(tmp_path))


def test_finish_evaluates_writes_metrics_and_exports(tmp_path):
    config = _config(epochs=1, export_dir=str(tmp_path / "export"))
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse", metrics=["accuracy"])
    run = {"epochs": 1, "initial_epoch": 0,
           "history": {"val_accuracy": [0.25, 0.5]}}
    endpoints = {"serving_default": (
        lambda x: {"y": model(x)}, [tf.TensorSpec([None, 3], tf.float32)]
    )}
    metrics = harness.finish(
        model, _dataset(), run, config, str(tmp_path), harness.Stopwatch(),
        endpoints, data="tiny",
    )
    with open(tmp_path / "metrics.json") as f:
        assert json.load(f) == metrics
    assert metrics["data"] == "tiny" and metrics["validation_accuracy"] == 0.5
    assert metrics["export_path"] == str(tmp_path / "export" / "1")
    assert metrics["config"]["export_dir"] == config.export_dir
    assert metrics["wall_seconds"] > 0 and metrics["finished_at"][:2] == "20"


def test_finish_takes_the_recipes_own_evaluation(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    seen = []

    def evaluate(m, data):
        seen.append((m, data))
        return {"test_token_accuracy": 0.75}

    data = _dataset()
    history = {"val_accuracy": [0.5]}  # Keras' own: not the recipe's.
    metrics = harness.finish(
        model, data, {"epochs": 1, "initial_epoch": 0, "history": history},
        _config(epochs=1), str(tmp_path), harness.Stopwatch(), {},
        evaluate=evaluate,
    )
    (seen_model, seen_data), = seen
    assert seen_model is model
    # The same batches, set to be split among workers by data.
    policy = seen_data.options().experimental_distribute.auto_shard_policy
    assert policy == tf.data.experimental.AutoShardPolicy.DATA
    for (x, y), (seen_x, seen_y) in zip(data, seen_data, strict=True):
        np.testing.assert_array_equal(seen_x, x)
    assert metrics["test_token_accuracy"] == 0.75
    assert "test_accuracy" not in metrics and "export_path" not in metrics
    assert "validation_accuracy" not in metrics


def test_compile_classifier_takes_a_loss_and_metrics():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    harness.compile_classifier(model, _config(), train_size=4, loss=loss,
                               metrics=["mae"])
    assert model.loss is loss
    model.evaluate(np.zeros((2, 3)), np.zeros((2,)), verbose=0)
    assert "mae" in model.get_metrics_result()


def test_compile_classifier_decays_per_epoch_of_batches(tmp_path):
    config = _config(batch_size=4, lr_decay=0.5)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    harness.compile_classifier(model, config, train_size=10)  # 3 steps/epoch.
    assert _lr(model.optimizer, 2) == pytest.approx(0.1)
    assert _lr(model.optimizer, 3) == pytest.approx(0.05)
    assert model.loss == "sparse_categorical_crossentropy"


def test_records_folder_is_the_workdirs_data_folder_on_the_chief(tmp_path):
    assert training.records_folder(str(tmp_path)) == str(tmp_path / "data")
