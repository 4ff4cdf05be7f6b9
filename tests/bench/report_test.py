"""bench.report turns a run's metrics.json into a README table row."""

import json
import os

from bench import report


def test_row_shows_command_accuracy_and_time(tmp_path):
    metrics = {
        "config": {"data": "../shared/data/mnist"},
        "test_accuracy": 0.98765,
        "wall_seconds": 486.4,
    }
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    noon_utc = 1795435200  # 2026-11-23 12:00 UTC
    os.utime(tmp_path / "metrics.json", (noon_utc, noon_utc))

    row = report.row("mnist_rnn", "gru", str(tmp_path), "test machine")

    assert row == (
        "| mnist_rnn | gru | `python -m zoo.recipes.mnist_rnn "
        "--flagfile=recipes/mnist_rnn/gru.flags --data=../shared/data/mnist` "
        "| 98.77% | 8 min 06 s | test machine | 2026-11-23 |"
    )


def test_default_preset_has_no_flagfile(tmp_path):
    metrics = {"config": {"data": "mnist"}, "test_accuracy": 0.5,
               "wall_seconds": 59.6}
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    row = report.row("mnist_rnn", "default", str(tmp_path), "m")
    assert "`python -m zoo.recipes.mnist_rnn --data=mnist`" in row
    assert "| 1 min 00 s |" in row
