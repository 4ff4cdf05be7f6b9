"""Tests for zoo.training.config: every TrainConfig field is a flag."""

import dataclasses
import functools

import pytest
from absl import flags

from zoo.training import flags as zoo_flags
from zoo.training.config import TrainConfig

FIELDS = [f.name for f in dataclasses.fields(TrainConfig)]


@pytest.fixture
def defined_flags(monkeypatch):
    """zoo_flags.define_flags run into a new FlagValues (not absl's global)."""
    flag_values = flags.FlagValues()

    class FlagsInto:
        def __getattr__(self, name):
            attribute = getattr(flags, name)
            if name.startswith("DEFINE"):
                return functools.partial(attribute, flag_values=flag_values)
            return attribute

    monkeypatch.setattr(zoo_flags, "flags", FlagsInto())
    monkeypatch.setattr(zoo_flags, "FLAGS", flag_values)
    zoo_flags.define_flags({"workdir": "w"})
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
    assert zoo_flags.config_from_flags(TrainConfig) == TrainConfig()


def test_global_flags_of_a_recipe_hold_every_field():
    # Importing a recipe defines the shared flags in absl's global FLAGS
    # (once per process, whatever the test order).
    from zoo.recipes import mnist_rnn  # noqa: F401

    missing = [name for name in FIELDS + ["workdir"] if name not in flags.FLAGS]
    assert missing == []
