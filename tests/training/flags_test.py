"""Tests for zoo.training.flags: the flags made from a Config, parsing,
validation and `main`.

Each test defines the flags into its own `FlagValues`, so the global
`absl.flags.FLAGS` is never touched.
"""

import dataclasses
import os
import subprocess
import sys

import pytest
from absl import app
from absl import flags

from zoo import cells
from zoo import errors
from zoo import recipes
from zoo.training import flags as zoo_flags
from zoo.training.config import TrainConfig
from zoo.training.config import setting


@dataclasses.dataclass
class RecipeConfig(TrainConfig):
    WORKDIR = "/tmp/w"

    data: str = "mnist"
    units: int = 7
    beam_width: int = setting(5, "Beams kept.", lower=1)
    mode: str = setting("a", "Which mode.", choices=("a", "b"))
    rate: float = setting(0.5, "A rate.", lower=0.0, upper=1.0)
    fast: bool = setting(False, "Go fast.")


@pytest.fixture
def fresh_flags():
    """A new, empty FlagValues to define the flags into."""
    return flags.FlagValues()


@pytest.fixture
def defined(fresh_flags):
    zoo_flags.define_flags(RecipeConfig, fresh_flags)
    return fresh_flags


def test_define_flags_uses_the_config_defaults(defined):
    defined(["prog"])
    assert defined.workdir == "/tmp/w"
    assert defined.data == "mnist"
    assert defined.units == 7
    assert defined.epochs == TrainConfig.epochs
    assert (defined.beam_width, defined.mode, defined.rate, defined.fast) == (
        5, "a", 0.5, False)
    assert defined.tfds_data_dir == ""


def test_a_redeclared_field_keeps_the_base_help(defined):
    assert defined["units"].help == "Units per layer."
    assert defined["beam_width"].help == "Beams kept."


def test_every_field_is_a_flag_and_every_flag_a_field(defined):
    fields = {f.name for f in dataclasses.fields(RecipeConfig)}
    assert set(defined) == fields | {"workdir", "traceback"}


def test_define_flags_requires_a_workdir(fresh_flags):
    with pytest.raises(ValueError, match=r"TrainConfig.WORKDIR is empty"):
        zoo_flags.define_flags(TrainConfig, fresh_flags)


def test_cell_flag_offers_every_registered_cell(defined):
    assert defined["cell"].parser.enum_values == list(cells.names())


def test_config_from_flags_picks_parsed_values(defined):
    remaining = defined(
        ["prog", "--units=9", "--cell=gru", "--nobidirectional", "--residual",
         "--learning_rate=0.02", "--tfds_data_dir=/data/tfds",
         "--beam_width=3", "--mode=b", "--rate=0.25", "--fast", "extra"]
    )
    assert remaining == ["prog", "extra"]
    config = zoo_flags.config_from_flags(RecipeConfig, defined)
    assert config == RecipeConfig(
        units=9, cell="gru", bidirectional=False, residual=True,
        learning_rate=0.02, tfds_data_dir="/data/tfds", beam_width=3,
        mode="b", rate=0.25, fast=True,
    )


def test_config_from_flags_refuses_flags_of_another_config(fresh_flags):
    @dataclasses.dataclass
    class Other(TrainConfig):
        WORKDIR = "w"

    zoo_flags.define_flags(Other, fresh_flags)
    fresh_flags(["prog"])
    with pytest.raises(ValueError, match=r"RecipeConfig.beam_width has no "
                       r"flag --beam_width: define the flags with "
                       r"define_flags\(RecipeConfig\)"):
        zoo_flags.config_from_flags(RecipeConfig, fresh_flags)


@pytest.mark.parametrize(
    "argument, message",
    [
        ("--cell=transformer", r"flag --cell=transformer: value should be one "
         r"of <gru\|lstm\|peephole_lstm\|simple_rnn>"),
        ("--epochs=-1", r"flag --epochs=-1: -1 is not a non-negative integer"),
        ("--patience=-1", r"flag --patience=-1: -1 is not a non-negative "
         r"integer"),
        ("--steps_per_epoch=-1", r"flag --steps_per_epoch=-1: -1 is not a "
         r"non-negative integer"),
        ("--lr_patience=0", r"flag --lr_patience=0: 0 is not a positive "
         r"integer"),
        ("--units=0", r"flag --units=0: 0 is not a positive integer"),
        ("--batch_size=0", r"flag --batch_size=0: 0 is not a positive integer"),
        ("--lr_decay=1.5", r"flag --lr_decay=1.5: 1.5 is not "),
        ("--dropout=1", r"flag --dropout=1: 1.0 is not "),
        ("--validation_fraction=0.9", r"flag --validation_fraction=0.9: "),
        ("--clipnorm=-1", r"flag --clipnorm=-1: -1.0 is not "),
        ("--strategy=gpu", r"flag --strategy=gpu: value should be one of "
         r"<default\|mirrored\|multi_worker\|tpu>"),
        ("--beam_width=0", r"flag --beam_width=0: 0 is not a positive "
         r"integer"),
        ("--mode=c", r"flag --mode=c: value should be one of <a\|b>"),
        ("--rate=2", r"flag --rate=2: 2.0 is not "),
        ("--units=many", r"flag --units=many: invalid literal"),
    ],
)
def test_invalid_values_are_rejected(defined, argument, message):
    with pytest.raises(flags.IllegalFlagValueError, match=message):
        defined(["prog", argument])


def test_main_trains_with_the_parsed_config_and_workdir(defined):
    defined(["prog", "--units=3", "--workdir=/tmp/elsewhere"])
    calls = []
    found = zoo_flags.main(
        ["prog"], RecipeConfig,
        lambda config, workdir: calls.append((config, workdir)) or {"m": 1},
        flag_values=defined,
    )
    assert found is None  # app.run would exit with status 1 on a dict.
    (config, workdir), = calls
    assert config.units == 3 and workdir == "/tmp/elsewhere"


def test_main_refuses_positional_arguments(defined):
    defined(["prog"])
    with pytest.raises(app.UsageError,
                       match=r"Unexpected arguments: \['extra'\]"):
        zoo_flags.main(["prog", "extra"], RecipeConfig, None,
                       flag_values=defined)


def _raising(error):
    def train_and_evaluate(config, workdir):
        raise error
    return train_and_evaluate


def test_main_prints_a_user_error_as_one_line_and_exits_2(
        defined, capsys, monkeypatch):
    monkeypatch.delenv(errors.TRACEBACK_VARIABLE, raising=False)
    defined(["prog"])
    with pytest.raises(SystemExit) as exit_:
        zoo_flags.main(["prog"], RecipeConfig, _raising(
            errors.DataNotFoundError("no such file or folder: x/y.tsv")),
            flag_values=defined)
    assert exit_.value.code == 2
    captured = capsys.readouterr()
    assert captured.err == "error: no such file or folder: x/y.tsv\n"
    assert captured.out == ""


@pytest.mark.parametrize("how", ["flag", "variable"])
def test_main_shows_a_user_errors_traceback_when_asked(
        defined, monkeypatch, how):
    monkeypatch.delenv(errors.TRACEBACK_VARIABLE, raising=False)
    defined(["prog", "--traceback"] if how == "flag" else ["prog"])
    if how == "variable":
        monkeypatch.setenv(errors.TRACEBACK_VARIABLE, "1")
    with pytest.raises(errors.WorkdirError, match="in use"):
        zoo_flags.main(["prog"], RecipeConfig,
                       _raising(errors.WorkdirError("/w is in use")),
                       flag_values=defined)


def test_main_lets_a_bug_raise(defined):
    defined(["prog"])
    with pytest.raises(ValueError, match="a bug"):
        zoo_flags.main(["prog"], RecipeConfig, _raising(ValueError("a bug")),
                       flag_values=defined)


@pytest.mark.parametrize("name", recipes.names())
def test_a_recipe_given_a_missing_path_says_so_in_one_line(name, tmp_path):
    # The bar of a fresh clone without ../shared: one line, no traceback.
    # A user's shell has no TensorFlow log level set (this process has).
    env = {k: v for k, v in os.environ.items()
           if k not in (errors.TRACEBACK_VARIABLE, "TF_CPP_MIN_LOG_LEVEL")}
    done = subprocess.run(
        [sys.executable, "-m", f"zoo.recipes.{name}",
         "--data=missing/corpus.txt", f"--workdir={tmp_path / 'w'}"],
        capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 2, done.stderr
    # Exactly our one line: not even TensorFlow's start-up banner.
    assert done.stderr == "error: no such file or folder: missing/corpus.txt\n"
    assert done.stdout == ""
