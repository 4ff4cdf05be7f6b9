"""Mistakes in what a user gives a recipe: its data, workdir or settings.

A recipe run as a program (`zoo.training.flags.run`) prints a `UserError`
as one line, `error: <message>`, and exits with status 2 (`Interrupted`,
Ctrl-C during training, prints its message and exits with 130); `--traceback`
(or the environment variable `ZOO_TRACEBACK=1`) shows its traceback too.
Any other exception is a bug and shows its traceback as usual.

Each error is also the built-in exception a caller would expect (a
`DataError` is a `ValueError`, a `DataNotFoundError` a `FileNotFoundError`),
so code that catches those keeps working. Raise one where a message tells
the user what to change; the message is the whole report, so it names the
file, flag or folder and how to fix it.
"""

import os

# Set to a true value ("1", "yes") to show the traceback of a `UserError`.
TRACEBACK_VARIABLE = "ZOO_TRACEBACK"


class UserError(Exception):
    """A mistake in the data, workdir or settings a user gave."""

    exit_code = 2
    prefix = "error: "


class DataError(UserError, ValueError):
    """Data that cannot be read as the recipe needs it."""


class DataNotFoundError(UserError, FileNotFoundError):
    """`--data` names no file, folder or dataset that can be found."""


class ConfigError(UserError, ValueError):
    """Settings that do not go together, or that this machine cannot do."""


class WorkdirError(UserError, ValueError):
    """A `--workdir` that holds another run, or one that is in use."""


class Interrupted(UserError):
    """The user stopped a run (Ctrl-C); the message says how to resume.

    Exits with status 130, as a shell reports a program ended by SIGINT.
    """

    exit_code = 130
    prefix = ""


def traceback_wanted(flag=False):
    """True if `--traceback` was given or `ZOO_TRACEBACK` is set."""
    value = os.environ.get(TRACEBACK_VARIABLE, "").strip().lower()
    return bool(flag) or value not in ("", "0", "false", "no")


def one_line(error):
    """`error: <message>` of `error`, on one line (an `Interrupted` has
    no "error: ")."""
    message = " ".join(str(error).split()) or type(error).__name__
    return getattr(error, "prefix", "error: ") + message
