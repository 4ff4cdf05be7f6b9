"""absl flags shared by every recipe.

A recipe's `define_flags(flag_values)` calls `define_flags(defaults)` here
with its default preset (the values of its `recipes/<name>/<default>.flags`)
when it runs as a program, then `config_from_flags(ConfigClass)` in
`main`. Importing a recipe defines no flags, so several recipes can be
imported into one process (tests do; each can define into a fresh
`flags.FlagValues()`). Presets are absl flagfiles:
`python -m zoo.recipes.mnist_rnn --flagfile=recipes/mnist_rnn/gru.flags`.
A recipe's program is `run(define_flags, Config, train_and_evaluate)`.
"""

import dataclasses
import functools

from absl import app
from absl import flags

from zoo import cells
from zoo.training import distribute
from zoo.training.config import TrainConfig

FLAGS = flags.FLAGS


def define_flags(defaults, flag_values=FLAGS):
    """Defines the shared flags with a recipe's `defaults` (a dict).

    `defaults` must give `workdir`, `data` and `export_dir`; any other key
    overrides the generic default of a shared flag of that name. Flags go
    into `flag_values` (absl's global `FLAGS` by default).
    """
    d = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    d.update(defaults)
    into = dict(flag_values=flag_values)
    flags.DEFINE_string(
        "workdir", d["workdir"], "Checkpoints, TensorBoard logs and "
        "metrics.json go here; a rerun with the same workdir resumes.", **into
    )
    flags.DEFINE_string(
        "data", d["data"], "A tensorflow-datasets name, or a path to local "
        "files in the recipe's format.", **into
    )
    flags.DEFINE_string(
        "tfds_data_dir", d["tfds_data_dir"] or None,
        "tensorflow-datasets data folder (default: tfds' own).", **into
    )
    flags.DEFINE_string(
        "export_dir", d["export_dir"], "SavedModel export root; each run "
        "writes the next integer version below it. Empty: no export.", **into
    )
    flags.DEFINE_integer(
        "epochs", d["epochs"], "Most training epochs (training stops sooner "
        "after --patience epochs without improvement).", lower_bound=0,
        **into
    )
    flags.DEFINE_integer(
        "steps_per_epoch", d["steps_per_epoch"], "Optimizer steps between two "
        "validations, over the training data repeated (0 = one pass over "
        "the training data): a budget in steps, the same on any corpus.",
        lower_bound=0, **into
    )
    flags.DEFINE_integer(
        "patience", d["patience"], "Stop after this many epochs without "
        "improvement of the validation metric; the best epoch's weights are "
        "tested and exported (0 = train all --epochs).", lower_bound=0,
        **into
    )
    flags.DEFINE_integer(
        "batch_size", d["batch_size"], "Examples per batch and replica.",
        lower_bound=1, **into
    )
    flags.DEFINE_float(
        "learning_rate", d["learning_rate"], "Initial Adam learning rate.",
        lower_bound=0.0, **into
    )
    flags.DEFINE_float(
        "lr_decay", d["lr_decay"], "The learning rate is multiplied by this "
        "each time the validation metric has not improved for "
        "--lr_patience epochs (1 = constant).", lower_bound=0.0,
        upper_bound=1.0, **into
    )
    flags.DEFINE_integer(
        "lr_patience", d["lr_patience"], "Epochs without improvement of the "
        "validation metric before each cut of the learning rate.",
        lower_bound=1, **into
    )
    flags.DEFINE_float(
        "clipnorm", d["clipnorm"], "Clip gradients to this global norm "
        "(0 = no clipping).", lower_bound=0.0, **into
    )
    flags.DEFINE_enum(
        "cell", d["cell"], cells.names(), "Recurrent cell.", **into
    )
    flags.DEFINE_integer(
        "units", d["units"], "Units per layer.", lower_bound=1, **into
    )
    flags.DEFINE_integer(
        "layers", d["layers"], "Stacked recurrent layers.", lower_bound=1,
        **into
    )
    flags.DEFINE_boolean(
        "bidirectional", d["bidirectional"], "Bidirectional layers.", **into
    )
    flags.DEFINE_boolean(
        "residual", d["residual"], "Residual connections between layers.",
        **into
    )
    flags.DEFINE_float(
        "dropout", d["dropout"], "Input dropout of each recurrent layer.",
        lower_bound=0.0, upper_bound=0.99, **into
    )
    flags.DEFINE_float(
        "recurrent_dropout", d["recurrent_dropout"],
        "Recurrent dropout of each recurrent layer.", lower_bound=0.0,
        upper_bound=0.99, **into
    )
    flags.DEFINE_float(
        "validation_fraction", d["validation_fraction"],
        "Share of the training data held out for validation.",
        lower_bound=0.0, upper_bound=0.5, **into
    )
    flags.DEFINE_integer("seed", d["seed"], "Random seed.", **into)
    flags.DEFINE_enum(
        "strategy", d["strategy"], distribute.STRATEGIES,
        "tf.distribute strategy: default (one device), mirrored (this "
        "machine's GPUs), multi_worker (a cluster from TF_CONFIG) or tpu. "
        "--batch_size is per replica.", **into
    )


def config_from_flags(config_class, flag_values=FLAGS):
    """An instance of `config_class` whose fields take the flags' values."""
    values = {}
    for field in dataclasses.fields(config_class):
        if field.name in flag_values:
            value = flag_values[field.name].value
            values[field.name] = "" if value is None else value
    return config_class(**values)


def main(argv, config_class, train_and_evaluate, flag_values=FLAGS):
    """A recipe's `main`: `train_and_evaluate(config, workdir)` from flags.

    Returns None, so the program exits with status 0.

    Raises:
        app.UsageError: Positional arguments (every setting is a flag).
    """
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    config = config_from_flags(config_class, flag_values)
    # Nothing returned: absl's `app.run` exits with `main`'s return value.
    train_and_evaluate(config, flag_values["workdir"].value)


def run(define_recipe_flags, config_class, train_and_evaluate):
    """Runs a recipe as a program (`python -m zoo.recipes.<name> --...`).

    Defines the recipe's flags into absl's `FLAGS`, parses the command
    line and calls `main`.
    """
    define_recipe_flags()
    app.run(functools.partial(main, config_class=config_class,
                              train_and_evaluate=train_and_evaluate))
