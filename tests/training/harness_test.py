"""Tests for zoo.training.harness: optimizer, fit with resume, helpers."""

import dataclasses
import json
import logging
import os
import signal
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo import errors
from zoo import training
from zoo.data import pipeline
from zoo.training import callbacks
from zoo.training import checkpoint
from zoo.training import harness


def _config(**overrides):
    return dataclasses.replace(
        training.TrainConfig(), learning_rate=0.1, **overrides
    )


def _lr(optimizer, step):
    optimizer.iterations.assign(step)
    return float(optimizer.learning_rate)


def test_make_optimizer_is_adam_at_a_constant_rate():
    # Cuts come from the selection (SelectBest), not from the step count.
    optimizer = harness.make_optimizer(_config(lr_decay=0.5))
    assert isinstance(optimizer, keras.optimizers.Adam)
    assert _lr(optimizer, 0) == pytest.approx(0.1)
    assert _lr(optimizer, 5000) == pytest.approx(0.1)


@pytest.mark.parametrize("clipnorm, expected", [(1.5, 1.5), (0.0, None)])
def test_make_optimizer_global_clipnorm(clipnorm, expected):
    optimizer = harness.make_optimizer(_config(clipnorm=clipnorm))
    assert optimizer.global_clipnorm == expected
    assert optimizer.clipnorm is None


def _model(config, hidden=list):
    harness.set_seed(config.seed)  # Before any layer draws its seed.
    model = keras.Sequential([keras.Input((3,)), *hidden(),
                              keras.layers.Dense(2)])
    model.compile(optimizer=harness.make_optimizer(config), loss="mse")
    return model


def _examples(count, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(count, 3)).astype("float32")
    y = rng.normal(size=(count, 2)).astype("float32")
    return tf.data.Dataset.from_tensor_slices((x, y))


def _dataset():
    return _examples(8, 0).batch(4)


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
        "epoch-0001.weights.h5", "epoch-0002.weights.h5", "selection.json"
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
        "epoch-0002.weights.h5", "epoch-0003.weights.h5", "selection.json"
    ]

    # Finished: nothing to train, the last weights are restored.
    third = _model(_config(epochs=3))
    with caplog.at_level(logging.WARNING):
        run = harness.fit(third, data, None, _config(epochs=3), workdir)
    assert run == {"initial_epoch": 3, "epochs": 3, "best_epoch": 3,
                   "selection": None, "stopped": "reached --epochs=3",
                   "history": {}}
    assert int(third.optimizer.iterations) == 6
    for a, b in zip(third.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert any(
        "already holds a run that stopped after 3 epochs (reached "
        "--epochs=3); not training" in r.getMessage()
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
    run = {"epochs": 2, "initial_epoch": 0, "best_epoch": 1,
           "stopped": "reached --epochs=2",
           "selection": {"monitor": "val_accuracy", "epochs": [
               {"epoch": 1, "value": 0.5}, {"epoch": 2, "value": 0.25}]},
           "history": {"val_accuracy": [0.5, 0.25]}}
    endpoints = {"serving_default": (
        lambda x: {"y": model(x)}, [tf.TensorSpec([None, 3], tf.float32)]
    )}
    metrics = harness.finish(
        model, _dataset(), run, config, str(tmp_path), harness.Stopwatch(),
        endpoints, data="tiny",
    )
    with open(tmp_path / "metrics.json") as f:
        assert json.load(f) == metrics
    # The best epoch's metric, not the last's.
    assert metrics["data"] == "tiny" and metrics["validation_accuracy"] == 0.5
    assert metrics["best_epoch"] == 1 and metrics["epochs"] == 2
    assert metrics["stopped"] == "reached --epochs=2"
    assert metrics["selection"] == run["selection"]
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
    history = {"val_accuracy": [0.5]}  # Unvalidated: no selection.
    run = {"epochs": 1, "initial_epoch": 0, "best_epoch": 1,
           "stopped": "reached --epochs=1", "selection": None,
           "history": history}
    metrics = harness.finish(
        model, data, run,
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
    harness.compile_classifier(model, _config(), loss=loss, metrics=["mae"])
    assert model.loss is loss
    model.evaluate(np.zeros((2, 3)), np.zeros((2,)), verbose=0)
    assert "mae" in model.get_metrics_result()


def test_records_folder_is_the_workdirs_data_folder_on_the_chief(tmp_path):
    assert training.records_folder(str(tmp_path)) == str(tmp_path / "data")


# Model selection through `fit`: a made-up validation metric per epoch.
_SCORES = [0.1, 0.9, 0.3, 0.2, 0.95, 0.99]
_SCORE = training.Selection("val_score", "max", tie_break=None)


def _scored(epochs, patience=2, **overrides):
    return _config(epochs=epochs, patience=patience, **overrides)


def _validate(model):
    # The epoch just finished, from the optimizer's step count (2 a epoch).
    return {"val_score": _SCORES[int(model.optimizer.iterations) // 2 - 1]}


class _Snapshots(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = {}

    def on_epoch_end(self, epoch, logs=None):
        self.weights[epoch + 1] = [np.array(w) for w in self.model.get_weights()]


def _assert_weights(model, expected):
    for a, b in zip(model.get_weights(), expected, strict=True):
        np.testing.assert_array_equal(a, b)


def test_fit_keeps_the_best_epoch_and_stops_after_patience(tmp_path, caplog):
    workdir, data = str(tmp_path / "run"), _dataset()
    config = _scored(epochs=6, patience=2)
    model, snapshots = _model(config), _Snapshots()
    with caplog.at_level(logging.INFO, logger="absl"):
        run = harness.fit(model, data, data, config, workdir, [snapshots],
                          selection=_SCORE, validate=_validate)
    # Best at epoch 2, then two epochs without improvement: stop after 4.
    assert run["epochs"] == 4 and run["best_epoch"] == 2
    assert run["stopped"] == ("no improvement of val_score for 2 epochs "
                              "(--patience=2) after epoch 2")
    assert [r["value"] for r in run["selection"]["epochs"]] == _SCORES[:4]
    assert run["selection"]["best_epoch"] == 2
    assert run["history"]["val_score"] == pytest.approx(_SCORES[:4])
    _assert_weights(model, snapshots.weights[2])
    # The best epoch's checkpoint outlives the two newest.
    assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == [
        "epoch-0002.weights.h5", "epoch-0003.weights.h5",
        "epoch-0004.weights.h5", "selection.json"]
    assert any("Selected epoch 2 of 4: val_score 0.9000" in r.getMessage()
               for r in caplog.records)


def test_the_best_epoch_survives_a_kill_and_a_resume(tmp_path, monkeypatch):
    workdir, data = str(tmp_path / "run"), _dataset()
    config = _scored(epochs=6, patience=2)
    # One uninterrupted run: best at epoch 2, stopped after epoch 4.
    whole, snapshots = _model(config), _Snapshots()
    harness.fit(whole, data, data, config, str(tmp_path / "whole"),
                [snapshots], selection=_SCORE, validate=_validate)

    # The process dies in epoch 4's checkpoint, after its selection record
    # (epochs 2 and 3 are on disk, and epoch 2 is the best).
    real = checkpoint.EpochCheckpoint.on_epoch_end

    def die_at_epoch_4(self, epoch, logs=None):
        if epoch == 3:
            raise KeyboardInterrupt
        real(self, epoch, logs)

    monkeypatch.setattr(checkpoint.EpochCheckpoint, "on_epoch_end",
                        die_at_epoch_4)
    with pytest.raises(KeyboardInterrupt):
        harness.fit(_model(config), data, data, config, workdir,
                    selection=_SCORE, validate=_validate)
    monkeypatch.setattr(checkpoint.EpochCheckpoint, "on_epoch_end", real)
    with open(os.path.join(workdir, "checkpoints", "selection.json")) as f:
        assert [r["epoch"] for r in json.load(f)["epochs"]] == [1, 2, 3, 4]

    # The rerun drops epoch 4's record (its checkpoint is missing), trains
    # it again, stops where the uninterrupted run stopped, and holds the
    # best epoch's weights, loaded from its checkpoint.
    resumed = _model(config)
    run = harness.fit(resumed, data, data, config, workdir,
                      selection=_SCORE, validate=_validate)
    assert run["initial_epoch"] == 3
    assert [r["epoch"] for r in run["selection"]["epochs"]] == [1, 2, 3, 4]
    assert run["best_epoch"] == 2 and run["epochs"] == 4
    _assert_weights(resumed, snapshots.weights[2])
    assert not np.array_equal(snapshots.weights[2][0], snapshots.weights[4][0])

    # Run again when finished: no training, the best weights.
    again = _model(config)
    run = harness.fit(again, data, data, config, workdir, selection=_SCORE,
                      validate=_validate)
    assert run["initial_epoch"] == 4 and run["history"] == {}
    _assert_weights(again, snapshots.weights[2])


def test_a_resumed_run_keeps_its_earlier_best_epoch(tmp_path):
    workdir, data = str(tmp_path / "run"), _dataset()
    model, snapshots = _model(_scored(epochs=3)), _Snapshots()
    harness.fit(model, data, data, _scored(epochs=3), workdir, [snapshots],
                selection=_SCORE, validate=_validate)
    resumed = _model(_scored(epochs=4))
    run = harness.fit(resumed, data, data, _scored(epochs=4), workdir,
                      selection=_SCORE, validate=_validate)
    assert run["initial_epoch"] == 3 and run["best_epoch"] == 2
    _assert_weights(resumed, snapshots.weights[2])
    # A finished run is returned by finished_result only with its metrics.
    harness.write_json(os.path.join(workdir, "metrics.json"), {"done": 1})
    assert harness.finished_result(_scored(epochs=4), workdir) == {"done": 1}
    # More patience: epoch 4 was the second without improvement of three.
    assert harness.finished_result(_scored(epochs=9, patience=3),
                                   workdir) is None


def test_the_learning_rate_is_cut_when_the_metric_stalls(tmp_path):
    workdir, data = str(tmp_path / "run"), _dataset()
    # Epoch 3 does not improve on epoch 2: patience 1 stops there, before
    # the cut it calls for is applied.
    config = _scored(epochs=6, patience=1, lr_decay=0.5, lr_patience=1)
    run = harness.fit(_model(config), data, data, config, workdir,
                      selection=_SCORE, validate=_validate)
    assert run["epochs"] == 3
    assert [r["learning_rate"] for r in run["selection"]["epochs"]] == (
        pytest.approx([0.1, 0.1, 0.1]))
    # Resumed with more patience, epoch 4 trains at the rate the record
    # calls for (the checkpoint holds the uncut one), epoch 5 at a quarter.
    more = _scored(epochs=5, patience=0, lr_decay=0.5, lr_patience=1)
    run = harness.fit(_model(more), data, data, more, workdir,
                      selection=_SCORE, validate=_validate)
    assert [r["learning_rate"] for r in run["selection"]["epochs"]] == (
        pytest.approx([0.1, 0.1, 0.1, 0.05, 0.025]))


def test_without_validation_the_last_epoch_is_used(tmp_path, caplog):
    config = _scored(epochs=2)
    model, snapshots = _model(config), _Snapshots()
    called = []
    with caplog.at_level(logging.INFO, logger="absl"):
        run = harness.fit(model, _dataset(), None, config, str(tmp_path),
                          [snapshots], selection=_SCORE,
                          validate=lambda m: called.append(m) or {})
    assert called == []
    assert run["best_epoch"] == 2 and run["selection"] is None
    assert run["stopped"] == "reached --epochs=2"
    _assert_weights(model, snapshots.weights[2])
    assert any("No validation split: the last epoch's weights (epoch 2) are "
               "used" in r.getMessage() for r in caplog.records)
    # Patience had nothing to follow: said, not silently dropped.
    assert any("No validation split: --patience and --lr_decay have no "
               "metric to follow" in r.getMessage() for r in caplog.records)


def test_no_epochs_with_validation_finishes_without_a_selection(tmp_path):
    config = _scored(epochs=0)
    model = _model(config)
    run = harness.fit(model, _dataset(), _dataset(), config, str(tmp_path),
                      selection=_SCORE, validate=_validate)
    assert (run["epochs"], run["best_epoch"], run["selection"]) == (0, 0, None)
    metrics = harness.finish(
        model, _dataset(), run, config, str(tmp_path), harness.Stopwatch(),
        {}, evaluate=lambda m, data: {"test_x": 1.0})
    assert metrics["best_epoch"] == 0 and "validation_score" not in metrics


def test_an_epoch_of_steps_runs_on_through_the_data(tmp_path):
    # Two batches of data, three steps an epoch: the data repeats.
    config = _config(epochs=2, steps_per_epoch=3)
    model = _model(config)
    run = harness.fit(model, _dataset(), None, config, str(tmp_path))
    assert run["epochs"] == 2 and int(model.optimizer.iterations) == 6


def test_finish_writes_and_logs_the_baseline_beside_the_result(tmp_path,
                                                               caplog):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    run = {"epochs": 1, "initial_epoch": 0, "best_epoch": 1,
           "stopped": "reached --epochs=1", "selection": None, "history": {}}
    baseline = {"name": "most frequent tag", "f1": 0.25, "fit_seconds": 0.1}
    with caplog.at_level(logging.INFO, logger="absl"):
        metrics = harness.finish(
            model, _dataset(), run, _config(epochs=1), str(tmp_path),
            harness.Stopwatch(), {},
            evaluate=lambda m, data: {"test_f1": 0.5}, baseline=baseline)
    assert metrics["baseline"] == baseline
    line, = [r.getMessage() for r in caplog.records
             if r.getMessage().startswith("test_f1")]
    assert line.endswith("; baseline (most frequent tag): f1 0.2500")
    assert line.startswith("test_f1 0.5000 in ")
    # A baseline that could not be fit says why.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="absl"):
        harness.finish(
            model, _dataset(), run, _config(epochs=1), str(tmp_path),
            harness.Stopwatch(), {},
            evaluate=lambda m, data: {"test_f1": 0.5},
            baseline={"name": "TF-IDF", "error": "one class only"})
    assert any(r.getMessage().endswith("; no baseline (TF-IDF): one class "
                                       "only") for r in caplog.records)


class _CtrlCAt(keras.callbacks.Callback):
    """Sends this process SIGINT before step `step` of epoch `epoch`."""

    def __init__(self, epoch, step):
        super().__init__()
        self.epoch, self.step = epoch, step

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.current, batch) == (self.epoch, self.step):
            os.kill(os.getpid(), signal.SIGINT)


def _noisy_model(config):
    """A model with dropout, so a resume must restore its random stream."""
    return _model(config, lambda: [keras.layers.Dense(8, "relu"),
                                   keras.layers.Dropout(0.5)])


def _shuffled_data():
    return pipeline.batches(_examples(24, 1), 4, shuffle=True, seed=3,
                            buffer=24)


@pytest.mark.parametrize("steps_per_epoch", [0, 4])
def test_a_run_stopped_and_resumed_trains_as_an_uninterrupted_one(
        tmp_path, steps_per_epoch):
    config = _config(epochs=4, steps_per_epoch=steps_per_epoch)
    whole = _noisy_model(config)
    harness.fit(whole, _shuffled_data(), None, config, str(tmp_path / "a"))

    workdir = str(tmp_path / "b")
    with pytest.raises(errors.Interrupted, match="interrupted in epoch 3"):
        harness.fit(_noisy_model(config), _shuffled_data(), None, config,
                    workdir, [_CtrlCAt(epoch=2, step=1)])
    assert checkpoint.list_checkpoints(os.path.join(workdir, "checkpoints"))[
        0][0] == 2  # Epoch 3 left no checkpoint.
    resumed = _noisy_model(config)
    run = harness.fit(resumed, _shuffled_data(), None, config, workdir)
    assert run["initial_epoch"] == 2 and run["epochs"] == 4
    _assert_weights(resumed, whole.get_weights())


def test_epochs_differ_in_order_and_dropout(tmp_path):
    # The seeds per epoch must not make every epoch the same epoch.
    config = dataclasses.replace(_config(epochs=2), learning_rate=0.0)
    model, orders = _noisy_model(config), []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            orders.append(logs["loss"])

    harness.fit(model, _shuffled_data(), None, config, str(tmp_path),
                [Record()])
    assert orders[0] != orders[1]  # Same weights (lr 0), other batches.
