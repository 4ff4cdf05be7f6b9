"""Model selection: the best epoch on validation, plateau cuts, early stop.

Every epoch ends with a recipe's selection metric on its validation split
(a key of the epoch logs: Keras' own `val_accuracy`, or one that a
`ValidationMetrics` callback adds, such as a tagger's `val_f1`). The
record of every epoch is kept in `<checkpoints>/selection.json`, written
atomically before that epoch's checkpoint, so that it survives a kill and
a resume; the best epoch's checkpoint is kept however old it is.

The learning rate is cut (multiplied by `--lr_decay`) each time the metric
has not improved for `--lr_patience` epochs, and training stops after
`--patience` epochs without improvement. Both count epochs of the
metric, not of the corpus: a run on 500 sentences and one on 50,000 are
cut and stopped by the same rule, whatever an epoch's number of steps.
"""

import dataclasses
import json
import math
import os

import keras
from absl import logging

from zoo import errors
from zoo import progress

SELECTION_FILE = "selection.json"


@dataclasses.dataclass(frozen=True)
class Selection:
    """Which epoch is best: a key of the epoch logs and its direction.

    Args:
        monitor: The epoch-log key of the selection metric, e.g.
            "val_accuracy".
        mode: "max" (higher is better) or "min".
        tie_break: Another epoch-log key, lower is better (by default
            "val_loss"), that decides between epochs whose metric is equal:
            an entity F1 of exactly 0 while a tagger still tags everything
            `O` is no stall while its validation loss falls. None: ties are
            no improvement.
    """

    monitor: str
    mode: str = "max"
    tie_break: str | None = "val_loss"

    def __post_init__(self):
        if self.mode not in ("max", "min"):
            raise ValueError(
                "Received an invalid value for argument `mode`, expected "
                f"'max' or 'min', got {self.mode!r}"
            )

    def score(self, record):
        """A tuple that is larger for a better epoch record."""
        value = record["value"]
        sign = 1.0 if self.mode == "max" else -1.0
        tie = record.get("tie_break")
        return (sign * value, -tie if tie is not None else 0.0)


@dataclasses.dataclass
class History:
    """The selection record of a run: one dict per finished epoch.

    Each record has `epoch` (1-based), `value` (the selection metric),
    `tie_break` (or None) and `learning_rate` (what the epoch trained at).
    """

    selection: Selection
    records: list = dataclasses.field(default_factory=list)

    @classmethod
    def load(cls, directory, selection=None, last_epoch=None):
        """The record in `directory` up to `last_epoch` (the checkpoint
        restored; None: all of it), or an empty one.

        Args:
            directory: The checkpoint folder.
            selection: The run's `Selection`; a record of another metric is
                an error. None: the recorded one (an empty history has none).
            last_epoch: Records after it are dropped.
        """
        path = os.path.join(directory, SELECTION_FILE)
        if not os.path.exists(path):
            return cls(selection)
        with open(path) as f:
            saved = json.load(f)
        if selection is None:
            selection = Selection(saved["monitor"], saved["mode"],
                                  saved.get("tie_break"))
        elif (saved.get("monitor"), saved.get("mode"),
              saved.get("tie_break")) != (selection.monitor, selection.mode,
                                          selection.tie_break):
            raise errors.WorkdirError(
                f"{path} records epochs selected by {saved.get('monitor')!r} "
                f"({saved.get('mode')}), not {selection.monitor!r} "
                f"({selection.mode}): pass a new --workdir"
            )
        records = [r for r in saved["epochs"]
                   if last_epoch is None or r["epoch"] <= last_epoch]
        return cls(selection, records)

    def save(self, directory):
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, SELECTION_FILE)
        partial = f"{path}.partial"
        with open(partial, "w") as f:
            json.dump(self.as_dict(), f, indent=2)
            f.write("\n")
        os.replace(partial, path)

    def as_dict(self):
        return {
            "monitor": self.selection.monitor,
            "mode": self.selection.mode,
            "tie_break": self.selection.tie_break,
            "best_epoch": self.best_epoch(),
            "epochs": self.records,
        }

    def best_record(self):
        """The record of the best epoch (the earliest of equals), or None
        before the first."""
        best = None
        for record in self.records:
            if best is None or (self.selection.score(record)
                                > self.selection.score(best)):
                best = record
        return best

    def best_epoch(self):
        """The 1-based best epoch, or None before the first."""
        best = self.best_record()
        return None if best is None else best["epoch"]

    def since_best(self):
        """Epochs finished after the best one."""
        best = self.best_epoch()
        return 0 if best is None else self.records[-1]["epoch"] - best

    def cuts(self, lr_patience):
        """How many times the learning rate has been cut by the end of the
        last epoch: once for every `lr_patience` epochs in a row without
        improvement (0 if `lr_patience` is 0)."""
        if not lr_patience:
            return 0
        cuts, best, stalled = 0, None, 0
        for record in self.records:
            if best is None or (self.selection.score(record)
                                > self.selection.score(best)):
                best, stalled = record, 0
            else:
                stalled += 1
                if stalled % lr_patience == 0:
                    cuts += 1
        return cuts

    def values(self):
        return [r["value"] for r in self.records]


def stop_reason(history, patience, max_epochs, done, validated=True):
    """Why a run with this history and `done` finished epochs stops now,
    or None if it goes on (`validated`: whether `patience` applies)."""
    if validated and patience and history.records and (
            history.since_best() >= patience):
        return (f"no improvement of {history.selection.monitor} for "
                f"{history.since_best()} epochs (--patience={patience}) "
                f"after epoch {history.best_epoch()}")
    if done >= max_epochs:
        return f"reached --epochs={max_epochs}"
    return None


class SelectBest(keras.callbacks.Callback):
    """Records the selection metric, cuts the learning rate, stops early.

    List it after the callbacks that add the metric to the epoch logs and
    before the `EpochCheckpoint` (whose `protect` should be
    `lambda: {history.best_epoch()}`), so a kill between the two loses
    nothing: the record of an epoch whose checkpoint is missing is
    dropped at the resume, and the epoch runs again.

    Args:
        history: The run's `History` (as loaded at the resume).
        directory: The checkpoint folder; `selection.json` goes there.
        learning_rate: The initial learning rate.
        lr_decay: What the learning rate is multiplied by at each cut
            (1 = never cut).
        lr_patience: Epochs without improvement before each cut (0, or
            `lr_decay` 1: never cut).
        patience: Epochs without improvement before training stops (0 =
            never stop early).
    """

    def __init__(self, history, directory, learning_rate, lr_decay=1.0,
                 lr_patience=0, patience=0):
        super().__init__()
        self.history = history
        self.directory = directory
        self.base_learning_rate = learning_rate
        self.lr_decay = lr_decay
        self.lr_patience = lr_patience if lr_decay < 1.0 else 0
        self.patience = patience

    def learning_rate(self):
        """The learning rate after the cuts the history calls for."""
        cuts = self.history.cuts(self.lr_patience)
        return self.base_learning_rate * self.lr_decay ** cuts

    def on_train_begin(self, logs=None):
        self.model.optimizer.learning_rate = self.learning_rate()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        monitor, tie_break = (self.history.selection.monitor,
                              self.history.selection.tie_break)
        if monitor not in logs:
            raise KeyError(
                f"The selection metric {monitor!r} is not in the epoch logs "
                f"(found {sorted(logs)}): a callback listed before "
                "SelectBest must add it"
            )
        value = float(logs[monitor])
        if not math.isfinite(value):
            value = -math.inf if self.history.selection.mode == "max" else math.inf
        tie = logs.get(tie_break) if tie_break else None
        self.history.records.append({
            "epoch": epoch + 1,
            "value": value,
            "tie_break": None if tie is None else float(tie),
            "learning_rate": float(
                keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)),
        })
        self.history.save(self.directory)
        best = self.history.best_record()
        logging.info("Epoch %d: %s %.4f (best %.4f, epoch %d)", epoch + 1,
                     monitor, value, best["value"], best["epoch"])
        if self.patience and self.history.since_best() >= self.patience:
            self.model.stop_training = True
            return
        rate = self.learning_rate()
        current = float(
            keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        if not math.isclose(rate, current, rel_tol=1e-6):
            logging.info("Epoch %d: no improvement of %s for %d epochs; "
                         "learning rate %.3g -> %.3g", epoch + 1, monitor,
                         self.history.since_best(), current, rate)
            self.model.optimizer.learning_rate = rate


class ValidationMetrics(keras.callbacks.Callback):
    """Adds metrics that Keras cannot compute in its validation pass.

    At every epoch's end, `evaluate(model)` returns a dict (such as a
    tagger's decoded `val_f1` or a language model's `val_bpc`), which is
    added to the epoch logs: the selection, the progress bar, TensorBoard
    and the history see it.

    Args:
        evaluate: `evaluate(model) -> {name: float}`.
    """

    def __init__(self, evaluate):
        super().__init__()
        self.evaluate = evaluate

    def on_epoch_end(self, epoch, logs=None):
        # Decoding the validation split can take a while: say how far.
        with progress.stretch(
                f"Epoch {epoch + 1}: scoring the validation split") as work:
            results = self.evaluate(self.model)
        logging.info("Epoch %d: %s (%.1f s).", epoch + 1, ", ".join(
            f"{k} {float(v):.4f}" for k, v in results.items()),
            work.seconds())
        if logs is not None:
            logs.update({k: float(v) for k, v in results.items()})
