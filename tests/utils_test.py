"""Tests for zoo.utils: every check accepts good values, rejects bad ones."""

import re

import numpy as np
import pytest

from zoo import utils


def _message(name, expected, value):
    """The exact message of a rejection, as a regex for `match`."""
    return re.escape(
        f"Received an invalid value for argument `{name}`, expected "
        f"{expected}, got {value!r}"
    )


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.int32(2)])
def test_check_positive_int_accepts(value):
    result = utils.check_positive_int("units", value)
    assert result == int(value)
    assert type(result) is int


@pytest.mark.parametrize(
    "value", [0, -3, True, False, 2.0, 2.5, "4", None, [4]]
)
def test_check_positive_int_rejects(value):
    with pytest.raises(
        ValueError, match=_message("units", "a positive integer", value)
    ):
        utils.check_positive_int("units", value)


@pytest.mark.parametrize("value", [0, 0.0, 0.25, 0.999, np.float32(0.5)])
def test_check_fraction_accepts(value):
    result = utils.check_fraction("dropout", value)
    assert result == pytest.approx(float(value))
    assert type(result) is float


@pytest.mark.parametrize(
    "value", [1, 1.0, 1.5, -0.1, float("nan"), True, False, "0.5", None]
)
def test_check_fraction_rejects(value):
    with pytest.raises(
        ValueError, match=_message("dropout", "a number in [0, 1)", value)
    ):
        utils.check_fraction("dropout", value)


@pytest.mark.parametrize("value", [1e-6, 0.5, 3, 100.0, np.float64(2.0)])
def test_check_positive_number_accepts(value):
    result = utils.check_positive_number("cell_clip", value)
    assert result == pytest.approx(float(value))
    assert type(result) is float


def test_check_positive_number_none_only_when_allowed():
    assert (
        utils.check_positive_number("cell_clip", None, allow_none=True)
        is None
    )
    with pytest.raises(
        ValueError, match=_message("cell_clip", "a positive number", None)
    ):
        utils.check_positive_number("cell_clip", None)


@pytest.mark.parametrize(
    "value", [0, 0.0, -1, -0.5, float("nan"), True, "3", [3.0]]
)
def test_check_positive_number_rejects(value):
    with pytest.raises(
        ValueError, match=_message("cell_clip", "a positive number", value)
    ):
        utils.check_positive_number("cell_clip", value)
    # With allow_none the message says None would have been fine.
    with pytest.raises(
        ValueError,
        match=_message("cell_clip", "a positive number or None", value),
    ):
        utils.check_positive_number("cell_clip", value, allow_none=True)


CHOICES = ("auto", True, False)


@pytest.mark.parametrize("value", ["auto", True, False])
def test_check_choice_accepts(value):
    assert utils.check_choice("use_fused", value, CHOICES) is value


def test_check_choice_accepts_none_choice():
    choices = ("concat", "sum", None)
    assert utils.check_choice("merge_mode", None, choices) is None
    assert utils.check_choice("merge_mode", "sum", choices) == "sum"


@pytest.mark.parametrize(
    # 1 == True and 0 == False in Python; neither is an allowed choice.
    "value", ["Auto", "yes", 1, 0, 1.0, None],
)
def test_check_choice_rejects(value):
    expected = "one of 'auto', True, False"
    with pytest.raises(
        ValueError, match=_message("use_fused", expected, value)
    ):
        utils.check_choice("use_fused", value, CHOICES)


def test_check_choice_rejects_bool_among_non_bool_choices():
    with pytest.raises(ValueError, match="expected one of 1, 2, got True"):
        utils.check_choice("k", True, (1, 2))
