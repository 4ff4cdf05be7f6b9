"""Tests for zoo.training.selection: the record, cuts, stops, callbacks."""

import json
import logging
import math
import re

import keras
import numpy as np
import pytest

from zoo.training import selection


def _history(values, ties=None, mode="max", tie_break="val_loss"):
    ties = ties or [None] * len(values)
    return selection.History(
        selection.Selection("val_f1", mode, tie_break),
        [{"epoch": i + 1, "value": v, "tie_break": t, "learning_rate": 0.1}
         for i, (v, t) in enumerate(zip(values, ties))],
    )


def test_a_mode_other_than_max_or_min_is_rejected():
    with pytest.raises(ValueError, match=r"argument `mode`, expected 'max' or "
                       r"'min', got 'up'"):
        selection.Selection("val_f1", "up")


@pytest.mark.parametrize("values, mode, best", [
    ([0.1, 0.9, 0.3], "max", 2),
    ([0.1, 0.9, 0.3], "min", 1),
    ([0.5, 0.5, 0.4], "max", 1),  # The earliest of equals.
    ([], "max", None),
])
def test_best_epoch(values, mode, best):
    assert _history(values, mode=mode).best_epoch() == best


def test_equal_metrics_go_to_the_lower_tie_break():
    # An entity F1 of 0 while everything is tagged O, the loss falling.
    history = _history([0.0, 0.0, 0.0], ties=[3.0, 2.0, 2.5])
    assert history.best_epoch() == 2 and history.since_best() == 1


@pytest.mark.parametrize("values, lr_patience, cuts", [
    ([0.1, 0.2, 0.3], 1, 0),           # Always improving.
    ([0.5, 0.4, 0.3, 0.2], 1, 3),      # A cut after every stalled epoch.
    ([0.5, 0.4, 0.3, 0.2, 0.1], 2, 2),  # After every second one.
    ([0.5, 0.4, 0.6, 0.5], 2, 0),      # The stall counter restarts.
    ([0.5, 0.4, 0.3], 0, 0),           # Never.
])
def test_cuts(values, lr_patience, cuts):
    assert _history(values).cuts(lr_patience) == cuts


def test_stop_reasons():
    history = _history([0.1, 0.9, 0.3, 0.2])
    assert selection.stop_reason(history, 2, 10, 4) == (
        "no improvement of val_f1 for 2 epochs (--patience=2) after epoch 2")
    assert selection.stop_reason(history, 3, 10, 4) is None
    assert selection.stop_reason(history, 0, 10, 4) is None
    assert selection.stop_reason(history, 3, 4, 4) == "reached --epochs=4"
    # Without validation, patience does not apply.
    assert selection.stop_reason(history, 2, 10, 4, validated=False) is None


def test_the_record_round_trips_and_is_cut_at_the_restored_epoch(tmp_path):
    history = _history([0.1, 0.9, 0.3])
    history.save(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["selection.json"]
    saved = json.loads((tmp_path / "selection.json").read_text())
    assert saved["best_epoch"] == 2 and saved["monitor"] == "val_f1"
    loaded = selection.History.load(str(tmp_path), history.selection, 2)
    assert loaded.values() == [0.1, 0.9]
    # Without a selection: the recorded one.
    assert selection.History.load(str(tmp_path)).selection == history.selection
    # No record: an empty history.
    empty = selection.History.load(str(tmp_path / "none"), history.selection)
    assert empty.records == [] and empty.best_epoch() is None


def test_a_record_of_another_metric_is_an_error(tmp_path):
    _history([0.1]).save(str(tmp_path))
    with pytest.raises(ValueError, match=r"selection.json records epochs "
                       r"selected by 'val_f1' \(max\), not 'val_accuracy' "
                       r"\(max\): pass a new --workdir"):
        selection.History.load(str(tmp_path),
                               selection.Selection("val_accuracy"), 1)
    # The same metric the other way round is another selection too.
    with pytest.raises(ValueError, match=r"'val_f1' \(max\), not 'val_f1' "
                       r"\(min\)"):
        selection.History.load(str(tmp_path),
                               selection.Selection("val_f1", "min"), 1)


def _model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="mse")
    return model


def _fit(model, callbacks, epochs=1):
    x = np.zeros((4, 2), "float32")
    model.fit(x, x[:, :1], epochs=epochs, verbose=0, callbacks=callbacks)


def test_select_best_names_a_missing_metric(tmp_path):
    history = selection.History(selection.Selection("val_f1"))
    with pytest.raises(KeyError, match=r"The selection metric 'val_f1' is not "
                       r"in the epoch logs \(found \['loss'\]\): a callback "
                       r"listed before SelectBest must add it"):
        _fit(_model(), [selection.SelectBest(history, str(tmp_path), 0.1)])


def test_select_best_records_a_non_finite_metric_as_the_worst(tmp_path):
    history = selection.History(selection.Selection("val_f1",
                                                    tie_break=None))
    metrics = selection.ValidationMetrics(lambda model: {"val_f1": math.nan})
    _fit(_model(), [metrics, selection.SelectBest(history, str(tmp_path), 0.1)])
    assert history.values() == [-math.inf]


def test_validation_metrics_say_when_they_start_and_what_they_found(caplog):
    metrics = selection.ValidationMetrics(lambda m: {"val_f1": 0.25})
    with caplog.at_level(logging.INFO, logger="absl"):
        metrics.on_epoch_end(2, {})
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "Epoch 3: scoring the validation split."
    assert re.fullmatch(r"Epoch 3: val_f1 0\.2500 \(\d+\.\d s\)\.",
                        messages[1])


def test_validation_metrics_join_the_epoch_logs():
    seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(dict(logs))

    model = _model()
    metrics = selection.ValidationMetrics(
        lambda m: {"val_f1": 0.5 if m is model else -1})
    _fit(model, [metrics, Record()], epochs=2)
    assert [logs["val_f1"] for logs in seen] == [0.5, 0.5]


def test_select_best_stops_and_cuts(tmp_path):
    values = iter([0.5, 0.4, 0.3, 0.2])
    history = selection.History(selection.Selection("val_f1",
                                                    tie_break=None))
    metrics = selection.ValidationMetrics(lambda m: {"val_f1": next(values)})
    model = _model()
    best = selection.SelectBest(history, str(tmp_path), 0.1, lr_decay=0.5,
                                lr_patience=1, patience=3)
    _fit(model, [metrics, best], epochs=10)
    assert history.values() == [0.5, 0.4, 0.3, 0.2]  # Stopped after 4.
    assert [r["learning_rate"] for r in history.records] == pytest.approx(
        [0.1, 0.1, 0.05, 0.025])
