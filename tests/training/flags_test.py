"""Tests for zoo.training.flags: definitions, validation, config_from_flags.

Each test defines the flags into its own `FlagValues`, so the global
`absl.flags.FLAGS` is never touched.
"""

import dataclasses

import pytest
from absl import app
from absl import flags

from zoo import cells
from zoo.training import flags as zoo_flags
from zoo.training.config import TrainConfig

REQUIRED = dict(workdir="/tmp/w", data="mnist", export_dir="")


@pytest.fixture
def fresh_flags():
    """A new, empty FlagValues to define the shared flags into."""
    return flags.FlagValues()


def test_define_flags_uses_recipe_defaults(fresh_flags):
    zoo_flags.define_flags(
        dict(REQUIRED, units=7, cell="gru", lr_decay=0.5), fresh_flags
    )
    fresh_flags(["prog"])
    assert fresh_flags.workdir == "/tmp/w"
    assert fresh_flags.data == "mnist"
    assert fresh_flags.units == 7
    assert fresh_flags.cell == "gru"
    assert fresh_flags.lr_decay == 0.5
    assert fresh_flags.epochs == TrainConfig.epochs
    assert fresh_flags.tfds_data_dir is None  # "" means tfds' own folder.


def test_define_flags_requires_a_workdir(fresh_flags):
    with pytest.raises(KeyError, match="workdir"):
        zoo_flags.define_flags({"data": "mnist"}, fresh_flags)


def test_cell_flag_offers_every_registered_cell(fresh_flags):
    zoo_flags.define_flags(REQUIRED, fresh_flags)
    assert fresh_flags["cell"].parser.enum_values == cells.names()


def test_config_from_flags_picks_parsed_values(fresh_flags):
    zoo_flags.define_flags(REQUIRED, fresh_flags)
    remaining = fresh_flags(
        ["prog", "--units=7", "--cell=gru", "--nobidirectional", "--residual",
         "--learning_rate=0.02", "--tfds_data_dir=/data/tfds", "extra"]
    )
    assert remaining == ["prog", "extra"]
    config = zoo_flags.config_from_flags(TrainConfig, fresh_flags)
    assert isinstance(config, TrainConfig)
    assert config.units == 7
    assert config.cell == "gru"
    assert config.bidirectional is False
    assert config.residual is True
    assert config.learning_rate == 0.02
    assert config.tfds_data_dir == "/data/tfds"
    assert config.data == "mnist"
    assert config.epochs == TrainConfig.epochs


def test_config_from_flags_maps_unset_tfds_dir_to_empty(fresh_flags):
    zoo_flags.define_flags(REQUIRED, fresh_flags)
    fresh_flags(["prog"])
    config = zoo_flags.config_from_flags(TrainConfig, fresh_flags)
    assert config.tfds_data_dir == ""


def test_config_from_flags_keeps_defaults_of_fields_without_a_flag(fresh_flags):
    @dataclasses.dataclass
    class RecipeConfig(TrainConfig):
        beam_width: int = 5

    zoo_flags.define_flags(REQUIRED, fresh_flags)
    fresh_flags(["prog", "--units=3"])
    config = zoo_flags.config_from_flags(RecipeConfig, fresh_flags)
    assert (config.beam_width, config.units) == (5, 3)


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
    ],
)
def test_invalid_values_are_rejected(fresh_flags, argument, message):
    zoo_flags.define_flags(REQUIRED, fresh_flags)
    with pytest.raises(flags.IllegalFlagValueError, match=message):
        fresh_flags(["prog", argument])


def test_main_trains_with_the_parsed_config_and_workdir(fresh_flags):
    zoo_flags.define_flags(REQUIRED, fresh_flags)
    fresh_flags(["prog", "--units=7", "--workdir=/tmp/elsewhere"])
    calls = []
    found = zoo_flags.main(
        ["prog"], TrainConfig,
        lambda config, workdir: calls.append((config, workdir)) or {"m": 1},
        flag_values=fresh_flags,
    )
    assert found is None  # app.run would exit with status 1 on a dict.
    (config, workdir), = calls
    assert config.units == 7 and workdir == "/tmp/elsewhere"


def test_main_refuses_positional_arguments(fresh_flags):
    zoo_flags.define_flags(REQUIRED, fresh_flags)
    fresh_flags(["prog"])
    with pytest.raises(app.UsageError,
                       match=r"Unexpected arguments: \['extra'\]"):
        zoo_flags.main(["prog", "extra"], TrainConfig, None,
                       flag_values=fresh_flags)
