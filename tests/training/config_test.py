"""Tests for zoo.training.config: every TrainConfig field is a flag."""

import dataclasses

import pytest
from absl import flags

from zoo.training import flags as zoo_flags
from zoo.training.config import TrainConfig

FIELDS = [f.name for f in dataclasses.fields(TrainConfig)]


@pytest.fixture
def defined_flags():
    """The shared flags defined into a new FlagValues and parsed."""
    flag_values = flags.FlagValues()
    zoo_flags.define_flags({"workdir": "w"}, flag_values)
    flag_values(["prog"])
    return flag_values


@pytest.mark.parametrize("name", FIELDS)
def test_every_field_is_a_flag_with_the_same_default(defined_flags, name):
    assert name in defined_flags
    default = getattr(TrainConfig, name)
    flag_default = defined_flags[name].default
    # An empty tfds_data_dir flag is None: tensorflow-datasets' own folder.
    assert flag_default == (None if name == "tfds_data_dir" else default)
    assert type(flag_default) is (
        type(None) if name == "tfds_data_dir" else type(default)
    )


def test_flags_round_trip_to_the_default_config(defined_flags):
    assert zoo_flags.config_from_flags(TrainConfig, defined_flags) == TrainConfig()


def test_importing_recipes_defines_no_global_flags():
    # Several recipes must be importable into one process.
    from zoo.recipes import mnist_rnn  # noqa: F401
    from zoo.recipes import sentiment  # noqa: F401

    assert "workdir" not in flags.FLAGS


@pytest.mark.parametrize("recipe", ["mnist_rnn", "sentiment"])
def test_recipe_config_defaults_are_the_recipe_flag_defaults(recipe):
    import importlib

    module = importlib.import_module(f"zoo.recipes.{recipe}")
    flag_values = flags.FlagValues()
    module.define_flags(flag_values)
    flag_values(["prog"])
    config = zoo_flags.config_from_flags(module.Config, flag_values)
    assert config == module.Config()
