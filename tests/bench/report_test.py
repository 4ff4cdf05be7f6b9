"""bench.report turns a finished preset run into a README table row."""

import dataclasses
import json

import pytest

from bench import report


def write_metrics(path, preset="gru", **overrides):
    config = dataclasses.asdict(report.preset_config("mnist_rnn", preset))
    config["data"] = "../shared/data/mnist"  # Data may differ from a preset.
    metrics = {
        "config": config,
        "test_accuracy": 0.98765,
        "wall_seconds": 486.4,
        "resumed_from_epoch": 0,
        "data_is_fallback": False,
        "finished_at": "2026-11-23T12:00:00+00:00",
    }
    metrics.update(overrides)
    (path / "metrics.json").write_text(json.dumps(metrics))


def test_row_shows_command_accuracy_time_and_date(tmp_path):
    write_metrics(tmp_path)
    row = report.row("mnist_rnn", "gru", str(tmp_path), "test machine")
    assert row == (
        "| mnist_rnn | gru | `python -m zoo.recipes.mnist_rnn "
        "--flagfile=recipes/mnist_rnn/gru.flags --data=../shared/data/mnist` "
        "| 98.77% | 8 min 06 s | test machine | 2026-11-23 |"
    )


def test_default_preset_has_no_flagfile(tmp_path):
    write_metrics(tmp_path, preset="default", wall_seconds=59.6)
    row = report.row("mnist_rnn", "default", str(tmp_path), "m")
    assert "`python -m zoo.recipes.mnist_rnn --data=../shared/data/mnist`" in row
    assert "| 1 min 00 s |" in row


def test_a_run_with_other_settings_is_refused(tmp_path):
    write_metrics(tmp_path)
    with pytest.raises(
        report.ReportError, match=r"not the lstm preset; differs in cell='gru'"
    ):
        report.row("mnist_rnn", "lstm", str(tmp_path), "m")


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"resumed_from_epoch": 3}, "resumed run; its wall time is partial"),
        ({"data_is_fallback": True}, "trained on the offline fallback data"),
    ],
)
def test_partial_or_fallback_runs_are_refused(tmp_path, overrides, message):
    write_metrics(tmp_path, **overrides)
    with pytest.raises(report.ReportError, match=message):
        report.row("mnist_rnn", "gru", str(tmp_path), "m")


def test_tagger_rows_show_token_accuracy_and_entity_f1(tmp_path):
    config = dataclasses.asdict(report.preset_config("tagger", "bilstm_softmax"))
    metrics = {
        "config": config, "test_token_accuracy": 0.97123, "test_f1": 0.8765,
        "wall_seconds": 61.0, "finished_at": "2026-11-23T12:00:00+00:00",
    }
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    row = report.row("tagger", "bilstm_softmax", str(tmp_path), "m")
    assert "| 97.12% (entity F1 87.65%) | 1 min 01 s |" in row
    assert "--flagfile=recipes/tagger/bilstm_softmax.flags --data=conll2003`" in row


def test_a_run_without_test_accuracy_is_refused(tmp_path):
    write_metrics(tmp_path, test_accuracy=None)
    with pytest.raises(
        report.ReportError,
        match=r"holds no test_accuracy, test_token_accuracy, bleu_beam or "
              r"test_bpc",
    ):
        report.row("mnist_rnn", "gru", str(tmp_path), "m")


def test_translator_rows_show_bleu_greedy_and_beam_and_chrf(tmp_path):
    config = dataclasses.asdict(report.preset_config("translate", "none"))
    config["data"] = "pairs.tsv"
    metrics = {
        "config": config, "bleu_greedy": 10.123, "bleu_beam": 11.456,
        "chrf_greedy": 30.0, "chrf_beam": 33.33, "wall_seconds": 600.0,
        "finished_at": "2026-11-23T12:00:00+00:00",
    }
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    row = report.row("translate", "none", str(tmp_path), "m")
    assert "| BLEU 10.12 greedy, 11.46 beam 5 (chrF 33.3) | 10 min 00 s |" in row
    assert "--flagfile=recipes/translate/none.flags --data=pairs.tsv`" in row


def test_language_model_rows_show_bits_per_character_and_baselines(tmp_path):
    config = dataclasses.asdict(report.preset_config("poetry", "tang"))
    config["data"] = "poems.jsonl.gz"
    metrics = {
        "config": config, "test_bpc": 6.54321, "unigram_bpc": 9.5,
        "bigram_bpc": 7.9512, "wall_seconds": 2000.0,
        "finished_at": "2026-11-23T12:00:00+00:00",
    }
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    row = report.row("poetry", "tang", str(tmp_path), "m")
    assert ("| 6.543 bits/char (68.9% of unigram 9.500; bigram 7.951) | "
            "33 min 20 s |") in row


def test_rows_show_the_baseline_and_the_epoch_tested(tmp_path):
    config = dataclasses.asdict(report.preset_config("tagger", "bilstm_crf"))
    metrics = {
        "config": config, "test_token_accuracy": 0.97123, "test_f1": 0.8765,
        "baseline": {"name": "most frequent tag per word",
                     "token_accuracy": 0.9, "f1": 0.478},
        "best_epoch": 6, "epochs": 11,
        "wall_seconds": 61.0, "finished_at": "2026-11-23T12:00:00+00:00",
    }
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    row = report.row("tagger", "bilstm_crf", str(tmp_path), "m")
    assert ("| 97.12% (entity F1 87.65%); baseline 90.00% (entity F1 "
            "47.80%); epoch 6 of 11 | 1 min 01 s |") in row
    write_metrics(tmp_path, baseline={"name": "TF-IDF", "accuracy": 0.781})
    row = report.row("mnist_rnn", "gru", str(tmp_path), "m")
    assert "| 98.77%; baseline 78.10% | 8 min 06 s |" in row
