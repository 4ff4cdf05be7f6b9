"""Tests for zoo.training.config: settings declared once, as fields."""

import dataclasses
import importlib

import pytest
from absl import flags

from zoo import cells
from zoo.training import config as zoo_config
from zoo.training import flags as zoo_flags
from zoo.training.config import TrainConfig
from zoo.training.config import setting

RECIPES = ["mnist_rnn", "sentiment", "tagger", "translate", "poetry"]


def test_settings_resolve_help_bounds_and_choices():
    @dataclasses.dataclass
    class Config(TrainConfig):
        epochs: int = 3
        width: int = setting(8, "How wide.", lower=1, upper=64)

    found = {s.name: s for s in zoo_config.settings(Config)}
    assert list(found)[:3] == ["data", "tfds_data_dir", "export_dir"]
    assert list(found)[-1] == "width"
    # Redeclared with a plain default: the base field's help and bounds.
    assert found["epochs"] == zoo_config.Setting(
        "epochs", int, 3, found["epochs"].help, 0, None, None)
    assert found["epochs"].help.startswith("Most training epochs")
    assert found["width"] == zoo_config.Setting(
        "width", int, 8, "How wide.", 1, 64, None)
    # Choices given as a function are called.
    assert found["cell"].choices == tuple(cells.names())


def test_a_field_without_help_is_refused():
    @dataclasses.dataclass
    class Config(TrainConfig):
        beam_width: int = 5

    with pytest.raises(TypeError, match=r"Config.beam_width has no help: "
                       r"declare it with zoo.training.setting"):
        zoo_config.settings(Config)


def test_a_field_of_another_type_is_refused():
    @dataclasses.dataclass
    class Config(TrainConfig):
        sizes: list = setting(None, "Sizes.")

    with pytest.raises(TypeError, match=r"Config.sizes is a <class 'list'>; "
                       r"a setting is one of str, int, float, bool"):
        zoo_config.settings(Config)


def test_every_train_config_field_has_a_matching_typed_default():
    for s in zoo_config.settings(TrainConfig):
        assert type(s.default) is s.type, s.name
        assert s.help.endswith("."), s.name


def test_importing_recipes_defines_no_global_flags():
    # Several recipes must be importable into one process.
    for recipe in RECIPES:
        importlib.import_module(f"zoo.recipes.{recipe}")
    assert "workdir" not in flags.FLAGS


@pytest.mark.parametrize("recipe", RECIPES)
def test_the_bare_command_is_the_default_config(recipe):
    module = importlib.import_module(f"zoo.recipes.{recipe}")
    flag_values = flags.FlagValues()
    zoo_flags.define_flags(module.Config, flag_values)
    flag_values(["prog"])
    assert zoo_flags.config_from_flags(module.Config, flag_values) == (
        module.Config())
    assert flag_values.workdir == module.Config.WORKDIR


def test_text_config_adds_the_settings_of_token_embeddings():
    found = {s.name: s for s in zoo_config.settings(zoo_config.TextConfig)}
    train = {s.name for s in zoo_config.settings(TrainConfig)}
    assert set(found) - train == {"embedding_dim", "embedding_dropout",
                                  "output_dropout", "bucket"}
    assert found["embedding_dropout"].upper == 0.99
    assert found["bucket"].default is True
