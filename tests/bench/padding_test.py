"""bench.padding: skewed lengths, same batches, same training, --quick."""

import collections
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from absl import app
from absl import flags

from bench import padding

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def examples_of(batches):
    """Multiset of (real tokens, label) rows of `(x, y)` batches."""
    return collections.Counter(
        (tuple(int(t) for t in row if t), int(label))
        for x, y in batches for row, label in zip(x, y))


def test_lengths_are_skewed_and_within_bounds():
    lengths = padding.sequence_lengths(1000, seed=0)
    assert lengths[:8].tolist() == [14, 11, 23, 14, 8, 18, 45, 31]
    assert lengths.min() == 1 and lengths.max() == padding.MAX_LENGTH
    # Most sequences short, a long tail: the mean is well above the median.
    assert np.median(lengths) == 12 and lengths.mean() == pytest.approx(18.743)
    assert np.mean(lengths <= 20) == pytest.approx(0.714)
    short = padding.sequence_lengths(1000, max_length=30, seed=0)
    assert short.min() == 1 and short.max() == 30
    assert not np.array_equal(padding.sequence_lengths(8, seed=1),
                              lengths[:8])


def test_labels_follow_the_tokens():
    sequences, labels = padding.make_data(200)
    assert [len(s) for s in sequences] == padding.sequence_lengths(200).tolist()
    assert all(s.min() >= 1 and s.max() < padding.VOCAB for s in sequences)
    for s, label in zip(sequences, labels):
        positive = np.sum(s < padding.VOCAB // 2)
        assert label == (positive > len(s) - positive)
    assert 0.3 < labels.mean() < 0.7


def test_padded_fraction_of_a_hand_made_example():
    y = np.array([0, 1])
    batches = [(np.array([[1, 2, 0], [3, 0, 0]]), y),  # 3 of 6 padded.
               (np.array([[4, 5]]), y[:1])]  # 0 of 2 padded.
    assert padding.padded_fraction(batches) == 3 / 8
    padded = padding.pad_batches(batches, 4)
    # 3 rows x 4 steps, 5 real tokens: 7 of 12 padded.
    assert padding.padded_fraction(padded) == 7 / 12
    np.testing.assert_array_equal(padded[1][0], [[4, 5, 0, 0]])


def test_padding_to_less_than_a_batch_is_rejected():
    batches = [(np.array([[1, 2, 3]]), np.array([0]))]
    with pytest.raises(ValueError, match=r"Cannot pad a batch of 3 steps "
                       r"to 2: `length` must be at least the longest batch"):
        padding.pad_batches(batches, 2)


def test_bucketed_and_max_length_pipelines_hold_the_same_batches():
    sequences, labels = padding.make_data(300)
    longest = max(len(s) for s in sequences)
    bucketed = padding.bucketed_batches(sequences, labels, batch_size=16)
    padded = padding.pad_batches(bucketed, longest)
    assert len(bucketed) == len(padded)
    for (x, y), (x_max, y_max) in zip(bucketed, padded):
        steps = x.shape[1]
        assert x_max.shape == (len(x), longest)
        np.testing.assert_array_equal(y_max, y)
        np.testing.assert_array_equal(x_max[:, :steps], x)
        assert not x_max[:, steps:].any()
        # Each bucketed batch is padded to its own longest row.
        assert (x != 0).sum(1).max() == steps
    everything = collections.Counter(
        (tuple(s.tolist()), int(y)) for s, y in zip(sequences, labels))
    assert examples_of(bucketed) == examples_of(padded) == everything
    tokens = sum(len(s) for s in sequences)
    assert padding.padded_fraction(padded) == 1 - tokens / (300 * longest)
    assert padding.padded_fraction(bucketed) < 0.2


def test_random_batches_hold_every_example_once_at_the_longest():
    sequences, labels = padding.make_data(50)
    batches = padding.random_batches(sequences, labels, 210, batch_size=16)
    assert [len(x) for x, _ in batches] == [16, 16, 16, 2]
    assert all(x.shape[1] == 210 for x, _ in batches)
    bucketed = padding.bucketed_batches(sequences, labels, batch_size=16)
    assert examples_of(batches) == examples_of(bucketed)


def test_training_on_either_padding_gives_the_same_model():
    sequences, labels = padding.make_data(60)
    bucketed = padding.bucketed_batches(sequences, labels, batch_size=8)[:2]
    padded = padding.pad_batches(bucketed, padding.MAX_LENGTH)
    a = padding.build(units=4)
    b = padding.build(units=4, seed=1)
    before = a.get_weights()
    b.set_weights(before)
    metrics_a = padding.train_epoch(a, bucketed)
    metrics_b = padding.train_epoch(b, padded)
    assert set(metrics_a) == {"loss", "accuracy"}
    for name in metrics_a:
        assert metrics_a[name] == pytest.approx(metrics_b[name], abs=1e-5)
    assert padding.max_weight_difference(a, b) < 1e-5
    # Every weight moved (the padding row of the embedding need not).
    for old, new in zip(before, a.get_weights()):
        assert not np.array_equal(old, new)


def test_train_epoch_averages_over_rows():
    class Fake:
        def __init__(self):
            self.calls = iter([{"loss": 1.0, "accuracy": 0.5},
                               {"loss": 4.0, "accuracy": 1.0}])

        def train_on_batch(self, x, y, return_dict):
            return next(self.calls)

    batches = [(np.ones((3, 2)), np.zeros(3)), (np.ones((1, 5)), np.zeros(1))]
    assert padding.train_epoch(Fake(), batches) == {
        "loss": (3 * 1.0 + 4.0) / 4, "accuracy": (3 * 0.5 + 1.0) / 4}


def test_measure_reports_medians_fractions_and_differences():
    result = padding.measure(examples=40, repeats=1, units=4, batch_size=8)
    assert result["epochs"] == 2 and result["lengths"]["max"] <= 200
    pipelines = result["pipelines"]
    assert set(pipelines) == set(padding.PIPELINES)
    for r in pipelines.values():
        assert len(r["epoch_seconds"]) == 1 and r["median_epoch_seconds"] > 0
        assert 0 < r["padded_fraction"] < 1 and r["loss"] > 0
    assert result["speedup"] == pytest.approx(
        pipelines["max_length"]["median_epoch_seconds"]
        / pipelines["bucketed"]["median_epoch_seconds"])
    assert pipelines["bucketed"]["speedup_of_bucketing"] == 1
    assert (pipelines["max_length"]["padded_fraction"]
            == pipelines["random"]["padded_fraction"]
            > pipelines["bucketed"]["padded_fraction"])
    assert pipelines["max_length"]["batches"] == pipelines["bucketed"]["batches"]
    assert all(d < 1e-5 for d in result["max_abs_difference"].values())
    lines = padding.table(result).splitlines()
    assert lines[0].startswith("| pipeline | batches | padded fraction |")
    assert len(lines) == 2 + len(padding.PIPELINES)
    assert "faster epochs" in padding.summary(result)
    assert "Against random batches" in padding.summary(result)


def test_positional_arguments_are_rejected():
    with pytest.raises(app.UsageError, match=r"Unexpected arguments: "
                       r"\['extra'\]"):
        padding.main(["padding", "extra"])


def test_importing_defines_no_flags():
    # The other benchmarks have flags of the same names (--quick, ...).
    assert not flags.FLAGS.flags_by_module_dict().get(padding.__name__)
    values = flags.FlagValues()
    padding.define_flags(values)
    values(["padding"])
    assert (values.quick, values.examples, values.repeats, values.output) == (
        False, 4000, 5, "bench/results/padding.json")


@pytest.mark.parametrize("name", ["examples", "repeats"])
def test_counts_must_be_positive(name):
    values = flags.FlagValues()
    padding.define_flags(values)
    with pytest.raises(flags.IllegalFlagValueError,
                       match=f"flag --{name}=0: 0 is not a positive integer"):
        values(["padding", f"--{name}=0"])


@pytest.mark.slow
def test_quick_mode_runs_and_writes_json(tmp_path):
    output = tmp_path / "out" / "padding.json"
    found = subprocess.run(
        [sys.executable, "-m", "bench.padding", "--quick",
         f"--output={output}"],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )
    assert found.returncode == 0, found.stderr[-2000:]
    assert "| pipeline | batches | padded fraction |" in found.stdout
    with open(output) as f:
        payload = json.load(f)
    assert payload["quick"] and payload["examples"] == 300
    assert set(payload) >= {"lengths", "pipelines", "speedup",
                            "max_abs_difference", "bucketing_seconds"}
    assert payload["speedup"] > 0 and payload["bucketing_seconds"] > 0
    for r in payload["pipelines"].values():
        assert r["median_epoch_seconds"] > 0 and r["batches"] > 0
