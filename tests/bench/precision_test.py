"""bench.precision: the commands, the interleaving, the summary, a run."""

import importlib
import json
import os
import subprocess
import sys

import pytest
from absl import app
from absl import flags

from bench import memory
from bench import precision
from zoo.training import flags as zoo_flags

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_command_adds_only_the_measured_settings():
    assert precision.command("poetry", "mixed_bfloat16", "d.gz", "w", 3,
                             150)[1:] == [
        "-m", "zoo.recipes.poetry", "--data=d.gz", "--workdir=w",
        "--export_dir=", "--precision=mixed_bfloat16", "--epochs=3",
        "--steps_per_epoch=150"]
    assert precision.command("tagger", "float32", "d", "w", 2)[-1] == (
        "--epochs=2")


def test_a_loop_variant_runs_its_precision_with_the_kernels_off(
        tmp_path, monkeypatch):
    assert precision.split_variant("float32:loop") == ("float32", True)
    assert precision.split_variant("float32") == ("float32", False)
    assert precision.command("tagger", "float32:loop", "d", "w", 2)[-2] == (
        "--precision=float32")
    # The child sees ZOO_KERNELS=0 with loop=True only.
    seen = tmp_path / "w"
    line = [sys.executable, "-c",
            "import json, os, sys; os.makedirs(sys.argv[1], exist_ok=True); "
            "json.dump({'env': os.environ.get('ZOO_KERNELS')}, "
            "open(os.path.join(sys.argv[1], 'metrics.json'), 'w'))",
            str(seen)]
    assert precision.run(line, str(seen), loop=True) == {"env": "0"}
    # Not inherited from the bench's own environment either.
    monkeypatch.setenv("ZOO_KERNELS", "0")
    assert precision.run(line, str(seen)) == {"env": None}


@pytest.mark.parametrize("recipe", sorted(precision.DATA))
def test_commands_parse_as_the_recipes_own_flags(recipe):
    module = importlib.import_module(f"zoo.recipes.{recipe}")
    values = flags.FlagValues()
    zoo_flags.define_flags(module.Config, values)
    values(["prog", *precision.command(recipe, "auto", "d", "w", 2, 5)[3:]])
    assert values["precision"].value == "auto"
    assert values["steps_per_epoch"].value == 5


def test_orders_turn_so_that_no_precision_always_runs_first():
    assert precision.orders(["a", "b"], 3) == [["a", "b"], ["b", "a"],
                                                ["a", "b"]]
    assert precision.orders(["a", "b", "c"], 2) == [["a", "b", "c"],
                                                     ["b", "c", "a"]]


def _run(r, name, seconds, result=1.0):
    return {"round": r, "precision": name, "epoch_seconds": seconds,
            "result": result}


def test_summarise_leaves_out_first_epochs_and_pairs_rounds():
    runs = [_run(0, "f", [100, 10, 12]), _run(0, "b", [90, 5, 6], 2.0),
            _run(1, "b", [90, 8, 8], 3.0), _run(1, "f", [100, 8, 8])]
    rows = precision.summarise("poetry", runs, ["f", "b"])
    assert rows[0] == {"recipe": "poetry", "precision": "f",
                       "median_epoch_seconds": 9.0, "speed": 1.0,
                       "median_round_speed": 1.0, "results": [1.0, 1.0]}
    # b: epochs 5, 6, 8, 8 (median 7); rounds 11/5.5 = 2 and 8/8 = 1.
    assert rows[1]["median_epoch_seconds"] == 7.0
    assert rows[1]["speed"] == pytest.approx(9 / 7)
    assert rows[1]["median_round_speed"] == pytest.approx(1.5)
    assert rows[1]["results"] == [2.0, 3.0]


def test_summarise_needs_two_epochs_a_run():
    with pytest.raises(ValueError, match=r"tagger \(f\) ran 1 epoch\(s\); "
                       "the first traces the model"):
        precision.summarise("tagger", [_run(0, "f", [3.0])], ["f"])


def test_table_has_a_row_per_recipe_and_precision():
    rows = [{"recipe": "poetry", "precision": "float32",
             "median_epoch_seconds": 100.0, "speed": 1.0,
             "median_round_speed": 1.0, "results": [6.79, None]}]
    assert precision.table(rows).splitlines()[2] == (
        "| poetry | float32 | 100.0 | 1.00x | 1.00x | 6.79, - |")


def test_run_reports_a_failed_command(tmp_path):
    with pytest.raises(RuntimeError, match=r"(?s)failed:\n.*ZeroDivisionError"):
        precision.run([sys.executable, "-c", "1 / 0"], str(tmp_path / "w"))


def _values(*argv):
    values = flags.FlagValues()
    precision.define_flags(values)
    values(["prog", *argv])
    return values


def test_main_rejects_unknown_recipes():
    with pytest.raises(app.UsageError, match=r"--recipes must name some of "
                       r"poetry, translate, .*got \['nope'\]"):
        precision.main(["prog"], _values("--recipes=nope"))


def test_main_rejects_unknown_precisions():
    with pytest.raises(app.UsageError, match=r"--precisions must name some "
                       r"of auto, float32, mixed_bfloat16, mixed_float16, got "
                       r"\['float32', 'half'\]"):
        precision.main(["prog"], _values("--precisions=float32,half"))


def test_main_accepts_loop_variants_of_known_precisions(tmp_path):
    with pytest.raises(app.UsageError, match=r"got \['half:loop'\]"):
        precision.main(["prog"], _values("--precisions=half:loop"))
    with pytest.raises(app.UsageError, match="tagger: no development data"):
        precision.main(["prog"], _values(
            "--recipes=tagger", "--precisions=float32:loop,float32",
            f"--shared={tmp_path}"))


def test_main_says_where_the_data_is_missing(tmp_path):
    with pytest.raises(app.UsageError, match="tagger: no development data at "
                       f"{tmp_path}/brown_names"):
        precision.main(["prog"], _values("--recipes=tagger",
                                         f"--shared={tmp_path}"))


def test_importing_defines_no_flags():
    assert "rounds" not in flags.FLAGS


@pytest.mark.slow
def test_run_of_two_rounds_writes_a_table_and_json(tmp_path):
    memory.write_corpus(str(tmp_path / "mnist"), train=256, test=64)
    output = tmp_path / "precision.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.precision", "--recipes=mnist_rnn",
         "--rounds=2", "--epochs=2", "--steps_per_epoch=2",
         f"--shared={tmp_path}", f"--workdir={tmp_path / 'work'}",
         f"--output={output}"],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| mnist_rnn | mixed_bfloat16 |" in done.stdout
    result = json.loads(output.read_text())
    runs = result["runs"]["mnist_rnn"]
    assert [(one["round"], one["precision"], one["ran"]) for one in runs] == [
        (0, "float32", "float32"), (0, "mixed_bfloat16", "mixed_bfloat16"),
        (1, "mixed_bfloat16", "mixed_bfloat16"), (1, "float32", "float32")]
    assert all(len(one["epoch_seconds"]) == 2 for one in runs)
    assert all(0 <= one["result"] <= 1 for one in runs)
    assert [row["precision"] for row in result["rows"]] == [
        "float32", "mixed_bfloat16"]
    assert not os.listdir(tmp_path / "work")  # Runs removed.
