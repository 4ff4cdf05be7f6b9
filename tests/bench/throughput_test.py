"""bench.throughput: like-for-like models, interleaved medians, --quick."""

import json
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
from absl import app
from absl import flags

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


def test_measure_with_the_loop_reports_the_kernel_speedup():
    results = throughput.measure(
        [dict(cell="gru", bidirectional=False, masked=True, layers=1)],
        steps=1, repeats=1, batch=4, units=3, with_loop=True,
        precisions=("float32", "mixed_bfloat16"))
    float32, mixed = results
    assert float32["kernel_speedup"] == pytest.approx(
        float32["zoo_samples_per_second"] / float32["loop_samples_per_second"])
    # The compiled loop runs float32 only: no mixed loop side.
    assert mixed["kernel_speedup"] is None
    lines = throughput.table(results).splitlines()
    assert lines[0].endswith("| zoo loop samples/s | kernel speedup |")
    assert lines[3].endswith("| - | - |")


def test_measure_with_plain_compares_the_peephole_lstm_with_zoos_plain_one():
    results = throughput.measure(
        [dict(cell="peephole_lstm", bidirectional=False, masked=False,
              layers=1),
         dict(cell="lstm", bidirectional=False, masked=False, layers=1)],
        steps=1, repeats=1, batch=4, units=3, with_plain=True)
    peephole, plain = results
    assert peephole["peephole_ratio"] == pytest.approx(
        peephole["zoo_samples_per_second"]
        / peephole["plain_samples_per_second"])
    assert plain["peephole_ratio"] is None
    lines = throughput.table(results).splitlines()
    assert lines[0].endswith("| zoo plain LSTM samples/s | peephole / plain |")
    assert lines[3].endswith("| - | - |")


def test_build_passes_use_kernel_to_the_zoo_layers():
    config = dict(cell="lstm", bidirectional=True, masked=False, layers=2)
    model = throughput.build(config, True, batch=4, units=3, use_kernel=False)
    recurrent = [layer for layer in model._flatten_layers()
                 if type(layer).__name__ == "Recurrent"]
    assert len(recurrent) == 4
    assert all(layer.use_kernel is False for layer in recurrent)


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
    assert payload["precisions"] == ["float32"]
    assert payload["gemm_gflops"] > 0
    assert payload["bfloat16_gemm_gflops"] is None
    assert payload["lstm_share_of_ceiling"] > 0
    if payload["kernel"]:
        assert "| kernel speedup |" in found.stdout
        assert payload["results"][0]["kernel_speedup"] > 0


@pytest.mark.slow
def test_quick_mode_measures_each_precision(tmp_path):
    output = tmp_path / "throughput.json"
    found = subprocess.run(
        [sys.executable, "-m", "bench.throughput", "--quick",
         "--precisions=float32,mixed_bfloat16", f"--output={output}"],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )
    assert found.returncode == 0, found.stderr[-2000:]
    assert "| lstm uni unmasked 1 layer | mixed_bfloat16 |" in found.stdout
    with open(output) as f:
        payload = json.load(f)
    assert payload["precisions"] == ["float32", "mixed_bfloat16"]
    assert [r["precision"] for r in payload["results"]] == [
        "float32", "mixed_bfloat16"] * 2
    assert payload["bfloat16_gemm_gflops"] > 0


def test_the_table_has_pytorch_columns_when_measured():
    rows = [
        {"name": "lstm uni unmasked 1 layer", "zoo_samples_per_second": 200,
         "keras_samples_per_second": 100, "ratio": 2.0,
         "torch_samples_per_second": 400, "torch_ratio": 0.5},
        {"name": "peephole_lstm uni unmasked 1 layer",
         "zoo_samples_per_second": 90, "keras_samples_per_second": 100,
         "ratio": 0.9, "torch_samples_per_second": None, "torch_ratio": None},
    ]
    lines = throughput.table(rows).splitlines()
    assert lines[0].endswith("| PyTorch samples/s | zoo / PyTorch |")
    assert lines[1] == "|---|---|---|---|---|---|"
    assert lines[2] == "| lstm uni unmasked 1 layer | 200 | 100 | 2.00 | 400 | 0.50 |"
    assert lines[3].endswith("| 0.90 | - | - |")
    keras_only = {k: v for k, v in rows[0].items() if "torch" not in k}
    assert throughput.table([keras_only]).splitlines()[1] == "|---|---|---|---|"


needs_torch = pytest.mark.skipif(
    not throughput.torch_available(),
    reason="PyTorch is the optional 'bench' extra: pip install '.[bench]'")


@needs_torch
@pytest.mark.parametrize(
    "config", [c for c in throughput.configurations()
               if c["cell"] in throughput.TORCH_MODULES],
    ids=throughput.name)
def test_pytorch_models_match_the_keras_shape(config):
    import torch

    module, train_step = throughput.build_torch(config, batch=4, units=3)
    keras_ = throughput.build(config, zoo=False, batch=4, units=3)
    # PyTorch's RNN and LSTM have two bias vectors (input and recurrent)
    # where Keras has one; its GRU has two, as Keras' reset_after GRU.
    gates = {"simple_rnn": 1, "lstm": 4, "gru": 0}[config["cell"]]
    directions = 2 if config["bidirectional"] else 1
    extra = gates * 3 * config["layers"] * directions
    count = sum(p.numel() for p in module.parameters())
    assert count == keras_.count_params() + extra
    x, y = throughput.batch_data(batch=4)
    before = [p.detach().clone() for p in module.parameters()]
    train_step(x, y)
    assert all(not torch.equal(a, b)
               for a, b in zip(before, module.parameters()))
    assert module(torch.from_numpy(x)).shape == (4, throughput.CLASSES)


@needs_torch
def test_the_peephole_lstm_has_no_pytorch_twin():
    config = dict(cell="peephole_lstm", bidirectional=False, masked=False,
                  layers=1)
    assert throughput.build_torch(config, batch=4, units=3) is None


@needs_torch
def test_measure_with_pytorch_reports_its_ratio():
    configs = [dict(cell="gru", bidirectional=True, masked=True, layers=1),
               dict(cell="peephole_lstm", bidirectional=False, masked=False,
                    layers=1)]
    gru, peephole = throughput.measure(configs, steps=1, repeats=1, batch=4,
                                       units=3, with_torch=True)
    assert gru["torch_ratio"] == pytest.approx(
        gru["zoo_samples_per_second"] / gru["torch_samples_per_second"])
    assert peephole["torch_samples_per_second"] is None


def test_importing_defines_no_flags():
    # The other benchmarks have flags of the same names (--quick, ...).
    assert not flags.FLAGS.flags_by_module_dict().get(throughput.__name__)
    values = flags.FlagValues()
    throughput.define_flags(values)
    values(["throughput"])
    assert (values.quick, values.steps, values.repeats, values.output,
            values.precisions, values.cells) == (
        False, 20, 5, 'bench/results/throughput.json', ["float32"],
        list(throughput.CELLS))


def test_sides_take_turns_going_first():
    keys = [(0, "zoo"), (0, "keras"), (0, "torch"), (1, "zoo"), (1, "keras")]
    assert throughput.rotated_order(keys, 0) == keys
    assert throughput.rotated_order(keys, 1) == [
        (0, "keras"), (0, "torch"), (0, "zoo"), (1, "keras"), (1, "zoo")]
    assert throughput.rotated_order(keys, 3) == [
        (0, "zoo"), (0, "keras"), (0, "torch"), (1, "keras"), (1, "zoo")]


def test_measure_builds_each_precision_under_its_policy(monkeypatch):
    built = []
    real_build = throughput.build

    def recording_build(config, zoo, batch, units):
        model = real_build(config, zoo, batch, units)
        built.append((zoo, model.layers[-1].dtype_policy.name,
                      model.layers[-1].variable_dtype))
        return model

    monkeypatch.setattr(throughput, "build", recording_build)
    config = dict(cell="gru", bidirectional=False, masked=True, layers=1)
    results = throughput.measure([config], steps=1, repeats=1, batch=4,
                                 units=3,
                                 precisions=("float32", "mixed_bfloat16"))
    assert built == [(True, "float32", "float32"),
                     (False, "float32", "float32"),
                     (True, "mixed_bfloat16", "float32"),
                     (False, "mixed_bfloat16", "float32")]
    assert keras.config.dtype_policy().name == "float32"
    f32, bf16 = results
    assert (f32["precision"], bf16["precision"]) == (
        "float32", "mixed_bfloat16")
    assert f32["speedup"] == 1.0
    assert bf16["speedup"] == pytest.approx(
        bf16["zoo_samples_per_second"] / f32["zoo_samples_per_second"])


def test_mixed_rows_have_no_speedup_without_float32():
    config = dict(cell="lstm", bidirectional=False, masked=False, layers=1)
    (result,) = throughput.measure([config], steps=1, repeats=1, batch=4,
                                   units=3, precisions=("mixed_bfloat16",))
    assert result["precision"] == "mixed_bfloat16" and "speedup" not in result
    lines = throughput.table([result]).splitlines()
    assert lines[0] == ("| configuration | precision | zoo samples/s | "
                        "Keras samples/s | ratio |")


def test_the_table_has_precision_and_speedup_columns_when_mixed():
    rows = [
        {"name": "lstm uni unmasked 1 layer", "precision": "float32",
         "zoo_samples_per_second": 100, "keras_samples_per_second": 100,
         "ratio": 1.0, "speedup": 1.0},
        {"name": "lstm uni unmasked 1 layer", "precision": "mixed_bfloat16",
         "zoo_samples_per_second": 150, "keras_samples_per_second": 120,
         "ratio": 1.25, "speedup": 1.5},
    ]
    lines = throughput.table(rows).splitlines()
    assert lines[0] == ("| configuration | precision | zoo samples/s | "
                        "Keras samples/s | ratio | zoo / zoo float32 |")
    assert lines[3] == ("| lstm uni unmasked 1 layer | mixed_bfloat16 | 150 | "
                        "120 | 1.25 | 1.50 |")
    # float32 only: the table as before.
    assert throughput.table(rows[:1]).splitlines()[0] == (
        "| configuration | zoo samples/s | Keras samples/s | ratio |")


def test_policies_resolve_auto_and_drop_repeats(monkeypatch):
    monkeypatch.setattr(throughput.precision_lib, "cpu_flags",
                        lambda: frozenset({"avx512_bf16"}))
    monkeypatch.setattr(throughput.precision_lib, "gpu_capabilities",
                        lambda: [])
    assert throughput.policies(["float32", "auto", "mixed_bfloat16"]) == [
        "float32", "mixed_bfloat16"]
    monkeypatch.setattr(throughput.precision_lib, "cpu_flags",
                        lambda: frozenset({"avx2"}))
    assert throughput.policies(["auto"]) == ["float32"]


@pytest.mark.parametrize("precisions, message", [
    (["float32", "bf16"], "--precisions: unknown precision 'bf16'; expected "
                          "some of auto, float32, mixed_bfloat16, "
                          "mixed_float16"),
    ([], "--precisions: name at least one precision"),
])
def test_bad_precisions_are_usage_errors(precisions, message):
    with pytest.raises(app.UsageError) as raised:
        throughput.policies(precisions)
    assert str(raised.value) == message


def test_cells_keep_their_configurations_only():
    configs = throughput.configurations(cells=["gru", "lstm"])
    assert len(configs) == 2 * 2 * 2 * 2
    assert [c["cell"] for c in configs[::8]] == ["gru", "lstm"]


@pytest.mark.parametrize("argv", [["--cells=lstm,conv"], ["--cells="]])
def test_unknown_cells_are_usage_errors(argv):
    values = flags.FlagValues()
    throughput.define_flags(values)
    values(["throughput", *argv])
    with pytest.raises(app.UsageError, match=re.escape(
            "--cells must name some of simple_rnn, lstm, peephole_lstm, gru; "
            "got")):
        throughput.main(["throughput"], values)
