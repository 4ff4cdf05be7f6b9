"""absl flags shared by every recipe.

A recipe calls `define_flags(defaults)` at import time with its default
preset (the values of its `recipes/<name>/<default>.flags`), then
`config_from_flags(ConfigClass)` in `main`. Presets are absl flagfiles:
`python -m zoo.recipes.mnist_rnn --flagfile=recipes/mnist_rnn/gru.flags`.
"""

import dataclasses

from absl import flags

from zoo import cells
from zoo.training.config import TrainConfig

FLAGS = flags.FLAGS


def define_flags(defaults):
    """Defines the shared flags with a recipe's `defaults` (a dict).

    `defaults` must give `workdir`, `data` and `export_dir`; any other key
    overrides the generic default of a shared flag of that name.
    """
    d = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    d.update(defaults)
    flags.DEFINE_string(
        "workdir", d["workdir"], "Checkpoints, TensorBoard logs and "
        "metrics.json go here; a rerun with the same workdir resumes."
    )
    flags.DEFINE_string(
        "data", d["data"], "A tensorflow-datasets name, or a path to local "
        "files in the recipe's format."
    )
    flags.DEFINE_string(
        "tfds_data_dir", d["tfds_data_dir"] or None,
        "tensorflow-datasets data folder (default: tfds' own)."
    )
    flags.DEFINE_string(
        "export_dir", d["export_dir"], "SavedModel export root; each run "
        "writes the next integer version below it. Empty: no export."
    )
    flags.DEFINE_integer("epochs", d["epochs"], "Training epochs.", lower_bound=0)
    flags.DEFINE_integer(
        "batch_size", d["batch_size"], "Examples per batch.", lower_bound=1
    )
    flags.DEFINE_float(
        "learning_rate", d["learning_rate"], "Initial Adam learning rate.",
        lower_bound=0.0,
    )
    flags.DEFINE_float(
        "lr_decay", d["lr_decay"], "Exponential decay: the learning rate is "
        "multiplied by this once per epoch (1 = constant).", lower_bound=0.0,
        upper_bound=1.0,
    )
    flags.DEFINE_float(
        "clipnorm", d["clipnorm"], "Clip gradients to this global norm "
        "(0 = no clipping).", lower_bound=0.0,
    )
    flags.DEFINE_enum("cell", d["cell"], cells.names(), "Recurrent cell.")
    flags.DEFINE_integer("units", d["units"], "Units per layer.", lower_bound=1)
    flags.DEFINE_integer(
        "layers", d["layers"], "Stacked recurrent layers.", lower_bound=1
    )
    flags.DEFINE_boolean(
        "bidirectional", d["bidirectional"], "Bidirectional layers."
    )
    flags.DEFINE_boolean(
        "residual", d["residual"], "Residual connections between layers."
    )
    flags.DEFINE_float(
        "dropout", d["dropout"], "Input dropout of each recurrent layer.",
        lower_bound=0.0, upper_bound=0.99,
    )
    flags.DEFINE_float(
        "recurrent_dropout", d["recurrent_dropout"],
        "Recurrent dropout of each recurrent layer.", lower_bound=0.0,
        upper_bound=0.99,
    )
    flags.DEFINE_float(
        "validation_fraction", d["validation_fraction"],
        "Share of the training data held out for validation.",
        lower_bound=0.0, upper_bound=0.5,
    )
    flags.DEFINE_integer("seed", d["seed"], "Random seed.")


def config_from_flags(config_class):
    """An instance of `config_class` whose fields take the flags' values."""
    values = {}
    for field in dataclasses.fields(config_class):
        if field.name in FLAGS:
            value = FLAGS[field.name].value
            values[field.name] = "" if value is None else value
    return config_class(**values)
