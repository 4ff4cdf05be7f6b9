"""A recipe's command line, made from its `Config` (`zoo.training.config`).

`define_flags(Config)` defines `--workdir` (default `Config.WORKDIR`),
`--traceback` (see `zoo.errors`) and one flag per field of `Config`, typed,
bounded and documented as the field is. Importing a recipe defines no
flags, so several recipes can be imported into one process (tests do; each
can define into a fresh `flags.FlagValues()`). Presets are absl flagfiles:
`python -m zoo.recipes.mnist_rnn --flagfile=recipes/mnist_rnn/gru.flags`.
A recipe's program is `run(Config, train_and_evaluate)`.
"""

import dataclasses
import functools
import sys

from absl import app
from absl import flags

from zoo import errors
from zoo.training import config as zoo_config

FLAGS = flags.FLAGS


def define_flags(config_class, flag_values=FLAGS):
    """Defines `--workdir` and a flag per field of `config_class`.

    Flags go into `flag_values` (absl's global `FLAGS` by default).

    Raises:
        ValueError: `config_class.WORKDIR` is empty.
        TypeError: A field is not a setting (see `zoo.training.settings`).
    """
    if not getattr(config_class, "WORKDIR", ""):
        raise ValueError(
            f"{config_class.__name__}.WORKDIR is empty: a recipe's Config "
            "names its default --workdir"
        )
    into = dict(flag_values=flag_values)
    flags.DEFINE_string(
        "workdir", config_class.WORKDIR, "Checkpoints, TensorBoard logs and "
        "metrics.json go here; a rerun with the same workdir resumes.", **into
    )
    flags.DEFINE_boolean(
        "traceback", False, "Show the traceback of a mistake in the data, "
        "workdir or settings too, not just its one-line error (also: "
        f"{errors.TRACEBACK_VARIABLE}=1).", **into
    )
    for s in zoo_config.settings(config_class):
        if s.choices is not None:
            flags.DEFINE_enum(s.name, s.default, s.choices, s.help, **into)
        elif s.type is bool:
            flags.DEFINE_boolean(s.name, s.default, s.help, **into)
        elif s.type is int:
            flags.DEFINE_integer(s.name, s.default, s.help,
                                 lower_bound=s.lower, upper_bound=s.upper,
                                 **into)
        elif s.type is float:
            flags.DEFINE_float(s.name, s.default, s.help, lower_bound=s.lower,
                               upper_bound=s.upper, **into)
        else:
            flags.DEFINE_string(s.name, s.default, s.help, **into)


def config_from_flags(config_class, flag_values=FLAGS):
    """An instance of `config_class` whose fields take the flags' values.

    Raises:
        ValueError: A field has no flag in `flag_values` (the flags were
            defined for another class).
    """
    values = {}
    for field in dataclasses.fields(config_class):
        if field.name not in flag_values:
            raise ValueError(
                f"{config_class.__name__}.{field.name} has no flag "
                f"--{field.name}: define the flags with "
                f"define_flags({config_class.__name__})"
            )
        values[field.name] = flag_values[field.name].value
    return config_class(**values)


def main(argv, config_class, train_and_evaluate, flag_values=FLAGS):
    """A recipe's `main`: `train_and_evaluate(config, workdir)` from flags.

    Returns None, so the program exits with status 0. A `zoo.errors.
    UserError` (a mistake in the data, workdir or settings) is printed as
    one line `error: ...` on stderr and exits with its status (2); Ctrl-C
    prints how to resume and exits with 130; `--traceback` or
    `ZOO_TRACEBACK` asks for the traceback instead.

    Raises:
        app.UsageError: Positional arguments (every setting is a flag).
    """
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    config = config_from_flags(config_class, flag_values)
    try:
        # Nothing returned: absl's `app.run` exits with `main`'s return.
        train_and_evaluate(config, flag_values["workdir"].value)
    except (errors.UserError, KeyboardInterrupt) as error:
        if errors.traceback_wanted(flag_values["traceback"].value):
            raise
        if isinstance(error, KeyboardInterrupt):  # Outside training.
            error = errors.Interrupted(
                "interrupted; rerun the same command to resume (finished "
                "epochs and data records are kept)")
        print(errors.one_line(error), file=sys.stderr, flush=True)
        sys.exit(error.exit_code)


def run(config_class, train_and_evaluate):
    """Runs a recipe as a program (`python -m zoo.recipes.<name> --...`).

    Defines the flags of `config_class` into absl's `FLAGS`, parses the
    command line and calls `main`.
    """
    define_flags(config_class)
    # The short usage (`--helpshort`, a wrong argument) lists the flags of
    # the main module: the recipe's flags are defined here, on its behalf.
    for s in zoo_config.settings(config_class):
        FLAGS.register_key_flag_for_module(sys.argv[0], FLAGS[s.name])
    FLAGS.register_key_flag_for_module(sys.argv[0], FLAGS["workdir"])
    app.run(functools.partial(main, config_class=config_class,
                              train_and_evaluate=train_and_evaluate))
