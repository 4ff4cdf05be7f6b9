"""bench.layer: the layer alone against PyTorch, and each framework's step."""

import json

import pytest
from absl import app
from absl import flags

from bench import layer
from bench import throughput

needs_torch = pytest.mark.skipif(
    not throughput.torch_available(),
    reason="PyTorch is not installed (pip install '.[bench]')")


def test_importing_defines_no_flags():
    assert not flags.FLAGS.flags_by_module_dict().get(layer.__name__)
    values = flags.FlagValues()
    layer.define_flags(values)
    values(["layer"])
    assert (values.cells, values.steps, values.repeats, values.output) == (
        ["lstm", "gru"], 5, 25, "bench/results/layer.json")


def test_interleaved_alternates_the_first_side_and_drops_the_warm_up():
    calls = []
    sides = {("x", "a"): lambda: calls.append("a"),
             ("x", "b"): lambda: calls.append("b")}
    found = layer.interleaved(sides, steps=2, repeats=3)
    # Repetition 0 (warm-up) a then b, 1 b then a, 2 a then b, ...
    assert calls == ["a", "a", "b", "b", "b", "b", "a", "a",
                     "a", "a", "b", "b", "b", "b", "a", "a"]
    assert [len(v) for v in found.values()] == [3, 3]
    assert all(ms >= 0 for v in found.values() for ms in v)


def test_median_ratio_is_the_median_of_per_repetition_ratios():
    assert layer.median_ratio([2, 9, 3], [1, 3, 1]) == 3
    # Not the ratio of the medians (3 / 1).
    assert layer.median_ratio([1, 4, 9], [1, 2, 9]) == 1


def test_the_table_has_one_line_per_result():
    rows = [
        dict(name="lstm x", zoo_ms=20.0, torch_ms=22.0, layer_ratio=1.1),
        dict(name="step", keras_ms=2.0, torch_ms=0.5, step_ratio=0.25),
    ]
    lines = layer.table(rows).splitlines()
    assert lines[2] == "| lstm x | 20.00 | 22.00 | 1.100x |"
    assert lines[3] == "| step | 2.00 | 0.50 | 0.250x |"


@needs_torch
def test_measure_times_each_cell_and_the_step():
    results = layer.measure(["lstm", "gru"], steps=1, repeats=1, batch=4,
                            units=3)
    assert [r["name"].split()[0] for r in results] == ["lstm", "gru",
                                                       "training"]
    for r in results[:2]:
        assert r["layer_ratio"] == pytest.approx(r["torch_ms"] / r["zoo_ms"])
    assert results[2]["step_ratio"] == pytest.approx(
        results[2]["torch_ms"] / results[2]["keras_ms"])


@needs_torch
def test_zoo_and_torch_layers_have_the_same_weights():
    import torch

    for cell in layer.CELLS:
        module = getattr(torch.nn, throughput.TORCH_MODULES[cell])(
            throughput.INPUTS, 3, batch_first=True)
        torch_count = sum(p.numel() for p in module.parameters())
        zoo = throughput.build(dict(cell=cell, bidirectional=False,
                                    masked=False, layers=1), zoo=True,
                               batch=4, units=3)
        dense = 3 * throughput.CLASSES + throughput.CLASSES
        # PyTorch keeps two bias vectors per gate where zoo's LSTM keeps one.
        twin_bias = 4 * 3 if cell == "lstm" else 0
        assert zoo.count_params() - dense + twin_bias == torch_count


def _main(tmp_path, *argv):
    values = flags.FlagValues()
    layer.define_flags(values)
    values(["layer", f"--output={tmp_path / 'layer.json'}", *argv])
    return layer.main(["layer"], flag_values=values)


def test_an_unknown_cell_is_one_clear_line(tmp_path):
    with pytest.raises(app.UsageError, match="--cells must name some of "
                       "lstm, gru; got 'lstm,rnn'"):
        _main(tmp_path, "--cells=lstm,rnn")


def test_without_pytorch_it_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr(throughput, "torch_available", lambda: False)
    with pytest.raises(app.UsageError, match=r"pip install '\.\[bench\]'"):
        _main(tmp_path)


@needs_torch
def test_main_writes_the_table_and_json(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(layer, "measure", lambda cells, steps, repeats: [
        dict(name="lstm x", zoo_ms=1.0, torch_ms=2.0, layer_ratio=2.0)])
    _main(tmp_path, "--cells=lstm", "--steps=1", "--repeats=1")
    assert "| lstm x | 1.00 | 2.00 | 2.000x |" in capsys.readouterr().out
    with open(tmp_path / "layer.json") as f:
        payload = json.load(f)
    assert payload["results"][0]["layer_ratio"] == 2.0
    assert payload["shape"]["units"] == throughput.UNITS
