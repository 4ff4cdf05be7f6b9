"""bench.throughput: like-for-like models, interleaved medians, --quick."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from bench import throughput

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_the_full_run_covers_every_block_configuration():
    configs = throughput.configurations()
    assert len(configs) == 4 * 2 * 2 * 2
    assert {c["cell"] for c in configs} == set(throughput.CELLS)
    names = [throughput.name(c) for c in configs]
    assert len(set(names)) == len(names)
    assert "peephole_lstm bi masked 2 layers" in names


@pytest.mark.parametrize("config", throughput.configurations(),
                         ids=throughput.name)
def test_zoo_and_keras_models_are_the_same_size(config):
    zoo = throughput.build(config, zoo=True, batch=4, units=3)
    keras_ = throughput.build(config, zoo=False, batch=4, units=3)
    # The peephole LSTM has 3 peephole weights per unit and layer and
    # direction more than Keras' plain LSTM; otherwise the same weights.
    extra = 0
    if config["cell"] == "peephole_lstm":
        extra = 3 * 3 * config["layers"] * (2 if config["bidirectional"] else 1)
    assert zoo.count_params() == keras_.count_params() + extra
    x, _ = throughput.batch_data(batch=4)
    assert zoo(x).shape == keras_(x).shape == (4, throughput.CLASSES)


def test_batch_data_pads_the_end_of_rows():
    x, y = throughput.batch_data(batch=16)
    real = np.any(x != 0, axis=-1)
    lengths = real.sum(1)
    assert (lengths >= throughput.TIME // 2).all() and (y < 10).all()
    # Real steps first, then padding.
    np.testing.assert_array_equal(
        real, np.arange(throughput.TIME)[None, :] < lengths[:, None])


def test_measure_reports_medians_and_their_ratio():
    results = throughput.measure(throughput.configurations(quick=True),
                                 steps=1, repeats=2, batch=4, units=3)
    assert [r["name"] for r in results] == [
        "lstm uni unmasked 1 layer", "gru bi masked 1 layer"]
    for r in results:
        assert r["zoo_samples_per_second"] > 0
        assert r["ratio"] == pytest.approx(
            r["zoo_samples_per_second"] / r["keras_samples_per_second"])
    assert "| lstm uni unmasked 1 layer |" in throughput.table(results)


def test_lstm_flop_per_sample_at_the_mnist_shape():
    # 3 x 2 x 28 steps x 4 gates x 128 units x (28 + 128): 13.4 MFLOP.
    assert throughput.lstm_flop_per_sample() == 13_418_496


@pytest.mark.slow
def test_quick_mode_runs_and_writes_json(tmp_path):
    output = tmp_path / "out" / "throughput.json"
    found = subprocess.run(
        [sys.executable, "-m", "bench.throughput", "--quick",
         f"--output={output}"],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )
    assert found.returncode == 0, found.stderr[-2000:]
    assert "| configuration | zoo samples/s | Keras samples/s | ratio |" in (
        found.stdout)
    with open(output) as f:
        payload = json.load(f)
    assert payload["quick"] and len(payload["results"]) == 2
    assert payload["gemm_gflops"] > 0
