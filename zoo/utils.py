"""Argument checks shared by every zoo constructor.

Each check raises a `ValueError` that names the argument, what was expected
and what was received, so bad arguments fail at the door (house style 3).
"""

import numbers


def _fail(name, expected, value):
    raise ValueError(
        f"Received an invalid value for argument `{name}`, expected "
        f"{expected}, got {value!r}"
    )


def check_positive_int(name, value):
    """Returns `value` if it is an integer > 0, else raises `ValueError`."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value <= 0
    ):
        _fail(name, "a positive integer", value)
    return int(value)


def check_fraction(name, value):
    """Returns `value` if it is a number in [0, 1), else raises `ValueError`."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not 0.0 <= value < 1.0
    ):
        _fail(name, "a number in [0, 1)", value)
    return float(value)


def check_positive_number(name, value, allow_none=False):
    """Returns `value` if it is a number > 0 (or None when allowed)."""
    if value is None and allow_none:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not value > 0
    ):
        expected = "a positive number" + (" or None" if allow_none else "")
        _fail(name, expected, value)
    return float(value)


def _is_choice(value, choice):
    # `1 == True` and `0 == False`: a bool choice matches only that bool.
    if isinstance(value, bool) or isinstance(choice, bool):
        return value is choice
    return value == choice


def check_choice(name, value, choices):
    """Returns `value` if it is one of `choices`, else raises `ValueError`."""
    if not any(_is_choice(value, choice) for choice in choices):
        _fail(name, "one of " + ", ".join(repr(c) for c in choices), value)
    return value
