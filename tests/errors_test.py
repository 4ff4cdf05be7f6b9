"""Tests for zoo.errors: user mistakes, told apart from bugs."""

import pytest

from zoo import errors


@pytest.mark.parametrize("error, builtin", [
    (errors.DataError, ValueError),
    (errors.DataNotFoundError, FileNotFoundError),
    (errors.ConfigError, ValueError),
    (errors.WorkdirError, ValueError),
])
def test_each_error_is_a_user_error_and_the_builtin_callers_expect(
        error, builtin):
    assert issubclass(error, errors.UserError) and issubclass(error, builtin)
    assert error("x").exit_code == 2


def test_one_line_joins_a_message_onto_one_line():
    assert errors.one_line(errors.DataError("a.tsv: line 3\n  bad\tfield")) == (
        "error: a.tsv: line 3 bad field")
    assert errors.one_line(errors.DataError()) == "error: DataError"


@pytest.mark.parametrize("value, wanted", [
    (None, False), ("", False), ("0", False), ("no", False), ("False", False),
    ("1", True), ("yes", True), ("true", True),
])
def test_traceback_wanted_reads_the_variable(monkeypatch, value, wanted):
    if value is None:
        monkeypatch.delenv(errors.TRACEBACK_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(errors.TRACEBACK_VARIABLE, value)
    assert errors.traceback_wanted() is wanted
    assert errors.traceback_wanted(flag=True) is True
