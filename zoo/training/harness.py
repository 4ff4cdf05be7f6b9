"""The one training loop every recipe uses: seed, optimizer, fit, resume."""

import dataclasses
import datetime
import json
import numbers
import os
import sys
import time

import keras
import tensorflow as tf
from absl import logging

from zoo import export
from zoo.training import callbacks as zoo_callbacks
from zoo.training import checkpoint
from zoo.training import distribute


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


def compile_classifier(model, config, train_size,
                       loss="sparse_categorical_crossentropy",
                       metrics=("accuracy",)):
    """Compiles `model` and logs its summary.

    `make_optimizer` with `train_size` examples per epoch in batches of
    `config.batch_size`; by default sparse categorical cross-entropy and
    accuracy, for integer class targets (a tagger passes its own). Under
    a distribution strategy, call it in the strategy's scope: an epoch has
    fewer, larger steps (`zoo.training.distribute.global_batch_size`).
    """
    batch_size = distribute.global_batch_size(config)
    steps_per_epoch = -(-train_size // batch_size)  # Ceiling.
    model.compile(
        optimizer=make_optimizer(config, steps_per_epoch),
        loss=loss,
        metrics=list(metrics),
    )
    model.summary(print_fn=logging.info)


def fit(model, train_data, validation_data, config, workdir, callbacks=()):
    """Trains a compiled `model` for `config.epochs`, resuming if possible.

    Checkpoints (weights and optimizer state) are written after every epoch
    to `workdir/checkpoints`; a run started again with the same workdir
    continues after the last finished epoch and stops at `config.epochs`.
    TensorBoard logs go to `workdir/tensorboard`. A loss that becomes NaN
    or infinite stops training at once, before that epoch's checkpoint.

    Under a distribution strategy (call `fit` in its scope) the datasets
    are split among workers, and only the chief's checkpoints and logs
    are kept; every worker restores from the chief's.

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

    Raises:
        ValueError: `workdir` holds a run with other settings, or the
            workers of a cluster found different checkpoints in it.
        zoo.training.callbacks.NonFiniteLossError: The loss became NaN or
            infinite (the message names the step and the checkpoint kept).
    """
    check_same_run(config, workdir)
    checkpoint_dir = os.path.join(workdir, "checkpoints")
    # Before any restoring: workers that go different ways from here run
    # different collective operations, which fail obscurely.
    newest = (checkpoint.list_checkpoints(checkpoint_dir) or [(0, None)])[0]
    distribute.check_same_epoch(newest[0], checkpoint_dir)
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
    writers = [checkpoint.EpochCheckpoint(distribute.write_path(checkpoint_dir))]
    if distribute.is_chief():
        writers.append(
            keras.callbacks.TensorBoard(os.path.join(workdir, "tensorboard")))
    history = model.fit(
        distribute.shard_by_worker(train_data),
        validation_data=None if validation_data is None
        else distribute.shard_by_worker(validation_data),
        epochs=config.epochs,
        initial_epoch=initial_epoch,
        callbacks=[
            # Before the checkpoint: at an epoch's end, spoilt weights
            # must raise before they can be saved.
            zoo_callbacks.StopOnNonFiniteLoss(checkpoint_dir),
            # Extra callbacks first: they may add to the epoch logs that the
            # TensorBoard writer and the progress bar report.
            zoo_callbacks.EpochTimer(),
            *callbacks,
            *writers,
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


# Settings that may change between a run and its resumption.
RESUMABLE_CHANGES = ("epochs", "export_dir")
RUN_CONFIG = "run_config.json"


def records_folder(workdir):
    """Where a recipe writes the TFRecord files its corpus streams from:
    `<workdir>/data` (a worker other than the chief writes its own copy in
    its scratch folder, see `distribute.write_path`)."""
    return distribute.write_path(os.path.join(workdir, "data"))


def check_same_run(config, workdir):
    """Records `config` in a new workdir; in an old one, checks it matches.

    Resuming another run's checkpoints would silently mix two experiments,
    so any difference but `epochs` and `export_dir` is an error. Only the
    chief of a cluster records (the others check what it recorded).
    """
    settings = {
        k: v for k, v in dataclasses.asdict(config).items()
        if k not in RESUMABLE_CHANGES
    }
    # The global batch, and so every step, depends on the replicas too.
    settings["replicas"] = distribute.num_replicas()
    # What a run recorded before a setting existed had its default.
    defaults = {f.name: f.default for f in dataclasses.fields(config)}
    defaults["replicas"] = 1
    path = os.path.join(workdir, RUN_CONFIG)
    if not os.path.exists(path):
        if distribute.is_chief():
            write_json(path, settings)
        return
    with open(path) as f:
        recorded = json.load(f)
    def value(found, key):
        return found.get(key, defaults.get(key))

    differences = sorted(
        k for k in set(settings) | set(recorded)
        if value(settings, k) != value(recorded, k)
    )
    if differences:
        changes = ", ".join(
            f"{k}: {value(recorded, k)!r} -> {value(settings, k)!r}"
            for k in differences
        )
        raise ValueError(
            f"{workdir} holds a run with other settings ({changes}); pass a "
            "new --workdir, or the same settings to resume it"
        )


def finished_result(config, workdir):
    """The metrics of a run in `workdir` that already finished, or None.

    A recipe calls this first, so a command rerun on a finished workdir
    neither trains, nor exports a duplicate, nor overwrites its metrics.

    Raises:
        ValueError: `workdir` holds a run with other settings.
    """
    check_same_run(config, workdir)
    path = os.path.join(workdir, "metrics.json")
    done = checkpoint.list_checkpoints(os.path.join(workdir, "checkpoints"))
    if not done or done[0][0] < config.epochs or not os.path.exists(path):
        return None
    logging.warning(
        "%s holds a run that finished %d epochs; returning its metrics. "
        "Use a new --workdir to train again.", workdir, done[0][0]
    )
    with open(path) as f:
        return json.load(f)


def evaluate_classifier(model, test_data):
    """Test loss and accuracy of a model compiled with an accuracy metric."""
    test_loss, test_accuracy = model.evaluate(test_data, verbose=0)
    return {"test_accuracy": float(test_accuracy), "test_loss": float(test_loss)}


def finish(model, test_data, run, config, workdir, stopwatch, endpoints,
           evaluate=evaluate_classifier, track=(), **extra):
    """Evaluates, exports and writes `<workdir>/metrics.json`: a run's end.

    Args:
        model: The trained model.
        test_data: The test split as batches.
        run: What `fit` returned.
        config: The run's config; exported when `config.export_dir` is set.
        workdir: The run's folder.
        stopwatch: A `Stopwatch` started when the run began.
        endpoints: `zoo.export.export_saved_model` endpoints.
        evaluate: `evaluate(model, test_data)` -> dict of test metrics.
            Default: `evaluate_classifier` (`test_accuracy`, `test_loss`).
        track: Layers outside `model` that the endpoints use, exported
            with it (see `zoo.export.export_saved_model`).
        **extra: More entries for the metrics (data source and the like).

    Under a distribution strategy every worker evaluates and exports, but
    only the chief's export and metrics are kept (see
    `zoo.training.distribute.write_path`).

    Returns:
        The metrics written: those of `evaluate`, `epochs`,
        `resumed_from_epoch`, `validation_accuracy` (if validated, with the
        default `evaluate`),
        `export_path` (if exported), `wall_seconds`, `finished_at`, the
        config and `extra`.
    """
    if isinstance(test_data, tf.data.Dataset):
        test_data = distribute.shard_by_worker(test_data)
    test_metrics = evaluate(model, test_data)
    metrics = {
        **test_metrics,
        "epochs": run["epochs"],
        "resumed_from_epoch": run["initial_epoch"],
        **extra,
        "config": dataclasses.asdict(config),
    }
    # Keras' own validation accuracy means what `evaluate_classifier`'s
    # does; a recipe with its own evaluation reports its own (in `extra`).
    if evaluate is evaluate_classifier and run["history"].get("val_accuracy"):
        metrics["validation_accuracy"] = run["history"]["val_accuracy"][-1]
    if config.export_dir:
        path = export.export_saved_model(
            model, endpoints, distribute.write_path(config.export_dir),
            track=track,
        )
        if distribute.is_chief():  # Another worker's is deleted at its exit.
            metrics["export_path"] = path
    metrics["wall_seconds"] = stopwatch.seconds()
    now = datetime.datetime.now(datetime.timezone.utc)
    metrics["finished_at"] = now.isoformat(timespec="seconds")
    if distribute.is_chief():
        write_json(os.path.join(workdir, "metrics.json"), metrics)
    numeric = {k: v for k, v in test_metrics.items()
               if isinstance(v, numbers.Real) and not isinstance(v, bool)}
    logging.info(
        "%s in %.0f s",
        ", ".join(f"{k} {v:.4f}" for k, v in numeric.items()),
        metrics["wall_seconds"],
    )
    return metrics


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
