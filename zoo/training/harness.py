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

from zoo import errors
from zoo import export
from zoo import progress
from zoo.data import pipeline
from zoo.training import callbacks as zoo_callbacks
from zoo.training import checkpoint
from zoo.training import distribute
from zoo.training import selection as selection_lib


def set_seed(seed):
    """Seeds Python, NumPy and TensorFlow and makes TF ops deterministic."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def make_optimizer(config):
    """Adam at `config.learning_rate` with global-norm clipping.

    The rate is constant until the selection metric stalls: `fit`'s
    `SelectBest` cuts it (`--lr_decay`, `--lr_patience`), so the schedule
    follows the validation metric, not the corpus's number of steps.
    """
    return keras.optimizers.Adam(
        config.learning_rate, global_clipnorm=config.clipnorm or None
    )


def compile_classifier(model, config, *,
                       loss="sparse_categorical_crossentropy",
                       metrics=("accuracy",)):
    """Compiles `model` with `make_optimizer(config)` and logs its summary.

    By default sparse categorical cross-entropy and accuracy, for integer
    class targets (a tagger passes its own). Under a distribution
    strategy, call it in the strategy's scope.
    """
    model.compile(
        optimizer=make_optimizer(config),
        loss=loss,
        metrics=list(metrics),
    )
    model.summary(print_fn=logging.info)


# What selects the epoch when a recipe names nothing else.
DEFAULT_SELECTION = selection_lib.Selection("val_loss", "min", tie_break=None)


def fit(model, train_data, validation_data, config, workdir, callbacks=(),
        selection=DEFAULT_SELECTION, validate=None):
    """Trains a compiled `model`, keeps its best epoch, resuming if possible.

    Every epoch ends with the selection metric on the validation split;
    the learning rate is cut when it stalls and training stops after
    `config.patience` epochs without improvement, or after
    `config.epochs` (a maximum). An epoch is one pass over `train_data`,
    or `config.steps_per_epoch` steps of it repeated. The best epoch's
    weights are in `model` when `fit` returns (without a validation split:
    the last epoch's, and the log says so). See `zoo.training.selection`.

    Checkpoints (weights and optimizer state) are written after every epoch
    to `workdir/checkpoints`, with the selection record of every epoch
    (`selection.json`); a run started again with the same workdir
    continues after the last finished epoch. TensorBoard logs go to
    `workdir/tensorboard`. A loss that becomes NaN or infinite stops
    training at once, before that epoch's checkpoint.

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
        selection: A `zoo.training.Selection`: the epoch-log key that picks
            the best epoch (by default the validation loss).
        validate: `validate(model) -> {name: value}`, called after every
            epoch when there is a validation split, for metrics Keras'
            validation pass cannot compute (such as the selection metric);
            they join the epoch logs.

    Returns:
        A dict: `initial_epoch` (epochs restored from a checkpoint),
        `epochs` (finished in total), `best_epoch` (whose weights the
        model holds), `selection` (the record of every epoch, see
        `History.as_dict`, or None without validation), `stopped` (why
        training stopped) and `history` (per-epoch logs of this run).

    Raises:
        ValueError: `workdir` holds a run with other settings or epochs
            selected by another metric, or the workers of a cluster found
            different checkpoints in it.
        KeyError: The selection metric is not in the epoch logs.
        zoo.training.callbacks.NonFiniteLossError: The loss became NaN or
            infinite (the message names the step and the checkpoint kept).
        zoo.errors.Interrupted: Ctrl-C (see `StopOnInterrupt`).
    """
    check_same_run(config, workdir)
    checkpoint_dir = os.path.join(workdir, "checkpoints")
    # Before any restoring: workers that go different ways from here run
    # different collective operations, which fail obscurely.
    newest = (checkpoint.list_checkpoints(checkpoint_dir) or [(0, None)])[0]
    distribute.check_same_epoch(newest[0], checkpoint_dir)
    initial_epoch = checkpoint.restore_latest(model, checkpoint_dir)
    validated = validation_data is not None
    history = (
        selection_lib.History.load(checkpoint_dir, selection, initial_epoch)
        if validated else selection_lib.History(selection)
    )
    stopped = selection_lib.stop_reason(history, config.patience,
                                        config.epochs, initial_epoch, validated)
    logs = {}
    if stopped is not None and initial_epoch:
        logging.warning(
            "%s already holds a run that stopped after %d epochs (%s); not "
            "training. Use a new --workdir to train from scratch.",
            workdir, initial_epoch, stopped,
        )
    elif initial_epoch < config.epochs:
        write_to = distribute.write_path(checkpoint_dir)
        chosen = []
        if validated:
            if validate is not None:
                chosen.append(selection_lib.ValidationMetrics(validate))
            chosen.append(selection_lib.SelectBest(
                history, write_to, config.learning_rate,
                lr_decay=config.lr_decay, lr_patience=config.lr_patience,
                patience=config.patience,
            ))
        writers = [checkpoint.EpochCheckpoint(
            write_to, protect=lambda: {history.best_epoch()})]
        if distribute.is_chief():
            writers.append(
                keras.callbacks.TensorBoard(os.path.join(workdir, "tensorboard")))
        if config.steps_per_epoch:
            # An epoch of steps: the data runs on into the next epoch. A
            # resumed run skips the steps of the epochs it has, so it goes
            # on where the uninterrupted run did.
            train_data = pipeline.repeat_by_epoch(train_data).skip(
                initial_epoch * config.steps_per_epoch)
        else:
            pipeline.set_epoch(initial_epoch)  # For an iterator made early.
        # Ctrl-C stops after the step it arrives in, before a checkpoint.
        interrupts = zoo_callbacks.StopOnInterrupt()
        with interrupts.catching():
            logs = model.fit(
                distribute.shard_by_worker(train_data),
                steps_per_epoch=config.steps_per_epoch or None,
                validation_data=None if validation_data is None
                else distribute.shard_by_worker(validation_data),
                epochs=config.epochs,
                initial_epoch=initial_epoch,
                callbacks=[
                    interrupts,
                    zoo_callbacks.EpochSeeds(
                        by_pass=bool(config.steps_per_epoch)),
                    # Before the checkpoint: at an epoch's end, spoilt
                    # weights must raise before they can be saved.
                    zoo_callbacks.StopOnNonFiniteLoss(checkpoint_dir),
                    # The recipe's validation metrics, then the timer: an
                    # epoch's time includes its validation.
                    *chosen[:-1],
                    zoo_callbacks.EpochTimer(),
                    # Extra callbacks before the selection and the writers:
                    # they may add to the epoch logs that these,
                    # TensorBoard and the progress bar read.
                    *callbacks,
                    *chosen[-1:],
                    *writers,
                ],
                shuffle=False,  # The datasets shuffle themselves, per epoch.
                # A progress bar on a terminal; one line per epoch in a log.
                verbose=1 if sys.stdout.isatty() else 2,
            ).history
    done = initial_epoch + len(logs.get("loss", []))
    if logs:
        stopped = selection_lib.stop_reason(
            history, config.patience, config.epochs, done, validated)
    stopped = stopped or "stopped before --epochs"
    best_epoch = history.best_epoch() if validated else None
    if best_epoch is None:
        best_epoch = done
        if not validated and done:
            logging.info("No validation split: the last epoch's weights (epoch "
                         "%d) are used.", done)
        if not validated and (config.patience or config.lr_decay < 1.0):
            logging.warning(
                "No validation split: --patience and --lr_decay have no "
                "metric to follow; training ran --epochs at a constant rate.")
    else:
        if best_epoch != done:
            # A worker other than the chief finds its own copy, if it wrote
            # one in this process, else the chief's.
            mine = distribute.write_path(checkpoint_dir)
            found = dict(checkpoint.list_checkpoints(mine))
            checkpoint.load_epoch(
                model, mine if best_epoch in found else checkpoint_dir,
                best_epoch)
        logging.info(
            "Selected epoch %d of %d: %s %.4f (%s).", best_epoch, done,
            selection.monitor, history.best_record()["value"], stopped,
        )
    return {
        "initial_epoch": initial_epoch,
        "epochs": done,
        "best_epoch": best_epoch,
        "selection": history.as_dict() if history.records else None,
        "stopped": stopped,
        "history": {k: [float(v) for v in vs] for k, vs in logs.items()},
    }


# Settings that may change between a run and its resumption.
RESUMABLE_CHANGES = ("epochs", "patience", "export_dir", "export_formats")
RUN_CONFIG = "run_config.json"


def records_folder(workdir):
    """Where a recipe writes the TFRecord files its corpus streams from:
    `<workdir>/data` (a worker other than the chief writes its own copy in
    its scratch folder, see `distribute.write_path`)."""
    return distribute.write_path(os.path.join(workdir, "data"))


def check_same_run(config, workdir):
    """Records `config` in a new workdir; in an old one, checks it matches.

    Resuming another run's checkpoints would silently mix two experiments,
    so any difference but `epochs`, `patience`, `export_dir` and
    `export_formats` is an error. Only the
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
        raise errors.WorkdirError(
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
    checkpoint_dir = os.path.join(workdir, "checkpoints")
    done = checkpoint.list_checkpoints(checkpoint_dir)
    if not done or not os.path.exists(path):
        return None
    history = selection_lib.History.load(checkpoint_dir, last_epoch=done[0][0])
    stopped = selection_lib.stop_reason(
        history, config.patience, config.epochs, done[0][0],
        validated=history.selection is not None)
    if stopped is None:
        return None
    logging.warning(
        "%s holds a run that stopped after %d epochs (%s); returning its "
        "metrics. Use a new --workdir to train again.", workdir, done[0][0],
        stopped,
    )
    with open(path) as f:
        return json.load(f)


def evaluate_classifier(model, test_data):
    """Test loss and accuracy of a model compiled with an accuracy metric."""
    test_loss, test_accuracy = model.evaluate(
        test_data, verbose=0, callbacks=[progress.Counter()])
    return {"test_accuracy": float(test_accuracy), "test_loss": float(test_loss)}


def finish(model, test_data, run, config, workdir, stopwatch, endpoints,
           evaluate=evaluate_classifier, track=(), baseline=None,
           portable=None, **extra):
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
        portable: A `zoo.export.Portable`, written beside the SavedModel
            in the portable formats of `config.export_formats`.
        baseline: What a classical baseline fit on the same training split
            scores on the same test split (`zoo.baselines`): a dict with
            `name` and metrics named like the test metrics without their
            `test_` prefix; written as `baseline` and logged beside the
            test metrics. None: no baseline.
        **extra: More entries for the metrics (data source and the like).

    Under a distribution strategy every worker evaluates and exports, but
    only the chief's export and metrics are kept (see
    `zoo.training.distribute.write_path`).

    Returns:
        The metrics written: those of `evaluate`, `epochs` (finished),
        `best_epoch` (tested and exported), `stopped` (why training
        stopped), `selection` (the selection metric of every epoch, None
        without validation), `resumed_from_epoch`, `validation_<metric>`
        (the best epoch's selection metric, if validated), `baseline`
        (if given),
        `export_path` (if exported), `wall_seconds`, `finished_at`, the
        config and `extra`.
    """
    if isinstance(test_data, tf.data.Dataset):
        test_data = distribute.shard_by_worker(test_data)
    with progress.stretch(
            f"Scoring the test split with epoch {run['best_epoch']}'s weights"):
        test_metrics = evaluate(model, test_data)
    metrics = {
        **test_metrics,
        **({"baseline": baseline} if baseline else {}),
        "epochs": run["epochs"],
        "best_epoch": run["best_epoch"],
        "stopped": run["stopped"],
        "selection": run["selection"],
        "resumed_from_epoch": run["initial_epoch"],
        **extra,
        "config": dataclasses.asdict(config),
    }
    if run["selection"]:
        # The metric of the epoch whose weights are tested and exported.
        best = next(r for r in run["selection"]["epochs"]
                    if r["epoch"] == run["best_epoch"])
        metrics["validation_" + run["selection"]["monitor"].removeprefix(
            "val_")] = best["value"]
    if config.export_dir:
        formats = export.check_formats(config.export_formats.split(","))
        with progress.stretch(
                f"Exporting the SavedModel to {config.export_dir}"
                + "".join(f", {f}" for f in formats)):
            path = export.export_saved_model(
                model, endpoints, distribute.write_path(config.export_dir),
                track=track, portable=portable, formats=formats,
            )
        if distribute.is_chief():  # Another worker's is deleted at its exit.
            metrics["export_path"] = path
    metrics["wall_seconds"] = stopwatch.seconds()
    now = datetime.datetime.now(datetime.timezone.utc)
    metrics["finished_at"] = now.isoformat(timespec="seconds")
    if distribute.is_chief():
        write_json(os.path.join(workdir, "metrics.json"), metrics)
    logging.info("%s in %.0f s%s", _numbers(test_metrics),
                 metrics["wall_seconds"], _beside(baseline, test_metrics))
    return metrics


def _numbers(found):
    """`name value, ...` of the real numbers in the dict `found`."""
    return ", ".join(
        f"{k} {v:.4f}" for k, v in found.items()
        if isinstance(v, numbers.Real) and not isinstance(v, bool))


def _beside(baseline, test_metrics):
    """`; baseline (name): ...` with the baseline's numbers that the test
    metrics also have, or "" without a baseline."""
    if not baseline:
        return ""
    if "error" in baseline:
        return f"; no baseline ({baseline['name']}): {baseline['error']}"
    shared = {k: v for k, v in baseline.items()
              if f"test_{k}" in test_metrics}
    return f"; baseline ({baseline['name']}): {_numbers(shared)}"


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
